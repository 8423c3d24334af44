//! `gridsense demo` and `gridsense upstream-sim` from before the demo became
//! the separate `gridsense-demo` binary: they print the command that replaces
//! them and exit with status 2.

use std::process::Command;

fn gridsense(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(args)
        .output()
        .expect("run");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn gridsense_demo_points_to_the_demo_binary() {
    let (code, text) = gridsense(&["demo"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("separate binary gridsense-demo"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim() == "cargo run --release -p gridsense-demo"),
        "{text}"
    );
}

#[test]
fn the_old_arguments_are_carried_into_the_new_command() {
    let (code, text) = gridsense(&["demo", "--dir", "/tmp/my demo"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("cargo run --release -p gridsense-demo -- --dir '/tmp/my demo'"),
        "{text}"
    );
    let (code, text) = gridsense(&["upstream-sim", "--broker", "127.0.0.1:1883"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(
            "cargo run --release -p gridsense-demo -- upstream-sim --broker 127.0.0.1:1883"
        ),
        "{text}"
    );
}

//! The `gridsense-demo` binary as a newcomer runs it (README's main
//! command): no arguments, the loop closes and the story says so.

use std::process::Command;

#[test]
fn gridsense_demo_without_arguments_closes_the_loop() {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsense-demo"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run gridsense-demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in [
        "CONFIRMED",
        "the escape door is released",
        "→ district platform",
        "completion notice for",
        "the loop is closed",
    ] {
        assert!(stdout.contains(step), "no {step:?} in the story:\n{stdout}");
    }
}

#[test]
fn upstream_sim_refuses_a_broker_without_a_port() {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsense-demo"))
        .args(["upstream-sim", "--broker", "localhost"])
        .output()
        .expect("run gridsense-demo");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expected HOST:PORT"), "{stderr}");
}

//! `gridsense demo` and `gridsense upstream-sim`, from before the demo
//! became its own binary (`gridsense-demo`): they say where they went.

use std::process::ExitCode;

/// `gridsense demo` and `gridsense upstream-sim` from before the demo became
/// its own binary: says where they went and exits with 2, so the old command
/// teaches the new one. `old` is the subcommand, `args` what followed it.
pub fn moved_to_demo(old: &str, args: &[String]) -> ExitCode {
    let sub = (old != "demo").then_some(old);
    let words: Vec<String> = sub
        .into_iter()
        .chain(args.iter().map(String::as_str))
        .map(shell_word)
        .collect();
    let mut command = String::from("cargo run --release -p gridsense-demo");
    if !words.is_empty() {
        command = format!("{command} -- {}", words.join(" "));
    }
    eprintln!(
        "gridsense {old}: the demo and the district platform simulator are the separate \
         binary gridsense-demo; the production gridsense links no simulator.\n\
         Run it from the source tree with:\n  {command}"
    );
    ExitCode::from(2)
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

//! `gridsense check`: validates a configuration and the profiles it names,
//! with the same validation `gridsense run` does before it starts.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{Problem, Valid, validate};

/// Runs `check`: prints `FILE: ok (...)`, or every problem and exits 2.
pub fn main(path: &Path) -> ExitCode {
    match check(path) {
        Ok(summary) => {
            println!("{}: ok ({summary})", path.display());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            report(&problems);
            ExitCode::from(2)
        }
    }
}

/// Validates a configuration and its profiles directory.
///
/// # Errors
/// Every problem found, each naming its file and line.
pub fn check(path: &Path) -> Result<String, Vec<Problem>> {
    let Valid { config, profiles } = validate::file(path)?;
    Ok(format!(
        "gateway {} at site {}, {} device profiles, {} configured thresholds",
        config.gateway.id,
        config.gateway.site,
        profiles.len(),
        config.rules.thresholds.len()
    ))
}

/// Prints every problem on standard error.
pub fn report(problems: &[Problem]) {
    for p in problems {
        eprintln!("error: {p}");
    }
}

//! `gridsense profiles [FILES]`: list the built-in device profiles or check files.

use std::path::PathBuf;
use std::process::ExitCode;

fn check_profile(f: &std::path::Path) -> Result<(), String> {
    crate::registry::load_file(f).map(|_| ())
}

/// Runs `profiles ...`.
pub fn main(files: &[PathBuf]) -> ExitCode {
    if files.is_empty() {
        for (name, src) in protocol::profile::BUILTIN {
            match protocol::profile::Profile::from_toml(src) {
                Ok(p) => println!("{:<20} {:<18} {}", p.name, p.kind, p.description),
                Err(e) => eprintln!("built-in {name}: {e}"),
            }
        }
        return ExitCode::SUCCESS;
    }
    let mut failed = false;
    for f in files {
        match check_profile(f) {
            Ok(()) => println!("{}: ok", f.display()),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

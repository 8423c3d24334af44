//! The `gridsense` command line. `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::registry::commands as registry;

/// GridSense: community-sensing edge gateway.
#[derive(Debug, Parser)]
#[command(name = "gridsense", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration file and the device profiles it names.
    Check {
        /// Configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate device profile files.
    Profiles {
        /// Profile files (`*.toml`); none: list the built-in profiles.
        files: Vec<PathBuf>,
    },
    /// Describe the compound: buildings, units, floors, rooms, areas.
    Site {
        /// What to do with the site tree.
        #[command(subcommand)]
        cmd: registry::SiteCmd,
    },
    /// Register and list devices.
    Device {
        /// What to do with devices.
        #[command(subcommand)]
        cmd: registry::DeviceCmd,
    },
    /// Manage credentials.
    Creds {
        /// What to do with credentials.
        #[command(subcommand)]
        cmd: registry::CredsCmd,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match check(&config) {
            Ok(summary) => {
                println!("{}: ok ({summary})", config.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("error: {e}");
                }
                ExitCode::from(2)
            }
        },
        Command::Profiles { files } => profiles(&files),
        Command::Site { cmd } => registry::site(cmd),
        Command::Device { cmd } => registry::device(cmd),
        Command::Creds { cmd } => registry::creds(cmd),
    }
}

/// Validates a configuration and its profiles directory.
///
/// # Errors
/// Every problem found, each naming its file and line.
pub fn check(path: &std::path::Path) -> Result<String, Vec<String>> {
    let cfg = Config::load(path).map_err(|e| vec![e.to_string()])?;
    let mut errors = Vec::new();
    let mut count = protocol::profile::BUILTIN.len();
    if let Some(dir) = &cfg.gateway.profiles_dir {
        let dir = path.parent().unwrap_or(std::path::Path::new(".")).join(dir);
        match std::fs::read_dir(&dir) {
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
            Ok(entries) => {
                let mut files: Vec<_> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect();
                files.sort();
                for f in files {
                    match check_profile(&f) {
                        Ok(()) => count += 1,
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(format!(
            "gateway {} at site {}, {count} device profiles",
            cfg.gateway.id, cfg.gateway.site
        ))
    } else {
        Err(errors)
    }
}

fn check_profile(f: &std::path::Path) -> Result<(), String> {
    let src = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
    protocol::profile::Profile::from_toml(&src)
        .map(|_| ())
        .map_err(|e| format!("{}:{}:{}: {}", f.display(), e.line, e.column, e.message))
}

fn profiles(files: &[PathBuf]) -> ExitCode {
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

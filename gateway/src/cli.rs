//! The `gridsense` command line. `main.rs` only calls [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

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
    /// Modbus tools.
    #[command(subcommand)]
    Modbus(ModbusCommand),
}

/// `gridsense modbus ...`.
#[derive(Debug, Subcommand)]
pub enum ModbusCommand {
    /// List the slaves answering on a line.
    Scan {
        /// `tcp:HOST:PORT` or `rtu:PATH[:BAUD[:8E1]]`.
        #[arg(long)]
        line: String,
        /// First unit id asked.
        #[arg(long, default_value_t = 1)]
        first: u8,
        /// Last unit id asked.
        #[arg(long, default_value_t = 247)]
        last: u8,
        /// Holding register read from each unit.
        #[arg(long, default_value_t = 0)]
        address: u16,
        /// How long each unit may take to answer, in ms.
        #[arg(long, default_value_t = 100)]
        timeout_ms: u64,
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
        Command::Modbus(cmd) => modbus(&cmd),
    }
}

fn modbus(cmd: &ModbusCommand) -> ExitCode {
    use crate::sources::modbus::scan;
    let ModbusCommand::Scan {
        line,
        first,
        last,
        address,
        timeout_ms,
    } = cmd;
    let link = match scan::parse_line(line) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --line {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("error: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let timeout = std::time::Duration::from_millis(*timeout_ms);
    let table = protocol::modbus::Table::Holding;
    match rt.block_on(scan::scan(&link, *first..=*last, table, *address, timeout)) {
        Ok(hits) => {
            for h in &hits {
                match h.answer {
                    Ok(v) => println!("unit {:>3}: holding[{address}] = {v}", h.unit),
                    Err(code) => println!("unit {:>3}: answered exception {code:#04x}", h.unit),
                }
            }
            println!("{} unit(s) answered on {line}", hits.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {line}: {e}");
            ExitCode::FAILURE
        }
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

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
    /// Run the gateway until SIGTERM or Ctrl-C.
    Run {
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
        Command::Site { cmd } => registry::site(cmd),
        Command::Device { cmd } => registry::device(cmd),
        Command::Creds { cmd } => registry::creds(cmd),
        Command::Run { config } => run(&config),
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

/// Sets up logging: `RUST_LOG` if set, else info for the gateway. rumqttd
/// logs every ordinary disconnect as an error, so it is off unless asked for
/// (`RUST_LOG=rumqttd=warn`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("gateway=info,gridsense=info,rumqttd=off,warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

fn run(path: &std::path::Path) -> ExitCode {
    init_tracing();
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match crate::app::run_until_signal(&cfg, std::sync::Arc::new(crate::clock::SystemClock))
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Validates a configuration and its profiles directory.
///
/// # Errors
/// Every problem found, each naming its file and line.
pub fn check(path: &std::path::Path) -> Result<String, Vec<String>> {
    let cfg = Config::load(path).map_err(|e| vec![e.to_string()])?;
    let profiles = crate::registry::Profiles::load(cfg.gateway.profiles_dir.as_deref())?;
    let errors: Vec<String> = cfg
        .rules
        .thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.validate(&profiles)
                .err()
                .map(|e| format!("{}: rules.thresholds[{i}]: {e}", path.display()))
        })
        .collect();
    let mut errors = errors;
    if let Some(m) = &cfg.modbus {
        let by_name = profiles
            .iter()
            .map(|(k, p)| (k.to_string(), p.clone()))
            .collect();
        if let Err(e) = crate::sources::modbus::ModbusSource::build(m, &by_name) {
            errors.extend(
                e.problems
                    .into_iter()
                    .map(|p| format!("{}: {p}", path.display())),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(format!(
        "gateway {} at site {}, {} device profiles, {} configured thresholds",
        cfg.gateway.id,
        cfg.gateway.site,
        profiles.len(),
        cfg.rules.thresholds.len()
    ))
}

fn check_profile(f: &std::path::Path) -> Result<(), String> {
    crate::registry::load_file(f).map(|_| ())
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

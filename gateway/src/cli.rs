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
    /// Moved: the demo is the separate `gridsense-demo` binary.
    ///
    /// Prints how to run it and exits with status 2 (this binary links no
    /// simulator).
    #[command(disable_help_flag = true)]
    Demo {
        /// Whatever followed `demo`; passed on in the printed command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
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
    /// Check or export the hash-chained audit table.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Moved: now `gridsense-demo upstream-sim`.
    ///
    /// Prints how to run it and exits with status 2.
    #[command(disable_help_flag = true)]
    UpstreamSim {
        /// Whatever followed `upstream-sim`; passed on in the printed command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
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

/// `gridsense audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain; report the first broken link and exit 1 if there is one.
    Verify {
        /// The gateway's SQLite file.
        #[arg(long)]
        db: PathBuf,
    },
    /// Write the chain as JSON lines for an auditor.
    Export {
        /// The gateway's SQLite file.
        #[arg(long)]
        db: PathBuf,
        /// Output file (`-` for standard output).
        #[arg(long)]
        out: PathBuf,
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
        Command::Demo { args } => moved_to_demo("demo", &args),
        Command::Modbus(cmd) => modbus(&cmd),
        Command::Audit { command } => audit(&command),
        Command::UpstreamSim { args } => moved_to_demo("upstream-sim", &args),
    }
}

fn modbus(cmd: &ModbusCommand) -> ExitCode {
    use modbus::scan;
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
        match crate::app::run_until_signal(
            &cfg,
            path,
            std::sync::Arc::new(crate::clock::SystemClock),
        )
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
    let errors = crate::app::located(path, crate::app::rule_problems(&cfg, &profiles));
    let mut errors = errors;
    if let Some(m) = &cfg.modbus {
        let by_name = profiles
            .iter()
            .map(|(k, p)| (k.to_string(), p.clone()))
            .collect();
        if let Err(e) = modbus::ModbusSource::build(m, &by_name) {
            errors.extend(
                e.problems
                    .into_iter()
                    .map(|p| format!("{}: {p}", path.display())),
            );
        }
    }
    let mut governance = Vec::new();
    if let Err(e) = cfg.orders.validate() {
        governance.extend(e);
    }
    if let Some(Err(e)) = cfg
        .uplink
        .as_ref()
        .map(crate::uplink::UplinkConfig::validate)
    {
        governance.extend(e);
    }
    if let Some(Err(e)) = cfg
        .webhook
        .as_ref()
        .map(crate::orders::WebhookConfig::validate)
    {
        governance.extend(e);
    }
    errors.extend(
        governance
            .into_iter()
            .map(|p| format!("{}: {p}", path.display())),
    );
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

fn open_existing(db: &std::path::Path) -> Result<crate::store::Store, String> {
    crate::store::Store::open_read_only(db).map_err(|e| format!("{}: {e}", db.display()))
}

fn audit(command: &AuditCommand) -> ExitCode {
    let result = match command {
        AuditCommand::Verify { db } => {
            open_existing(db).and_then(|c| match c.verify_audit().map_err(|e| e.to_string())? {
                Ok(v) => {
                    let head = crate::audit::chain::hex(&v.head);
                    println!("{}: ok, {} records, head {head}", db.display(), v.records);
                    Ok(ExitCode::SUCCESS)
                }
                Err(b) => {
                    println!("{}: BROKEN at {b}", db.display());
                    Ok(ExitCode::from(1))
                }
            })
        }
        AuditCommand::Export { db, out } => open_existing(db).and_then(|c| {
            let n = if out.as_os_str() == "-" {
                c.export_audit(&mut std::io::stdout().lock())
            } else {
                let f =
                    std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
                c.export_audit(&mut std::io::BufWriter::new(f))
            };
            let n = n.map_err(|e| e.to_string())?;
            eprintln!("{n} records exported");
            Ok(ExitCode::SUCCESS)
        }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// `gridsense demo` and `gridsense upstream-sim` from before the demo became
/// its own binary: says where they went and exits with 2, so the old command
/// teaches the new one. `old` is the subcommand, `args` what followed it.
fn moved_to_demo(old: &str, args: &[String]) -> ExitCode {
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

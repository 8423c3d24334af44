//! The `gridsense` command line: one file per command group. `main.rs` only
//! calls [`main`].
//!
//! - [`check`]: validate a configuration (the same validation `run` does);
//! - [`doctor`]: check an installation, one line per check;
//! - [`run`]: run the gateway until a signal, reload on SIGHUP;
//! - [`site`], [`device`], [`creds`]: the registry (over [`db`]'s `--db`/`--config`);
//! - [`user`]: the HTTP API's users and tokens;
//! - [`access`]: credentials, visitor passes, door lists;
//! - [`profiles`], [`modbus`], [`audit`]: tools;
//! - [`demo`]: where `demo` and `upstream-sim` went (`gridsense-demo`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod access;
pub mod audit;
pub mod check;
pub mod creds;
pub mod db;
pub mod demo;
pub mod device;
pub mod doctor;
pub mod doctor_check;
pub mod doctor_net;
pub mod modbus;
pub mod profiles;
pub mod run;
pub mod site;
pub mod user;

/// GridSense: community-sensing edge gateway.
#[derive(Debug, Parser)]
#[command(name = "gridsense", version, about)]
pub struct Cli {
    /// Log format: `text` (colour only on a terminal) or `json`
    /// [default: $GRIDSENSE_LOG_FORMAT, else `[log] format`, else text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<crate::log::LogFormat>,
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
    /// Check an installation: configuration, ports, serial lines, disk and
    /// store, clock, uplink, devices never seen. One line per check; exit 0
    /// when every check passes, 1 when one fails.
    Doctor {
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
        cmd: site::SiteCmd,
    },
    /// Register and list devices.
    Device {
        /// What to do with devices.
        #[command(subcommand)]
        cmd: device::DeviceCmd,
    },
    /// Manage credentials.
    Creds {
        /// What to do with credentials.
        #[command(subcommand)]
        cmd: creds::CredsCmd,
    },
    /// Access control: credentials, visitor passes, door lists.
    Access {
        /// What to do.
        #[command(subcommand)]
        cmd: access::AccessCmd,
    },
    /// Users of the HTTP API and console (roles, passwords, tokens).
    User {
        /// What to do with users.
        #[command(subcommand)]
        cmd: user::UserCmd,
    },
    /// Modbus tools.
    #[command(subcommand)]
    Modbus(modbus::ModbusCommand),
    /// Check or export the hash-chained audit table.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        command: audit::AuditCommand,
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

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check::main(&config),
        Command::Profiles { files } => profiles::main(&files),
        Command::Site { cmd } => site::main(cmd),
        Command::Device { cmd } => device::main(cmd),
        Command::Creds { cmd } => creds::main(cmd),
        Command::Run { config } => run::main(&config, cli.log_format),
        Command::Doctor { config } => doctor::main(&config),
        Command::User { cmd } => user::main(cmd),
        Command::Access { cmd } => access::main(cmd),
        Command::Demo { args } => demo::moved_to_demo("demo", &args),
        Command::Modbus(cmd) => modbus::main(&cmd),
        Command::Audit { command } => audit::main(&command),
        Command::UpstreamSim { args } => demo::moved_to_demo("upstream-sim", &args),
    }
}

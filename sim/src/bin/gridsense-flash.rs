//! `gridsense-flash`: provisioning blobs from the gateway's credentials export.
//!
//! ```text
//! gridsense-flash build --devices creds.csv --gateway 192.168.1.10:1883 --out blobs/
//! gridsense-flash verify blobs/smoke-0001.bin
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Provisioning blobs for GridSense nodes.
#[derive(Debug, Parser)]
#[command(name = "gridsense-flash", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Writes OUT/{device}.bin for every device in the CSV.
    Build {
        /// Credentials export: columns device, profile, secret [, fire_zone, location].
        #[arg(long)]
        devices: PathBuf,
        /// The gateway's MQTT address as the nodes reach it, host:port.
        #[arg(long)]
        gateway: String,
        /// Heartbeat interval for every node (default: each profile's own).
        #[arg(long)]
        heartbeat_s: Option<u32>,
        /// Output directory.
        #[arg(long, default_value = "blobs")]
        out: PathBuf,
    },
    /// Reads one blob back and prints it (secret masked).
    Verify {
        /// The blob file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gridsense-flash: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::Build {
            devices,
            gateway,
            heartbeat_s,
            out,
        } => {
            let list = sim::devices::read_csv_file(&devices)
                .map_err(|e| format!("{}: {e}", devices.display()))?;
            let paths = sim::flash::flash_all(&list, &gateway, heartbeat_s, &out)?;
            println!("wrote {} blobs to {}", paths.len(), out.display());
        }
        Cmd::Verify { file } => {
            let blob = sim::flash::verify(&file)?;
            println!("{}: OK (CRC and format checked)\n{blob}", file.display());
        }
    }
    Ok(())
}

//! `gridsense-faults`: a fault-injection suite against the real `gridsense`
//! binary, with an independent checker that knows only the wire contract.
//! See docs/faults.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gridsense_faults::run;

/// Fault injection against `gridsense run`; exit 0 only when nothing acked was lost.
#[derive(Debug, Parser)]
#[command(name = "gridsense-faults", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// SIGKILL at random instants during the burst, restart at once.
    Kill {
        /// How many kills.
        #[arg(long, default_value_t = 20)]
        kills: usize,
        #[command(flatten)]
        common: run::Common,
    },
    /// A power cut at random instants during the burst: SIGKILL, then every
    /// store file back to its last fsync (a preloaded layer kept what the
    /// unsynced writes overwrote), restart at once.
    PowerCut {
        /// How many cuts.
        #[arg(long, default_value_t = 20)]
        cuts: usize,
        #[command(flatten)]
        common: run::Common,
    },
    /// SIGSTOP, hold, SIGCONT, during the burst.
    Stop {
        /// How many stops.
        #[arg(long, default_value_t = 1)]
        stops: usize,
        /// How long each stop holds, ms.
        #[arg(long, default_value_t = 30_000)]
        hold_ms: u64,
        #[command(flatten)]
        common: run::Common,
    },
    /// Cut the uplink's TCP connection (through a proxy), hold, restore.
    UplinkCut {
        /// How many cuts.
        #[arg(long, default_value_t = 1)]
        cuts: usize,
        /// How long each cut holds, ms.
        #[arg(long, default_value_t = 30_000)]
        hold_ms: u64,
        #[command(flatten)]
        common: run::Common,
    },
    /// Fill the store's file system (a small tmpfs; needs root), hold, free it.
    DiskFull {
        /// How many times.
        #[arg(long, default_value_t = 1)]
        fills: usize,
        /// How long the disk stays full, ms.
        #[arg(long, default_value_t = 10_000)]
        hold_ms: u64,
        /// Size of the tmpfs, MiB.
        #[arg(long, default_value_t = 64)]
        size_mib: u64,
        #[command(flatten)]
        common: run::Common,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async {
        let run = async {
            match cli.cmd {
                Cmd::Kill { kills, common } => run::run(&common, run::Fault::Kill, kills).await,
                Cmd::PowerCut { cuts, common } => {
                    run::run(&common, run::Fault::PowerCut, cuts).await
                }
                Cmd::Stop {
                    stops,
                    hold_ms,
                    common,
                } => {
                    let hold = Duration::from_millis(hold_ms);
                    run::run(&common, run::Fault::Stop { hold }, stops).await
                }
                Cmd::UplinkCut {
                    cuts,
                    hold_ms,
                    common,
                } => {
                    let hold = Duration::from_millis(hold_ms);
                    run::run(&common, run::Fault::UplinkCut { hold }, cuts).await
                }
                Cmd::DiskFull {
                    fills,
                    hold_ms,
                    size_mib,
                    mut common,
                } => {
                    let hold = Duration::from_millis(hold_ms);
                    // One lock per fill: each fill raises a fire in a lock zone.
                    common.locks = common.locks.max(fills);
                    run::run(&common, run::Fault::DiskFull { hold, size_mib }, fills).await
                }
            }
        };
        // On SIGINT or SIGTERM the run is dropped, and with it every process it started.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("SIGTERM handler: {e}"))?;
        tokio::select! {
            r = run => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
            _ = term.recv() => Err("terminated".to_owned()),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

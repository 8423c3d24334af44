//! `gridsense-sim`: run a scenario with simulated nodes against a broker.
//!
//! ```text
//! gridsense-sim deploy/scenarios/fire-floor.toml --broker 127.0.0.1:1883 --seed 7
//! gridsense-sim deploy/scenarios/idle-fleet.toml --generate 10000 --heartbeat-s 30 --ramp-s 60
//! gridsense-sim deploy/scenarios/fire-floor.toml --devices creds.csv
//! gridsense-sim deploy/scenarios/rush-hour-cards.toml --devices deploy/devices.creds.csv \
//!     --api 127.0.0.1:8080 --api-token-file installer.token
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sim::runner::{SimOptions, run};
use sim::scenario::{FleetSpec, Scenario};

/// Simulated GridSense nodes (real firmware state machines) against an MQTT broker.
#[derive(Debug, Parser)]
#[command(name = "gridsense-sim", version)]
struct Cli {
    /// Scenario file (TOML); see deploy/scenarios/.
    scenario: PathBuf,
    /// Broker (gateway) address, host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// Seed of every random choice; same seed, same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Device list CSV (the gateway's credentials export); overrides the scenario's fleet.
    #[arg(long, conflicts_with = "generate")]
    devices: Option<PathBuf>,
    /// Generate N nodes (smoke-0001 ...); overrides the scenario's fleet.
    #[arg(long)]
    generate: Option<usize>,
    /// Heartbeat interval of every node, in s (default: each profile's own).
    #[arg(long)]
    heartbeat_s: Option<u32>,
    /// Run this long instead of the scenario's duration, in s.
    #[arg(long)]
    duration_s: Option<f64>,
    /// Spread the connects over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    ramp_s: f64,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5.0)]
    progress_s: f64,
    /// Nodes per task.
    #[arg(long, default_value_t = 250)]
    shard_size: usize,
    /// After the end, wait up to this many seconds for pending acks.
    #[arg(long, default_value_t = 10.0)]
    drain_s: f64,
    /// MQTT keep-alive in s.
    #[arg(long, default_value_t = 60)]
    keep_alive_s: u64,
    /// The gateway's operators' API (plain HTTP), host:port: where the
    /// scenario's revocations go.
    #[arg(long, requires = "api_token_file")]
    api: Option<String>,
    /// A file holding an installer's or admin's bearer token for --api
    /// (`gridsense user token NAME`).
    #[arg(long, requires = "api")]
    api_token_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match start(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gridsense-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let scenario = Scenario::load(&cli.scenario)?;
    let fleet = match (cli.devices, cli.generate, scenario.fleet.clone()) {
        (Some(csv), _, _)
        | (
            None,
            None,
            FleetSpec {
                devices: Some(csv), ..
            },
        ) => sim::devices::read_csv_file(&csv)?,
        (None, Some(n), _)
        | (
            None,
            None,
            FleetSpec {
                generate: Some(n), ..
            },
        ) => sim::devices::generate(n, cli.seed),
        (None, None, _) => {
            return Err(
                "no fleet: give --devices or --generate, or [fleet] in the scenario".into(),
            );
        }
    };
    let secs = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| format!("{what}: {s} is not a duration in seconds"))
    };
    let api = match (cli.api, cli.api_token_file) {
        (Some(addr), Some(file)) => Some(sim::gateway_api::GatewayApi {
            addr,
            token: std::fs::read_to_string(&file)
                .map_err(|e| format!("--api-token-file {}: {e}", file.display()))?
                .trim()
                .to_string(),
        }),
        _ => None,
    };
    let opts = SimOptions {
        api,
        broker: cli.broker,
        seed: cli.seed,
        heartbeat_s: cli.heartbeat_s,
        keep_alive: Duration::from_secs(cli.keep_alive_s.max(5)),
        ramp: secs(cli.ramp_s, "--ramp-s")?,
        progress: secs(cli.progress_s.max(0.1), "--progress-s")?,
        shard_size: cli.shard_size,
        drain: secs(cli.drain_s, "--drain-s")?,
        duration: cli
            .duration_s
            .map(|d| secs(d, "--duration-s"))
            .transpose()?,
        epoch_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            .try_into()?,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c.cancel();
        }
    });
    let summary = run(&scenario, &fleet, &opts, cancel).await?;
    println!("{summary}");
    Ok(if summary.pending == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

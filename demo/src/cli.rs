//! The `gridsense-demo` command line. `main.rs` only calls [`main`].
//!
//! With no subcommand it runs the demo; `upstream-sim` runs the district
//! platform simulator against a broker.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::upstream_sim::{self, SimConfig};

/// GridSense demo: the closed loop on one machine (gateway, district
/// platform and a simulated compound; a fire is confirmed, doors released,
/// an order dispatched and closed).
#[derive(Debug, Parser)]
#[command(
    name = "gridsense-demo",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// The demo's options (no subcommand).
    #[command(flatten)]
    pub demo: DemoArgs,
    /// Something else than the demo.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `gridsense-demo [--dir DIR]`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the demo's files here (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a simulated district grid-management platform against a broker.
    UpstreamSim(SimArgs),
    /// Time-compressed simulations of the real gateway.
    #[command(subcommand)]
    Simulate(SimulateCmd),
}

/// `gridsense-demo simulate ...`
#[derive(Debug, Subcommand)]
pub enum SimulateCmd {
    /// A month of a 1,000-node compound in minutes: the real gateway
    /// (`gridsense run`) on a virtual clock with the fleet simulator and
    /// the district simulator; writes report.json, report.md and SVG plots.
    Month(MonthArgs),
}

/// `gridsense-demo simulate month ...`
#[derive(Debug, clap::Args)]
pub struct MonthArgs {
    /// Seed of every draw.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (the gateway's database stays there too).
    #[arg(long)]
    pub out: PathBuf,
    /// Days to simulate (default: the scenario's, 30).
    #[arg(long)]
    pub days: Option<f64>,
    /// Nodes (default: the scenario's, 1,000).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Month scenario file (default: the shipped deploy/scenarios/month.toml).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The gridsense binary (default: the one next to this binary).
    #[arg(long)]
    pub gateway_bin: Option<PathBuf>,
    /// Virtual ms per real ms while nothing happens (default: the scenario's).
    #[arg(long)]
    pub fast: Option<f64>,
}

/// `gridsense-demo upstream-sim ...`
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// The broker the gateways send orders to, `HOST:PORT`.
    #[arg(long)]
    pub broker: String,
    /// Delay from receipt to `accepted`, ms.
    #[arg(long, default_value_t = 1_000)]
    pub accept_ms: u64,
    /// Delay from `accepted` to `dispatched`, ms.
    #[arg(long, default_value_t = 1_000)]
    pub dispatch_ms: u64,
    /// Delay from `dispatched` to `resolved`, ms.
    #[arg(long, default_value_t = 1_000)]
    pub resolve_ms: u64,
    /// Delay from `resolved` to `closed`, ms.
    #[arg(long, default_value_t = 1_000)]
    pub close_ms: u64,
    /// Every Nth order is late: accepted only once escalated.
    #[arg(long)]
    pub late_every: Option<u32>,
    /// Answer `received` only.
    #[arg(long)]
    pub receipt_only: bool,
    /// MQTT client id.
    #[arg(long, default_value = "upstream-sim")]
    pub client_id: String,
    /// MQTT username (with `--password`).
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// MQTT password.
    #[arg(long, requires = "username")]
    pub password: Option<String>,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => demo(cli.demo.dir),
        Some(Command::UpstreamSim(args)) => upstream_sim(args),
        Some(Command::Simulate(SimulateCmd::Month(a))) => simulate_month(a),
    }
}

fn demo(dir: Option<PathBuf>) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_none() {
        // The story is the output; logs only for what goes wrong.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("error"))
            .try_init();
    } else {
        // As the gateway's own logging (`gridsense run`), since RUST_LOG asks for it.
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("gateway=info,gridsense=info,rumqttd=off,warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .try_init();
    }
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        eprintln!("error: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    match rt.block_on(crate::run(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn simulate_month(a: MonthArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()))
        .try_init();
    let o = crate::month::MonthOptions {
        seed: a.seed,
        out: a.out,
        days: a.days,
        nodes: a.nodes,
        scenario: a.scenario,
        gateway_bin: a.gateway_bin,
        fast: a.fast,
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(crate::month::run(&o)) {
        Ok(r) => {
            println!(
                "closure_rate {:.4} ({}/{} due), false_ticket_share {:.4} ({}/{}), late_orders {}, cards_on_time {}, fires {}, wall {:.0} s; {}",
                r.closure_rate,
                r.closed_due,
                r.due_orders,
                r.false_ticket_share,
                r.false_tickets,
                r.raw_alarm_events,
                r.late_orders,
                r.cards_on_time,
                r.fires.len(),
                r.wall_s,
                o.out.join("report.md").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn upstream_sim(a: SimArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();
    let Some((host, port)) = a
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse().ok()?)))
    else {
        eprintln!("error: --broker: expected HOST:PORT, got {:?}", a.broker);
        return ExitCode::from(2);
    };
    let cfg = SimConfig {
        client_id: a.client_id,
        accept_ms: a.accept_ms,
        dispatch_ms: a.dispatch_ms,
        resolve_ms: a.resolve_ms,
        close_ms: a.close_ms,
        late_every: a.late_every,
        receipt_only: a.receipt_only,
        credentials: a.username.zip(a.password),
        ..SimConfig::new(host, port)
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = CancellationToken::new();
    let s = stop.clone();
    rt.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        s.cancel();
    });
    tracing::info!(broker = %a.broker, "upstream-sim running; Ctrl-C stops it");
    match rt.block_on(upstream_sim::run(cfg, stop)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_is_the_demo_with_its_directory() {
        let cli = Cli::try_parse_from(["gridsense-demo"]).expect("parse");
        assert!(cli.command.is_none() && cli.demo.dir.is_none());
        let cli = Cli::try_parse_from(["gridsense-demo", "--dir", "/tmp/d"]).expect("parse");
        assert_eq!(cli.demo.dir, Some(PathBuf::from("/tmp/d")));
        assert!(cli.command.is_none());
    }

    #[test]
    fn upstream_sim_takes_the_flags_it_took_in_gridsense() {
        let cli = Cli::try_parse_from([
            "gridsense-demo",
            "upstream-sim",
            "--broker",
            "127.0.0.1:1883",
            "--accept-ms",
            "50",
            "--late-every",
            "3",
            "--receipt-only",
            "--client-id",
            "platform",
            "--username",
            "district",
            "--password",
            "secret",
        ])
        .expect("parse");
        let Some(Command::UpstreamSim(a)) = cli.command else {
            panic!("not upstream-sim: {cli:?}");
        };
        assert_eq!(
            (a.broker.as_str(), a.accept_ms, a.dispatch_ms, a.late_every),
            ("127.0.0.1:1883", 50, 1_000, Some(3))
        );
        assert!(a.receipt_only);
        assert_eq!(a.client_id, "platform");
        assert_eq!(
            a.username.zip(a.password),
            Some(("district".into(), "secret".into()))
        );
        assert!(
            Cli::try_parse_from([
                "gridsense-demo",
                "upstream-sim",
                "--broker",
                "h:1",
                "--username",
                "u"
            ])
            .is_err(),
            "a username needs a password"
        );
    }
}

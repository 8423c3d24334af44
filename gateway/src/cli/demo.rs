//! `gridsense demo` (the closed loop on one machine) and `gridsense
//! upstream-sim` (a simulated district platform against a broker).

use std::path::PathBuf;
use std::process::ExitCode;

/// `gridsense upstream-sim ...`
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

/// Runs `demo`.
pub fn demo(dir: Option<PathBuf>) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_none() {
        // The story is the output; logs only for what goes wrong.
        let filter = tracing_subscriber::EnvFilter::new("error");
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    } else {
        super::init_tracing();
    }
    let Ok(rt) = tokio::runtime::Runtime::new() else {
        eprintln!("error: cannot start the runtime");
        return ExitCode::FAILURE;
    };
    match rt.block_on(crate::demo::run(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `upstream-sim`.
pub fn upstream_sim(a: SimArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let Some((host, port)) = a
        .broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse().ok()?)))
    else {
        eprintln!("error: --broker: expected HOST:PORT, got {:?}", a.broker);
        return ExitCode::from(2);
    };
    let cfg = crate::upstream_sim::SimConfig {
        client_id: a.client_id,
        accept_ms: a.accept_ms,
        dispatch_ms: a.dispatch_ms,
        resolve_ms: a.resolve_ms,
        close_ms: a.close_ms,
        late_every: a.late_every,
        receipt_only: a.receipt_only,
        credentials: a.username.zip(a.password),
        ..crate::upstream_sim::SimConfig::new(host, port)
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    rt.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        s.cancel();
    });
    tracing::info!(broker = %a.broker, "upstream-sim running; Ctrl-C stops it");
    match rt.block_on(crate::upstream_sim::run(cfg, stop)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

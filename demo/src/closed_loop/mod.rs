//! `gridsense-demo`: the whole loop on one machine, no external server.
//!
//! It starts a stand-in district broker and the district platform simulator,
//! registers the example compound (`deploy/site.csv`, `deploy/devices.csv`,
//! compiled in), starts the gateway with its embedded broker, and runs the
//! fleet simulator's `demo-fire` scenario with the real firmware state
//! machines: a fire breaks out, detectors confirm it, the escape door is
//! released, a work order goes up, is dispatched and resolved, the gateway
//! closes it and notifies. [`story`] tells it as it happens.

mod story;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use gateway::clock::{SharedClock, SystemClock};
use gateway::config::Config;
use gateway::registry::{self, Profiles};
use gateway::store::Store;

use crate::upstream_sim::{self, SimConfig};

const SITE_CSV: &str = include_str!("../../../deploy/site.csv");
const DEVICES_CSV: &str = include_str!("../../../deploy/devices.csv");
const SCENARIO: &str = include_str!("../../../deploy/scenarios/demo-fire.toml");

/// How long the demo may take before it gives up.
const LIMIT: Duration = Duration::from_secs(90);

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Setting up the compound failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The gateway did not start.
    #[error("gateway: {0}")]
    Start(#[from] gateway::app::StartError),
    /// The loop did not close in time.
    #[error("the loop did not close within {0:?}")]
    Timeout(Duration),
}

fn setup_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

/// Runs the demo in `dir` (a fresh temporary directory when `None`).
///
/// # Errors
/// [`DemoError`] when a part cannot start or the loop does not close.
pub async fn run(dir: Option<PathBuf>) -> Result<(), DemoError> {
    let tmp = tempfile::tempdir().map_err(setup_err)?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(setup_err)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let story = story::Story::new(clock.now_ms());
    story.say("demo", &format!("working directory {}", dir.display()));

    let district = upstream_sim::district_broker("127.0.0.1:0".parse().map_err(setup_err)?)
        .map_err(setup_err)?;
    let stop = CancellationToken::new();
    let mut platform = SimConfig::new("127.0.0.1", district.port());
    (
        platform.accept_ms,
        platform.dispatch_ms,
        platform.resolve_ms,
        platform.close_ms,
    ) = (1_500, 1_500, 2_500, 1_500);
    tokio::spawn(upstream_sim::run(platform, stop.clone()));
    story.say(
        "district",
        &format!("district platform (simulated) on its broker at {district}"),
    );

    let (cfg, admin, creds) = compound(&dir, district.port(), clock.now_ms())?;
    let gw = gateway::app::start(&cfg, clock.clone()).await?;
    story.say(
        "gateway",
        &format!(
            "GridSense gateway gw01 up: MQTT {}, API http://{}",
            gw.mqtt_addr, gw.api_addr
        ),
    );

    let watch = story.watch(gw.mqtt_addr, &admin, district, stop.clone());
    let fleet = fleet(&creds, gw.mqtt_addr, &story, stop.clone())?;
    let closed = tokio::time::timeout(LIMIT, watch).await;
    stop.cancel();
    let _ = fleet.await;
    gw.stop().await;
    match closed {
        Ok(Ok(())) => {
            story.say(
                "demo",
                "the loop is closed: perception → analysis → governance. Bye.",
            );
            Ok(())
        }
        _ => Err(DemoError::Timeout(LIMIT)),
    }
}

/// Writes the configuration and registers the example compound; returns the
/// configuration, the admin password and the credentials file.
fn compound(
    dir: &Path,
    district_port: u16,
    now: u64,
) -> Result<(Config, String, PathBuf), DemoError> {
    let db = dir.join("gridsense.db");
    for f in [
        "gridsense.db",
        "gridsense.db-wal",
        "gridsense.db-shm",
        "devices.creds.csv",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let text = format!(
        "[gateway]\nid = \"gw01\"\nsite = \"lianhua-garden\"\n\
         [mqtt]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n\
         [uplink]\nhost = \"127.0.0.1\"\nport = {district_port}\n",
        db.display()
    );
    let cfg = Config::parse(&text, "demo").map_err(setup_err)?;
    let (site, devices, creds) = (
        dir.join("site.csv"),
        dir.join("devices.csv"),
        dir.join("devices.creds.csv"),
    );
    std::fs::write(&site, SITE_CSV).map_err(setup_err)?;
    std::fs::write(&devices, DEVICES_CSV).map_err(setup_err)?;
    let mut store = Store::open(&db).map_err(setup_err)?;
    registry::import_sites(&mut store, &site).map_err(setup_err)?;
    let profiles = Profiles::load(None).map_err(|e| DemoError::Setup(e.join("; ")))?;
    registry::import_devices(&mut store, &devices, &profiles, &creds, now).map_err(setup_err)?;
    let admin = registry::ensure_admin(&store)
        .map_err(setup_err)?
        .unwrap_or_default();
    Ok((cfg, admin, creds))
}

/// Starts the fleet simulator on the compound's devices.
fn fleet(
    creds: &Path,
    broker: std::net::SocketAddr,
    story: &story::Story,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, DemoError> {
    let scenario = sim::scenario::Scenario::parse("demo-fire.toml", SCENARIO).map_err(setup_err)?;
    let devices = sim::devices::read_csv_file(creds).map_err(setup_err)?;
    story.say(
        "compound",
        &format!(
            "{} simulated nodes connect with their own credentials",
            devices.len()
        ),
    );
    let opts = sim::runner::SimOptions {
        broker: broker.to_string(),
        progress: Duration::from_secs(3600),
        drain: Duration::from_secs(30),
        ..sim::runner::SimOptions::default()
    };
    Ok(tokio::spawn(async move {
        if let Err(e) = sim::runner::run(&scenario, &devices, &opts, stop).await {
            tracing::error!(error = %e, "fleet simulator");
        }
    }))
}

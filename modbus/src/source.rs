//! The Modbus source: builds one poll task per line from the configuration,
//! routes write requests to the line that has the device.

use std::collections::HashMap;
use std::time::Duration;

use protocol::DeviceId;
use protocol::profile::Profile;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{LineConfig, LinkConfig, ModbusConfig};
use crate::event::{ModbusEvent, WriteError, WriteRequest};
use crate::plan::DevicePlan;
use crate::poller::{Line, LineDevice};
use crate::rtu::RtuTransport;
use crate::scheduler::Scheduler;
use crate::stats::StatsHandle;
use crate::tcp::TcpTransport;
use crate::validate::{ConfigError, validate};

/// Write requests queued per line before the router waits.
const LINE_WRITE_QUEUE: usize = 16;

/// A validated Modbus source, ready to [`run`](Self::run).
#[derive(Debug)]
pub struct ModbusSource {
    lines: Vec<(LineConfig, Vec<LineDevice>)>,
    routes: HashMap<DeviceId, usize>,
    stats: StatsHandle,
}

impl ModbusSource {
    /// Checks `cfg` against `profiles` (by profile name) and plans every poll.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem, each naming its field.
    pub fn build(
        cfg: &ModbusConfig,
        profiles: &HashMap<String, Profile>,
    ) -> Result<Self, ConfigError> {
        let problems = validate(cfg, profiles);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let stats = StatsHandle::default();
        let mut routes = HashMap::new();
        let mut lines = Vec::new();
        for (i, line) in cfg.lines.iter().enumerate() {
            let mut devices = Vec::new();
            for dev in &line.devices {
                // `validate` proved the profile exists and has a map.
                let Some(map) = profiles
                    .get(dev.profile.as_str())
                    .and_then(|p| p.modbus.as_ref())
                else {
                    continue;
                };
                routes.insert(dev.device.clone(), i);
                devices.push(LineDevice {
                    device: dev.device.clone(),
                    unit: dev.unit_id,
                    plan: DevicePlan::new(map, line.alarm_poll_divisor),
                    stats: stats.register(dev.device.clone(), i, dev.unit_id),
                });
            }
            lines.push((line.clone(), devices));
        }
        Ok(Self {
            lines,
            routes,
            stats,
        })
    }

    /// Live counters of every device; the handle stays valid while it runs.
    #[must_use]
    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Polls every line until `shutdown`, sending events to `out` and
    /// carrying out `writes`. Returns when every line task has stopped.
    pub async fn run(
        self,
        out: mpsc::Sender<ModbusEvent>,
        mut writes: mpsc::Receiver<WriteRequest>,
        shutdown: CancellationToken,
    ) {
        let mut tasks = JoinSet::new();
        let mut line_tx = Vec::new();
        for (cfg, devices) in self.lines {
            let (tx, rx) = mpsc::channel(LINE_WRITE_QUEUE);
            line_tx.push(tx);
            spawn_line(
                &mut tasks,
                &cfg,
                devices,
                self.stats.clone(),
                out.clone(),
                rx,
                shutdown.clone(),
            );
        }
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                w = writes.recv() => match w {
                    Some(w) => route(&self.routes, &line_tx, w).await,
                    None => { shutdown.cancelled().await; break; }
                },
            }
        }
        drop(line_tx);
        while tasks.join_next().await.is_some() {}
    }
}

async fn route(
    routes: &HashMap<DeviceId, usize>,
    lines: &[mpsc::Sender<WriteRequest>],
    w: WriteRequest,
) {
    match routes.get(&w.device).and_then(|&i| lines.get(i)) {
        Some(tx) => {
            if let Err(mpsc::error::SendError(w)) = tx.send(w).await {
                let _ = w.reply.send(Err(WriteError::Shutdown));
            }
        }
        None => {
            let device = w.device.clone();
            let _ = w.reply.send(Err(WriteError::UnknownDevice(device)));
        }
    }
}

fn spawn_line(
    tasks: &mut JoinSet<()>,
    cfg: &LineConfig,
    devices: Vec<LineDevice>,
    stats: StatsHandle,
    out: mpsc::Sender<ModbusEvent>,
    writes: mpsc::Receiver<WriteRequest>,
    shutdown: CancellationToken,
) {
    let timeout = Duration::from_millis(u64::from(cfg.timeout_ms));
    let late = Duration::from_millis(u64::from(cfg.late_window_ms));
    let sched = Scheduler::new(cfg.backoff, cfg.offline_after);
    match &cfg.link {
        LinkConfig::Tcp { addr } => {
            let t = TcpTransport::new(*addr, timeout);
            let line = Line::new(t, devices, sched, cfg.retries, stats, out);
            tasks.spawn(line.run(writes, shutdown));
        }
        LinkConfig::Rtu(link) => {
            let t = RtuTransport::new(link.clone(), timeout, late);
            let line = Line::new(t, devices, sched, cfg.retries, stats, out);
            tasks.spawn(line.run(writes, shutdown));
        }
    }
}

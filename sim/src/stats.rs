//! Counters shared by every shard, the progress line and the run summary.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters; shards add, the progress task reads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Links up now.
    pub connected: AtomicI64,
    /// Successful MQTT connects (first ones and reconnects).
    pub connects: AtomicU64,
    /// Links lost (broker gone, flap, error).
    pub disconnects: AtomicU64,
    /// Event publishes handed to MQTT, repeats and heartbeats included.
    pub events_sent: AtomicU64,
    /// Acknowledged events published for the first time.
    pub events_new: AtomicU64,
    /// Repeats of an acknowledged-class event (same `seq`).
    pub events_resent: AtomicU64,
    /// Heartbeats published.
    pub heartbeats: AtomicU64,
    /// `evt/ack`s that settled a pending event.
    pub acked: AtomicU64,
    /// Commands received.
    pub commands: AtomicU64,
    /// Messages not published: link down or the client's queue full.
    pub unsent: AtomicU64,
    /// Payloads from the gateway that did not decode.
    pub bad_payloads: AtomicU64,
    /// Nodes restarted by the scenario.
    pub reboots: AtomicU64,
    /// Events still unacknowledged when their node restarted (lost with its RAM).
    pub lost_in_reboot: AtomicU64,
    /// Access events published by doors (repeats included).
    pub access_sent: AtomicU64,
    /// Credentials the gateway revoked when the scenario asked.
    pub revocations: AtomicU64,
    /// Revocations the gateway's API refused or did not answer.
    pub revocations_failed: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`Stats::connected`].
    pub connected: i64,
    /// See [`Stats::connects`].
    pub connects: u64,
    /// See [`Stats::disconnects`].
    pub disconnects: u64,
    /// See [`Stats::events_sent`].
    pub events_sent: u64,
    /// See [`Stats::events_new`].
    pub events_new: u64,
    /// See [`Stats::events_resent`].
    pub events_resent: u64,
    /// See [`Stats::heartbeats`].
    pub heartbeats: u64,
    /// See [`Stats::acked`].
    pub acked: u64,
    /// See [`Stats::commands`].
    pub commands: u64,
    /// See [`Stats::unsent`].
    pub unsent: u64,
    /// See [`Stats::bad_payloads`].
    pub bad_payloads: u64,
    /// See [`Stats::reboots`].
    pub reboots: u64,
    /// See [`Stats::lost_in_reboot`].
    pub lost_in_reboot: u64,
    /// See [`Stats::access_sent`].
    pub access_sent: u64,
    /// See [`Stats::revocations`].
    pub revocations: u64,
    /// See [`Stats::revocations_failed`].
    pub revocations_failed: u64,
}

/// Adds one to a counter.
pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            connected: self.connected.load(Ordering::Relaxed),
            connects: g(&self.connects),
            disconnects: g(&self.disconnects),
            events_sent: g(&self.events_sent),
            events_new: g(&self.events_new),
            events_resent: g(&self.events_resent),
            heartbeats: g(&self.heartbeats),
            acked: g(&self.acked),
            commands: g(&self.commands),
            unsent: g(&self.unsent),
            bad_payloads: g(&self.bad_payloads),
            reboots: g(&self.reboots),
            lost_in_reboot: g(&self.lost_in_reboot),
            access_sent: g(&self.access_sent),
            revocations: g(&self.revocations),
            revocations_failed: g(&self.revocations_failed),
        }
    }
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connected {} (connects {}, drops {}) | events sent {} (new {}, resent {}, heartbeats {}) acked {} | commands {} | unsent {}",
            self.connected,
            self.connects,
            self.disconnects,
            self.events_sent,
            self.events_new,
            self.events_resent,
            self.heartbeats,
            self.acked,
            self.commands,
            self.unsent,
        )?;
        if self.reboots > 0 {
            write!(
                f,
                " | reboots {} (unacked lost {})",
                self.reboots, self.lost_in_reboot
            )?;
        }
        if self.revocations + self.revocations_failed > 0 {
            write!(
                f,
                " | revocations {} (failed {})",
                self.revocations, self.revocations_failed
            )?;
        }
        Ok(())
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Nodes simulated.
    pub nodes: usize,
    /// Devices in the list whose profile has no simulated firmware.
    pub skipped: usize,
    /// Counters at the end.
    pub stats: Snapshot,
    /// Acknowledged-class events still unacknowledged at the end.
    pub pending: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} nodes ({} skipped) in {:.1} s | {} | pending {}",
            self.scenario,
            self.nodes,
            self.skipped,
            self.elapsed.as_secs_f64(),
            self.stats,
            self.pending
        )
    }
}

/// Logs a progress line every `every` until `cancel` fires.
pub async fn progress(
    stats: std::sync::Arc<Stats>,
    every: Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    let start = tokio::time::Instant::now();
    let mut t = tokio::time::interval_at(start + every, every);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = t.tick() => {
                let s = stats.snapshot();
                tracing::info!(target: "gridsense_sim", "t={:>6.1}s {s}", start.elapsed().as_secs_f64());
            }
        }
    }
}

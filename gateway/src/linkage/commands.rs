//! Commands to nodes, their retries and acknowledgements.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::topic::DeviceChannel;
use protocol::{Command, CommandAck, CommandKind, CommandReason, DeviceId, DeviceKind, FieldName};
use tokio::sync::{mpsc, oneshot};

use crate::bus::{Outgoing, Publisher};
use crate::clock::SharedClock;
use crate::registry::Profiles;
use crate::registry::{DeviceInfo, Registry};
use crate::tasks::Tasks;
use modbus::{WriteRequest, WriteValue};

/// What linkage does to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Unlock escape-route locks (fire).
    Release,
    /// Close gas valves (gas).
    CloseValve,
}

/// A device a linkage action drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The device.
    pub device: DeviceId,
    /// The command it gets.
    pub cmd: CommandKind,
    /// For a wired (Modbus) device: the profile output written (`lock`, `valve`).
    pub output: Option<FieldName>,
}

/// Where linkage reaches wired devices, where their outcome is reported, and
/// what runs and times the write loops.
#[derive(Debug, Clone)]
pub struct ModbusLink {
    /// Writes to the Modbus source (confirmed by read-back).
    pub writes: mpsc::Sender<WriteRequest>,
    /// Where finished writes are reported (to be recorded).
    pub records: mpsc::UnboundedSender<LinkageRecord>,
    /// Runs each write loop as a tracked task; its shutdown ends the retries.
    pub tasks: Tasks,
    /// When a write was answered.
    pub clock: SharedClock,
}

pub use crate::store::LinkageRecord;

#[derive(Debug, Clone)]
struct Pending {
    alarm: String,
    device: DeviceId,
    command: Command,
    sent_ms: u64,
    next_ms: u64,
    attempts: u32,
}

/// Writes to a wired device are tried this often before reported failed.
const WRITE_ATTEMPTS: u32 = 5;
/// First retry after this long; doubles up to [`MAX_BACKOFF_MS`].
const FIRST_RETRY_MS: u64 = 500;
/// Longest wait between two tries of a command or a write.
const MAX_BACKOFF_MS: u64 = 5_000;

/// The wait after a command or a write has been tried `attempts` times:
/// doubles with each try, never more than [`MAX_BACKOFF_MS`].
fn retry_delay_ms(attempts: u32) -> u64 {
    (FIRST_RETRY_MS << attempts.min(8)).min(MAX_BACKOFF_MS)
}

/// One write to a wired device's output, tried until it is confirmed.
#[derive(Debug)]
struct WriteJob {
    alarm: String,
    device: DeviceId,
    cmd: CommandKind,
    output: FieldName,
    sent_ms: u64,
}

impl WriteJob {
    /// Tries up to [`WRITE_ATTEMPTS`] times with bounded backoff, then
    /// reports the outcome; gives up (not done) at shutdown.
    async fn run(self, link: ModbusLink) {
        let mut attempts = 0;
        let ok = loop {
            attempts += 1;
            let done = tokio::select! {
                done = self.try_once(&link) => done,
                () = link.tasks.cancelled() => break false,
            };
            if done || attempts >= WRITE_ATTEMPTS {
                break done;
            }
            let wait = Duration::from_millis(retry_delay_ms(attempts));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = link.tasks.cancelled() => break false,
            }
        };
        let _ = link.records.send(LinkageRecord {
            alarm: self.alarm,
            device: self.device,
            cmd: self.cmd,
            sent_ms: self.sent_ms,
            acked_ms: link.clock.now_ms(),
            attempts,
            ok,
        });
    }

    /// One write, confirmed by the source's read-back.
    async fn try_once(&self, link: &ModbusLink) -> bool {
        let (reply, rx) = oneshot::channel();
        let req = WriteRequest {
            device: self.device.clone(),
            output: self.output.clone(),
            value: WriteValue::Bool(true),
            reply,
        };
        link.writes.send(req).await.is_ok() && matches!(rx.await, Ok(Ok(())))
    }
}

/// Linkage state: commands awaiting acknowledgement.
#[derive(Debug)]
pub struct Linkage {
    publisher: Publisher,
    profiles: Arc<Profiles>,
    next_id: u32,
    pending: BTreeMap<u32, Pending>,
    modbus: Option<ModbusLink>,
}

impl Linkage {
    /// Linkage publishing through `publisher`.
    pub fn new(publisher: Publisher, profiles: Arc<Profiles>) -> Self {
        Self {
            publisher,
            profiles,
            next_id: 1,
            pending: BTreeMap::new(),
            modbus: None,
        }
    }

    /// Reaches wired devices through the Modbus source.
    #[must_use]
    pub fn with_modbus(mut self, link: ModbusLink) -> Self {
        self.modbus = Some(link);
        self
    }

    /// The devices `action` drives in `zone` (a fire zone or a site node).
    pub fn targets(&self, registry: &Registry, action: Action, zone: &str) -> Vec<Target> {
        registry
            .devices()
            .filter(|d| {
                d.fire_zone.as_ref().is_some_and(|z| z.as_str() == zone)
                    || d.location.as_str() == zone
            })
            .filter_map(|d| self.target_for(d, action))
            .collect()
    }

    /// What `action` does to `d`: an MQTT command, or for a wired device a
    /// write of its profile's `lock` (release) or `valve` (close) output.
    fn target_for(&self, d: &DeviceInfo, action: Action) -> Option<Target> {
        let profile = self.profiles.get(&d.profile)?;
        let kind = DeviceKind::parse(&profile.kind);
        let (cmd, output) = match action {
            Action::Release
                if kind == Some(DeviceKind::Lock) && (d.escape_route || profile.escape_route) =>
            {
                (CommandKind::Unlock, "lock")
            }
            Action::CloseValve if kind == Some(DeviceKind::Gas) => {
                (CommandKind::ValveClose, "valve")
            }
            _ => return None,
        };
        let wired = profile
            .modbus
            .as_ref()
            .is_some_and(|m| m.outputs.keys().any(|k| k.as_str() == output));
        let output = if wired {
            FieldName::new(output).ok()
        } else {
            None
        };
        Some(Target {
            device: d.id.clone(),
            cmd,
            output,
        })
    }

    /// Sends `targets` their commands now; returns how many were sent.
    pub fn start(&mut self, alarm: &str, action: Action, targets: &[Target], now: u64) -> usize {
        let reason = match action {
            Action::Release => CommandReason::Fire,
            Action::CloseValve => CommandReason::Gas,
        };
        for t in targets {
            if let Some(output) = &t.output {
                self.write(alarm, t, output, now);
                continue;
            }
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let command = Command {
                id,
                cmd: t.cmd,
                reason,
                duration_s: None,
            };
            let p = Pending {
                alarm: alarm.to_string(),
                device: t.device.clone(),
                command,
                sent_ms: now,
                next_ms: now + FIRST_RETRY_MS,
                attempts: 1,
            };
            self.send(&p);
            tracing::info!(alarm, device = %t.device, cmd = %t.cmd, "linkage command sent");
            self.pending.insert(id, p);
        }
        targets.len()
    }

    /// Writes a wired device's output, retrying, and reports the outcome.
    fn write(&self, alarm: &str, t: &Target, output: &FieldName, now: u64) {
        let Some(link) = self.modbus.clone() else {
            tracing::error!(alarm, device = %t.device, "wired linkage target but no Modbus source running");
            return;
        };
        tracing::info!(alarm, device = %t.device, %output, "linkage write sent");
        let job = WriteJob {
            alarm: alarm.to_string(),
            device: t.device.clone(),
            cmd: t.cmd,
            output: output.clone(),
            sent_ms: now,
        };
        link.tasks.clone().spawn("linkage-write", job.run(link));
    }

    fn send(&self, p: &Pending) {
        self.publisher
            .urgent(Outgoing::device(&p.device, DeviceChannel::Cmd, &p.command));
    }

    /// A node answered; returns the finished record if it was ours.
    pub fn on_ack(
        &mut self,
        device: &DeviceId,
        ack: &CommandAck,
        now: u64,
    ) -> Option<LinkageRecord> {
        let p = self.pending.get(&ack.id).filter(|p| &p.device == device)?;
        let record = LinkageRecord {
            alarm: p.alarm.clone(),
            device: p.device.clone(),
            cmd: p.command.cmd,
            sent_ms: p.sent_ms,
            acked_ms: now,
            attempts: p.attempts,
            ok: ack.ok,
        };
        self.pending.remove(&ack.id);
        Some(record)
    }

    /// Repeats every command whose retry time has come.
    pub fn tick(&mut self, now: u64) {
        let due: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            p.attempts += 1;
            p.next_ms = now + retry_delay_ms(p.attempts);
            let p = p.clone();
            tracing::warn!(alarm = %p.alarm, device = %p.device, attempt = p.attempts, "linkage command not acknowledged; repeating");
            self.send(&p);
        }
    }

    /// `device` has just (re)connected: every command it has not
    /// acknowledged goes again now, instead of at its next retry (a lock
    /// that comes back just after a try gets its release at once).
    pub fn on_connected(&mut self, device: &DeviceId, now: u64) {
        let mut again = Vec::new();
        for p in self.pending.values_mut().filter(|p| &p.device == device) {
            p.attempts += 1;
            p.next_ms = now + retry_delay_ms(p.attempts);
            again.push(p.clone());
        }
        for p in again {
            tracing::info!(alarm = %p.alarm, device = %p.device, attempt = p.attempts, "linkage command repeated: the device is back");
            self.send(&p);
        }
    }

    /// Commands still waiting for an acknowledgement.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_and_never_wait_longer_than_the_cap() {
        let waits: Vec<u64> = (1..=5).map(retry_delay_ms).collect();
        assert_eq!(waits, [1000, 2000, 4000, 5000, 5000]);
        for attempts in 0..=u32::from(u8::MAX) {
            assert!(retry_delay_ms(attempts) <= MAX_BACKOFF_MS, "{attempts}");
        }
        let tries_waited: u64 = (1..WRITE_ATTEMPTS).map(retry_delay_ms).sum();
        assert_eq!(
            tries_waited, 12_000,
            "a failed write is reported within 12 s"
        );
    }
}

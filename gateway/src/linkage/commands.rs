//! Commands to nodes, their retries and acknowledgements.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use protocol::topic::DeviceChannel;
use protocol::{Command, CommandAck, CommandKind, CommandReason, DeviceId, DeviceKind, Topic};

use crate::bus::{Outgoing, Publisher};
use crate::registry::Profiles;
use crate::registry::{DeviceInfo, Registry};

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
}

/// A finished (acknowledged or refused) linkage command, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageRecord {
    /// The alarm that caused it.
    pub alarm: String,
    /// The device.
    pub device: DeviceId,
    /// The command.
    pub cmd: CommandKind,
    /// First sent, ms.
    pub sent_ms: u64,
    /// Answered, ms.
    pub acked_ms: u64,
    /// How many times it was sent.
    pub attempts: u32,
    /// Whether the node carried it out.
    pub ok: bool,
}

#[derive(Debug, Clone)]
struct Pending {
    alarm: String,
    device: DeviceId,
    command: Command,
    sent_ms: u64,
    next_ms: u64,
    attempts: u32,
}

/// First retry after this long; doubles up to [`MAX_BACKOFF_MS`].
const FIRST_RETRY_MS: u64 = 500;
const MAX_BACKOFF_MS: u64 = 5_000;

/// Linkage state: commands awaiting acknowledgement.
#[derive(Debug)]
pub struct Linkage {
    publisher: Publisher,
    profiles: Arc<Profiles>,
    next_id: u32,
    pending: BTreeMap<u32, Pending>,
}

impl Linkage {
    /// Linkage publishing through `publisher`.
    pub fn new(publisher: Publisher, profiles: Arc<Profiles>) -> Self {
        Self {
            publisher,
            profiles,
            next_id: 1,
            pending: BTreeMap::new(),
        }
    }

    /// The devices `action` drives in `zone` (a fire zone or a site node).
    pub fn targets(&self, registry: &Registry, action: Action, zone: &str) -> Vec<Target> {
        registry
            .devices()
            .filter(|d| {
                d.fire_zone.as_ref().is_some_and(|z| z.as_str() == zone)
                    || d.location.as_str() == zone
            })
            .filter_map(|d| {
                self.command_for(d, action).map(|cmd| Target {
                    device: d.id.clone(),
                    cmd,
                })
            })
            .collect()
    }

    fn command_for(&self, d: &DeviceInfo, action: Action) -> Option<CommandKind> {
        let profile = self.profiles.get(&d.profile)?;
        let kind = DeviceKind::parse(&profile.kind);
        match action {
            Action::Release
                if kind == Some(DeviceKind::Lock) && (d.escape_route || profile.escape_route) =>
            {
                Some(CommandKind::Unlock)
            }
            Action::CloseValve if kind == Some(DeviceKind::Gas) => Some(CommandKind::ValveClose),
            _ => None,
        }
    }

    /// Sends `targets` their commands now; returns how many were sent.
    pub fn start(&mut self, alarm: &str, action: Action, targets: &[Target], now: u64) -> usize {
        let reason = match action {
            Action::Release => CommandReason::Fire,
            Action::CloseValve => CommandReason::Gas,
        };
        for t in targets {
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

    fn send(&self, p: &Pending) {
        self.publisher.urgent(Outgoing {
            topic: Topic::dev(&p.device, DeviceChannel::Cmd).to_string(),
            payload: Bytes::from(protocol::codec::encode(&p.command)),
            retain: false,
        });
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
            let backoff = (FIRST_RETRY_MS << p.attempts.min(8)).min(MAX_BACKOFF_MS);
            p.next_ms = now + backoff;
            let p = p.clone();
            tracing::warn!(alarm = %p.alarm, device = %p.device, attempt = p.attempts, "linkage command not acknowledged; repeating");
            self.send(&p);
        }
    }

    /// Commands still waiting for an acknowledgement.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

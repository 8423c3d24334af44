//! Access-control door: contact, lock relay and card reader.
//!
//! - **Lock relay** high = locked (an energised maglock: losing power releases
//!   the door, the fail-safe direction for escape routes).
//! - **Credentials** (cards, PINs, QR codes from the reader line): looked up
//!   in the door's [`Credentials`] — a fixed [`AllowList`], or a
//!   [`StoredList`] in non-volatile storage that the gateway replaces by a
//!   chunked sync on the command topic ([`list`]) — and decided by
//!   [`protocol::access::decide`] (revoked, expired, outside its window)
//!   with the node's wall clock, offline as well as online. An allowed one
//!   unlocks for `unlock_ms`; the door relocks when it closes again or the
//!   time runs out. A credential with a validity period or window is refused
//!   while the node has no clock (fail closed). Every decision, and every
//!   forced or held door, is an [`AccessEvent`] on `acc`, kept until the
//!   gateway acknowledges it ([`AccessLog`]).
//! - **Forced open**: the door opens while locked: `alarm` (cause
//!   `door-forced`), `restore` when it closes.
//! - **Held open**: open longer than `held_open_ms` while access is
//!   controlled: `alarm` (cause `door-held`), `restore` when it closes.
//! - **Commands**: `unlock` (for `duration_s`, or until `lock`) and `lock`
//!   are acked. Any command whose reason is `fire` releases the door and
//!   holds it released ([`LockMode::FireRelease`]); only `lock` or `reset`
//!   with reason `operator` end that, and the gateway must send them only
//!   after the fire alarm has cleared (the node cannot sense the fire). Other
//!   commands during a fire release are refused, except `unlock`.

mod card;
pub mod list;
mod log;

use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal_nb::serial::Read;
use protocol::access::{AccessEvent, AccessKind, CredKind, DenyReason, ListChunk, decide};
use protocol::codec::decode_core;
use protocol::{
    Cause, Command, CommandError, CommandKind, CommandReason, DecodeError, DeviceChannel,
    EventKind, EvtAck,
};

pub use card::{AllowList, CARD_ID_LEN, CardId, CardLine, LineReader};
pub use list::{Credentials, ListStoreError, Lookup, StoredList, Unreadable};
pub use log::AccessLog;

use crate::node::{MAX_OUT, Node, NodeCore, Outbound, Outgoing, draft};
use crate::outbox::RetryPolicy;

/// Access events a door keeps until the gateway acknowledges them.
pub const ACCESS_LOG_LEN: usize = 32;
/// How often an unacknowledged access event is repeated, in ms.
pub const ACCESS_RETRY_MS: u32 = 5_000;

/// Most reader bytes consumed per tick.
pub const READER_BYTES_PER_TICK: usize = 64;

/// Timings of a [`DoorController`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorConfig {
    /// How long an allowed card unlocks the door, in ms.
    pub unlock_ms: u32,
    /// How long the door may stand open before `door-held`, in ms.
    pub held_open_ms: u32,
    /// Heartbeat interval, in ms.
    pub heartbeat_ms: u32,
    /// Repeats of unacknowledged events.
    pub retry: RetryPolicy,
}

impl Default for DoorConfig {
    /// 5 s unlock, 30 s held-open limit, 60 s heartbeat.
    fn default() -> Self {
        Self {
            unlock_ms: 5_000,
            held_open_ms: 30_000,
            heartbeat_ms: 60_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// Whether the lock is engaged, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// Engaged; opening the door is forced entry.
    #[default]
    Locked,
    /// Released by a card or command, until the given uptime (ms) or, for
    /// `None`, until a `lock` command.
    Unlocked(Option<u64>),
    /// Released by fire linkage, until an operator's `lock` or `reset`.
    FireRelease,
}

/// A door's externally visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoorStatus {
    /// Lock mode.
    pub mode: LockMode,
    /// The door stands open (contact high).
    pub open: bool,
    /// A forced-open alarm is active.
    pub forced: bool,
    /// A held-open alarm is active.
    pub held: bool,
    /// Allowed cards read.
    pub granted: u32,
    /// Credentials refused (unknown, garbled, revoked, expired, outside window).
    pub denied: u32,
    /// The list version deciding (0: a fixed list, or none synced yet).
    pub list: u32,
}

/// The door controller: contact `C` (high = open), lock relay `L`, card
/// reader `R`, credentials `K` and an outbox of `N` events.
#[derive(Debug)]
pub struct DoorController<C, L, R, K = AllowList<32>, const N: usize = 16> {
    contact: C,
    lock: L,
    reader: R,
    line: LineReader,
    creds: K,
    log: AccessLog<ACCESS_LOG_LEN>,
    cfg: DoorConfig,
    core: NodeCore<N>,
    status: DoorStatus,
    opened_at: Option<u64>,
    /// What the relay was last driven to (`None`: not yet, or the write failed).
    driven: Option<bool>,
}

impl<C: InputPin, L: OutputPin, R: Read<u8>, K: Credentials, const N: usize>
    DoorController<C, L, R, K, N>
{
    /// A locked door; the first tick drives the relay and reads the contact.
    pub fn new(contact: C, lock: L, reader: R, creds: K, cfg: DoorConfig) -> Self {
        let list = creds.active();
        Self {
            contact,
            lock,
            reader,
            line: LineReader::default(),
            creds,
            log: AccessLog::new(ACCESS_RETRY_MS),
            core: NodeCore::with_policy(cfg.retry, cfg.heartbeat_ms),
            cfg,
            status: DoorStatus {
                list,
                ..DoorStatus::default()
            },
            opened_at: None,
            driven: None,
        }
    }

    /// The current state.
    pub const fn status(&self) -> DoorStatus {
        self.status
    }

    /// Shared node state (outbox, clock, boot counter).
    pub const fn core_mut(&mut self) -> &mut NodeCore<N> {
        &mut self.core
    }

    /// The door's credentials (its list store).
    pub const fn credentials(&self) -> &K {
        &self.creds
    }

    /// The door's credentials, to read them (a simulator picking a card).
    pub const fn credentials_mut(&mut self) -> &mut K {
        &mut self.creds
    }

    /// Access events waiting for the gateway's acknowledgement.
    pub const fn access_log(&self) -> &AccessLog<ACCESS_LOG_LEN> {
        &self.log
    }

    /// Hands the door its credentials back (a test's or simulator's reboot).
    pub fn into_credentials(self) -> K {
        self.creds
    }

    fn read_cards(&mut self, now: u64) {
        let mut budget = READER_BYTES_PER_TICK;
        while let Some(line) = self.line.poll(&mut self.reader, &mut budget) {
            match line {
                CardLine::Read(kind, id) => self.present(now, kind, &id),
                CardLine::Garbled => {
                    self.record(now, None, Err(DenyReason::Unknown), self.status.list)
                }
            }
        }
    }

    /// Decides on a credential from the list, offline as well as online.
    fn present(&mut self, now: u64, kind: CredKind, id: &str) {
        let looked = self.creds.lookup(kind, id);
        let Some(found) = self.core.check(now, looked) else {
            return self.record(
                now,
                Some((kind, id)),
                Err(DenyReason::Unknown),
                self.status.list,
            );
        };
        let wall_s = self.core.wall_ms(now).map(|ms| ms / 1_000);
        let verdict = match (found.entry.as_ref(), wall_s) {
            (Some(e), None) if e.from.is_some() || e.until.is_some() || e.win.is_some() => {
                Err(DenyReason::OutsideWindow)
            }
            (e, s) => decide(e, s.unwrap_or(0), found.tz_min),
        };
        self.record(now, Some((kind, id)), verdict, found.list);
        if verdict.is_ok() {
            self.grant(now);
        }
    }

    /// Counts a decision and queues its access event.
    fn record(
        &mut self,
        now: u64,
        cred: Option<(CredKind, &str)>,
        verdict: Result<(), DenyReason>,
        list: u32,
    ) {
        if verdict.is_err() {
            self.status.denied += 1;
        }
        let (kind, reason) = match verdict {
            Ok(()) => (AccessKind::Granted, None),
            Err(r) => (AccessKind::Denied, Some(r)),
        };
        let mut ev = self.access_event(now, kind);
        ev.reason = reason;
        ev.list = list;
        if let Some((k, id)) = cred {
            ev.cred = protocol::access::CredId::new(id).ok();
            ev.cred_kind = Some(k);
        }
        self.log.push(ev);
    }

    fn access_event(&self, now: u64, kind: AccessKind) -> AccessEvent {
        AccessEvent {
            boot: self.core.boot(),
            seq: 0,
            ts: self.core.wall_ms(now),
            kind,
            reason: None,
            cred: None,
            cred_kind: None,
            list: self.status.list,
        }
    }

    fn door_event(&mut self, now: u64, kind: AccessKind) {
        let ev = self.access_event(now, kind);
        self.log.push(ev);
    }

    /// Appends due access events to `out` while it has room.
    fn drain_log(&mut self, now: u64, out: &mut Outbound) {
        while !out.is_full() {
            match self.log.poll(now) {
                Some(ev) => {
                    let _ = out.push(Outgoing::Access(ev));
                }
                None => break,
            }
        }
    }

    /// Takes one part of a list sync; the answer goes first.
    fn list_chunk(&mut self, now: u64, chunk: &ListChunk) -> Outbound {
        let ack = self.creds.sync(chunk);
        self.status.list = self.creds.active();
        let mut out = self.core.finish(now, None);
        out.truncate(MAX_OUT - 1);
        // Room was made by the truncate.
        let _ = out.insert(0, Outgoing::ListAck(ack));
        self.drain_log(now, &mut out);
        out
    }

    fn grant(&mut self, now: u64) {
        self.status.granted += 1;
        if matches!(
            self.status.mode,
            LockMode::Locked | LockMode::Unlocked(Some(_))
        ) {
            self.status.mode = LockMode::Unlocked(Some(now + u64::from(self.cfg.unlock_ms)));
        }
    }

    fn sample_contact(&mut self, now: u64) {
        let read = self.contact.is_high();
        let Some(open) = self.core.check(now, read) else {
            return;
        };
        if open && !self.status.open {
            self.opened_at = Some(now);
            if self.status.mode == LockMode::Locked {
                self.status.forced = true;
                self.core
                    .emit(now, draft(EventKind::Alarm, Some(Cause::DoorForced)));
                self.door_event(now, AccessKind::ForcedOpen);
            }
        } else if !open && self.status.open {
            self.closed(now);
        }
        self.status.open = open;
    }

    fn closed(&mut self, now: u64) {
        self.opened_at = None;
        if core::mem::take(&mut self.status.forced) {
            self.core
                .emit(now, draft(EventKind::Restore, Some(Cause::DoorForced)));
        }
        if core::mem::take(&mut self.status.held) {
            self.core
                .emit(now, draft(EventKind::Restore, Some(Cause::DoorHeld)));
        }
        if matches!(self.status.mode, LockMode::Unlocked(Some(_))) {
            self.status.mode = LockMode::Locked;
        }
    }

    fn check_timers(&mut self, now: u64) {
        if let LockMode::Unlocked(Some(until)) = self.status.mode
            && now >= until
        {
            self.status.mode = LockMode::Locked;
        }
        let free = matches!(
            self.status.mode,
            LockMode::FireRelease | LockMode::Unlocked(None)
        );
        let limit = u64::from(self.cfg.held_open_ms);
        if let Some(at) = self.opened_at
            && !free
            && !self.status.held
            && now >= at + limit
        {
            self.status.held = true;
            self.core
                .emit(now, draft(EventKind::Alarm, Some(Cause::DoorHeld)));
            self.door_event(now, AccessKind::HeldOpen);
        }
    }

    /// Drives the relay to the mode; `false` if the write failed.
    fn drive_lock(&mut self, now: u64) -> bool {
        let want = self.status.mode == LockMode::Locked;
        if self.driven == Some(want) {
            return true;
        }
        let r = if want {
            self.lock.set_high()
        } else {
            self.lock.set_low()
        };
        self.driven = self.core.check(now, r).map(|()| want);
        self.driven.is_some()
    }

    fn run(&mut self, now: u64, cmd: &Command) -> Result<(), CommandError> {
        if cmd.reason == CommandReason::Fire {
            self.status.mode = LockMode::FireRelease;
            return match cmd.cmd {
                CommandKind::Unlock => Ok(()),
                _ => Err(CommandError::Refused),
            };
        }
        let fire = self.status.mode == LockMode::FireRelease;
        let operator = cmd.reason == CommandReason::Operator;
        match cmd.cmd {
            CommandKind::Unlock if fire => {}
            CommandKind::Unlock => {
                let until = cmd.duration_s.map(|s| now + u64::from(s) * 1_000);
                self.status.mode = LockMode::Unlocked(until);
            }
            CommandKind::Lock | CommandKind::Reset if fire && !operator => {
                return Err(CommandError::Refused);
            }
            CommandKind::Lock => self.status.mode = LockMode::Locked,
            CommandKind::Reset => {
                self.core.clear_hw_fault(now);
                if fire {
                    self.status.mode = LockMode::Locked;
                }
            }
            _ if fire => return Err(CommandError::Refused),
            _ => return Err(CommandError::Unsupported),
        }
        Ok(())
    }
}

impl<C: InputPin, L: OutputPin, R: Read<u8>, K: Credentials, const N: usize> Node
    for DoorController<C, L, R, K, N>
{
    fn tick(&mut self, now_ms: u64) -> Outbound {
        self.read_cards(now_ms);
        self.check_timers(now_ms);
        self.sample_contact(now_ms);
        self.drive_lock(now_ms);
        self.core.heartbeat(now_ms);
        let mut out = self.core.finish(now_ms, None);
        self.drain_log(now_ms, &mut out);
        out
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        let mut result = self.run(now_ms, cmd);
        if !self.drive_lock(now_ms) && result.is_ok() {
            result = Err(CommandError::Hardware);
        }
        let mut out = self.core.answer(now_ms, cmd, result);
        self.drain_log(now_ms, &mut out);
        out
    }

    /// As [`Node::receive`], plus list chunks on `cmd` (a payload that is
    /// not a command is tried as a [`ListChunk`]; if it is neither, the
    /// command's decode error is returned) and access event acks on `acc/ack`.
    fn receive(
        &mut self,
        now_ms: u64,
        channel: DeviceChannel,
        payload: &[u8],
    ) -> Result<Outbound, DecodeError> {
        match channel {
            DeviceChannel::Cmd => match decode_core::<Command>(payload) {
                Ok(cmd) => Ok(self.command(now_ms, &cmd)),
                Err(e) => match decode_core::<ListChunk>(payload) {
                    Ok(chunk) => Ok(self.list_chunk(now_ms, &chunk)),
                    Err(_) => Err(e),
                },
            },
            DeviceChannel::EvtAck => {
                self.evt_ack(decode_core::<EvtAck>(payload)?);
                Ok(Outbound::new())
            }
            DeviceChannel::AccAck => {
                let ack = decode_core::<EvtAck>(payload)?;
                self.log.ack(ack, self.core.boot());
                Ok(Outbound::new())
            }
            _ => Ok(Outbound::new()),
        }
    }

    fn evt_ack(&mut self, ack: EvtAck) -> bool {
        self.core.evt_ack(ack)
    }

    fn reconnected(&mut self, now_ms: u64) {
        self.core.reconnected(now_ms);
        self.log.reconnected();
    }
}

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod tests;

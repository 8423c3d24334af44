//! Access-control door: contact, lock relay and card reader.
//!
//! - **Lock relay** high = locked (an energised maglock: losing power releases
//!   the door, the fail-safe direction for escape routes).
//! - **Card**: an allowed card unlocks for `unlock_ms`; the door relocks when
//!   it closes again or the time runs out. Unknown or garbled cards count in
//!   [`DoorStatus::denied`].
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

use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal_nb::serial::Read;
use protocol::{Cause, Command, CommandError, CommandKind, CommandReason, EventKind, EvtAck};

pub use card::{AllowList, CARD_ID_LEN, CardId, CardLine, LineReader};

use crate::node::{Node, NodeCore, Outbound, draft};
use crate::outbox::RetryPolicy;

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
    /// Unknown or garbled cards read.
    pub denied: u32,
}

/// The door controller: contact `C` (high = open), lock relay `L`, card
/// reader `R`, an allow-list of `A` cards and an outbox of `N` events.
#[derive(Debug)]
pub struct DoorController<C, L, R, const A: usize = 32, const N: usize = 16> {
    contact: C,
    lock: L,
    reader: R,
    line: LineReader,
    allow: AllowList<A>,
    cfg: DoorConfig,
    core: NodeCore<N>,
    status: DoorStatus,
    opened_at: Option<u64>,
    /// What the relay was last driven to (`None`: not yet, or the write failed).
    driven: Option<bool>,
}

impl<C: InputPin, L: OutputPin, R: Read<u8>, const A: usize, const N: usize>
    DoorController<C, L, R, A, N>
{
    /// A locked door; the first tick drives the relay and reads the contact.
    pub fn new(contact: C, lock: L, reader: R, allow: AllowList<A>, cfg: DoorConfig) -> Self {
        Self {
            contact,
            lock,
            reader,
            line: LineReader::default(),
            allow,
            core: NodeCore::with_policy(cfg.retry, cfg.heartbeat_ms),
            cfg,
            status: DoorStatus::default(),
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

    fn read_cards(&mut self, now: u64) {
        let mut budget = READER_BYTES_PER_TICK;
        while let Some(line) = self.line.poll(&mut self.reader, &mut budget) {
            match line {
                CardLine::Card(id) if self.allow.allows(&id) => self.grant(now),
                _ => self.status.denied += 1,
            }
        }
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

impl<C: InputPin, L: OutputPin, R: Read<u8>, const A: usize, const N: usize> Node
    for DoorController<C, L, R, A, N>
{
    fn tick(&mut self, now_ms: u64) -> Outbound {
        self.read_cards(now_ms);
        self.check_timers(now_ms);
        self.sample_contact(now_ms);
        self.drive_lock(now_ms);
        self.core.heartbeat(now_ms);
        self.core.finish(now_ms, None)
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        let mut result = self.run(now_ms, cmd);
        if !self.drive_lock(now_ms) && result.is_ok() {
            result = Err(CommandError::Hardware);
        }
        self.core.answer(now_ms, cmd, result)
    }

    fn evt_ack(&mut self, ack: EvtAck) -> bool {
        self.core.evt_ack(ack)
    }

    fn reconnected(&mut self, now_ms: u64) {
        self.core.reconnected(now_ms);
    }
}

#[cfg(test)]
mod tests;

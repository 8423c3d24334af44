//! What every node shares: its outgoing messages, the [`Node`] driving API,
//! and [`NodeCore`] (outbox, heartbeat, clock, battery).

use protocol::access::{AccessEvent, ListAck};
use protocol::codec::{EncodeError, decode_core, encode_core};
use protocol::{
    Cause, Command, CommandAck, CommandError, DecodeError, DeviceChannel, EventKind, EvtAck,
    NodeEvent,
};

use crate::outbox::{Outbox, RetryPolicy};

/// Most messages one call hands back; more wait for the next call.
pub const MAX_OUT: usize = 8;

/// One message the node wants published.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// An event for `gs/v1/dev/{id}/evt`.
    Event(NodeEvent),
    /// An answer for `gs/v1/dev/{id}/cmd/ack`.
    CommandAck(CommandAck),
    /// A door's answer to an allow-list chunk, for `gs/v1/dev/{id}/cmd/ack`.
    ListAck(ListAck),
    /// A door's access event, for `gs/v1/dev/{id}/acc`.
    Access(AccessEvent),
}

impl Outgoing {
    /// The device channel the message goes on.
    pub const fn channel(&self) -> DeviceChannel {
        match self {
            Self::Event(_) => DeviceChannel::Evt,
            Self::CommandAck(_) | Self::ListAck(_) => DeviceChannel::CmdAck,
            Self::Access(_) => DeviceChannel::Acc,
        }
    }

    /// Encodes the payload (JSON) into `buf`; returns the bytes written.
    ///
    /// # Errors
    /// [`EncodeError::BufferFull`] when `buf` is too small (512 bytes always suffice).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Self::Event(e) => encode_core(e, buf),
            Self::CommandAck(a) => encode_core(a, buf),
            Self::ListAck(a) => encode_core(a, buf),
            Self::Access(a) => encode_core(a, buf),
        }
    }
}

/// The messages one call produced, in publishing order.
pub type Outbound = heapless::Vec<Outgoing, MAX_OUT>;

/// An event with no `seq` yet (the outbox assigns it) and no reading.
pub const fn draft(kind: EventKind, cause: Option<Cause>) -> NodeEvent {
    NodeEvent {
        boot: None,
        seq: 0,
        ts: None,
        kind,
        cause,
        value: None,
        battery: None,
        snapshot: None,
    }
}

/// A positive command answer.
pub const fn ack_ok(cmd: &Command) -> CommandAck {
    CommandAck {
        id: cmd.id,
        ok: true,
        error: None,
    }
}

/// A negative command answer.
pub const fn ack_err(cmd: &Command, error: CommandError) -> CommandAck {
    CommandAck {
        id: cmd.id,
        ok: false,
        error: Some(error),
    }
}

/// How a host or a board drives any node: sensors are sampled in
/// [`Node::tick`], messages from the gateway are handed in, and every call
/// returns what to publish. No call blocks or touches a socket.
pub trait Node {
    /// Samples inputs, updates state and outputs; returns due messages.
    fn tick(&mut self, now_ms: u64) -> Outbound;
    /// Carries out a command; the [`CommandAck`] comes first in the result.
    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound;
    /// The gateway committed an event; returns whether it was pending.
    fn evt_ack(&mut self, ack: EvtAck) -> bool;
    /// The link is up again: everything pending is resent at the next call.
    fn reconnected(&mut self, now_ms: u64);

    /// Decodes a payload received on `channel` and handles it.
    ///
    /// # Errors
    /// The [`DecodeError`] of a malformed command or ack (nothing is done).
    // The error carries its detail inline (no allocator); it is returned once
    // per rejected payload, so its size does not matter.
    #[allow(clippy::result_large_err)]
    fn receive(
        &mut self,
        now_ms: u64,
        channel: DeviceChannel,
        payload: &[u8],
    ) -> Result<Outbound, DecodeError> {
        match channel {
            DeviceChannel::Cmd => Ok(self.command(now_ms, &decode_core::<Command>(payload)?)),
            DeviceChannel::EvtAck => {
                self.evt_ack(decode_core::<EvtAck>(payload)?);
                Ok(Outbound::new())
            }
            _ => Ok(Outbound::new()),
        }
    }
}

/// State every node carries: its outbox of `N` events, heartbeat timer,
/// wall clock, last battery reading and boot identity.
#[derive(Debug, Clone)]
pub struct NodeCore<const N: usize> {
    outbox: Outbox<N>,
    /// This boot's counter ([`crate::boot::advance`]); `None`: unknown.
    boot: Option<u32>,
    heartbeat_ms: u32,
    next_heartbeat_ms: u64,
    /// Epoch ms at uptime 0, once the node knows the time.
    epoch_at_zero_ms: Option<u64>,
    battery: Option<u8>,
    /// A pin or relay failed; latched until [`NodeCore::clear_hw_fault`].
    hw_fault: bool,
}

impl<const N: usize> NodeCore<N> {
    /// A core that sends a heartbeat at the first tick and every `heartbeat_ms`.
    pub const fn new(outbox: Outbox<N>, heartbeat_ms: u32) -> Self {
        Self {
            outbox,
            boot: None,
            heartbeat_ms,
            next_heartbeat_ms: 0,
            epoch_at_zero_ms: None,
            battery: None,
            hw_fault: false,
        }
    }

    /// A core with a fresh outbox under `policy`.
    pub const fn with_policy(policy: RetryPolicy, heartbeat_ms: u32) -> Self {
        Self::new(Outbox::new(policy), heartbeat_ms)
    }

    /// Learns the wall clock: uptime `now_ms` is `epoch_ms`. Events carry `ts` from then on.
    pub fn set_clock(&mut self, now_ms: u64, epoch_ms: u64) {
        self.epoch_at_zero_ms = epoch_ms.checked_sub(now_ms);
    }

    /// Wall-clock time at uptime `now_ms`, in ms since the epoch, once known.
    pub const fn wall_ms(&self, now_ms: u64) -> Option<u64> {
        match self.epoch_at_zero_ms {
            Some(z) => Some(z + now_ms),
            None => None,
        }
    }

    /// Sets this boot's counter (from [`crate::boot::advance`] at start-up);
    /// every later event carries it, and acks for another boot are ignored.
    /// `None` (storage failed): events go without one.
    pub fn set_boot(&mut self, boot: Option<u32>) {
        self.boot = boot;
    }

    /// This boot's counter, for the online state.
    pub const fn boot(&self) -> Option<u32> {
        self.boot
    }

    /// Records the battery charge; it is attached to every later event.
    pub fn set_battery(&mut self, percent: Option<u8>) {
        self.battery = percent;
    }

    /// Last battery charge recorded.
    pub const fn battery(&self) -> Option<u8> {
        self.battery
    }

    /// Stamps `event` and queues it. A refused event is counted by the outbox.
    pub fn emit(&mut self, now_ms: u64, mut event: NodeEvent) {
        event.boot = self.boot;
        event.ts = self.epoch_at_zero_ms.map(|z| z + now_ms);
        event.battery = event.battery.or(self.battery);
        let _ = self.outbox.push(now_ms, event);
    }

    /// Queues a heartbeat if one is due.
    pub fn heartbeat(&mut self, now_ms: u64) {
        if now_ms >= self.next_heartbeat_ms {
            self.next_heartbeat_ms = now_ms + u64::from(self.heartbeat_ms.max(1));
            self.emit(now_ms, draft(EventKind::Heartbeat, None));
        }
    }

    /// The answer to `cmd` (ok, or the error `result` names) followed by
    /// every due event that fits: how every node ends [`Node::command`].
    pub fn answer(
        &mut self,
        now_ms: u64,
        cmd: &Command,
        result: Result<(), CommandError>,
    ) -> Outbound {
        let ack = result.map_or_else(|e| ack_err(cmd, e), |()| ack_ok(cmd));
        self.finish(now_ms, Some(ack))
    }

    /// `ack` (if any) followed by every due event that fits.
    pub fn finish(&mut self, now_ms: u64, ack: Option<CommandAck>) -> Outbound {
        let mut out = Outbound::new();
        if let Some(a) = ack {
            let _ = out.push(Outgoing::CommandAck(a));
        }
        while !out.is_full() {
            match self.outbox.poll(now_ms) {
                Some(e) => {
                    let _ = out.push(Outgoing::Event(e));
                }
                None => break,
            }
        }
        out
    }

    /// Passes `r` through; an error raises a `fault` (cause `hardware`) once.
    pub fn check<T, E>(&mut self, now_ms: u64, r: Result<T, E>) -> Option<T> {
        if r.is_err() && !self.hw_fault {
            self.hw_fault = true;
            self.emit(now_ms, draft(EventKind::Fault, Some(Cause::Hardware)));
        }
        r.ok()
    }

    /// Whether a pin or relay has failed since the last reset.
    pub const fn hw_fault(&self) -> bool {
        self.hw_fault
    }

    /// Clears a latched hardware fault (on `reset`), reporting the restore.
    pub fn clear_hw_fault(&mut self, now_ms: u64) {
        if core::mem::take(&mut self.hw_fault) {
            self.emit(now_ms, draft(EventKind::Restore, Some(Cause::Hardware)));
        }
    }

    /// See [`Node::evt_ack`].
    pub fn evt_ack(&mut self, ack: EvtAck) -> bool {
        ack.is_for_boot(self.boot) && self.outbox.ack(ack.seq)
    }

    /// See [`Node::reconnected`].
    pub fn reconnected(&mut self, now_ms: u64) {
        self.outbox.reconnected(now_ms);
    }

    /// The outbox, for inspection (pending count, last seq, drops).
    pub const fn outbox(&self) -> &Outbox<N> {
        &self.outbox
    }
}

#[cfg(test)]
mod tests;

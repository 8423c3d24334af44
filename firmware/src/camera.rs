//! Camera event source: turns a camera's video analytics into events that
//! carry a snapshot reference (the image stays on the camera or its NVR).
//!
//! - **Intrusion**: each detection reports `alarm` (cause `intrusion`) with
//!   its snapshot, then further detections are ignored for `intrusion_cooldown_ms`.
//! - **Fire lane blocked**: the lane must be seen blocked for
//!   `fire_lane_confirm_ms` without a clear frame (a car stopping briefly is
//!   not a blocked lane); then `alarm` (cause `fire-lane-blocked`) with the
//!   snapshot of the confirming frame; the next clear frame reports `restore`.
//!
//! Runs wherever the analytics do (a host next to the NVR, or the simulator).

use protocol::SnapshotRef;
use protocol::ident::IdentError;
use protocol::{Cause, Command, CommandError, CommandKind, EventKind, EvtAck};

use crate::node::{Node, NodeCore, Outbound, draft};
use crate::outbox::RetryPolicy;

/// Timings of a [`CameraSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraConfig {
    /// Quiet time after an intrusion report, in ms.
    pub intrusion_cooldown_ms: u32,
    /// How long the fire lane must stay blocked before the alarm, in ms.
    pub fire_lane_confirm_ms: u32,
    /// Heartbeat interval, in ms.
    pub heartbeat_ms: u32,
    /// Repeats of unacknowledged events.
    pub retry: RetryPolicy,
}

impl Default for CameraConfig {
    /// 60 s intrusion cooldown, 120 s fire-lane confirmation, 60 s heartbeat.
    fn default() -> Self {
        Self {
            intrusion_cooldown_ms: 60_000,
            fire_lane_confirm_ms: 120_000,
            heartbeat_ms: 60_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// The fire lane as the analytics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaneState {
    /// Clear.
    #[default]
    Clear,
    /// Blocked since this uptime (ms), not yet confirmed.
    Seen(u64),
    /// Blocked and reported.
    Blocked,
}

/// Events from one camera, with an outbox of `N` events.
#[derive(Debug)]
pub struct CameraSource<const N: usize = 16> {
    cfg: CameraConfig,
    core: NodeCore<N>,
    quiet_until: u64,
    lane: LaneState,
}

impl<const N: usize> CameraSource<N> {
    /// A source with a clear lane and no recent intrusion.
    pub const fn new(cfg: CameraConfig) -> Self {
        Self {
            core: NodeCore::with_policy(cfg.retry, cfg.heartbeat_ms),
            cfg,
            quiet_until: 0,
            lane: LaneState::Clear,
        }
    }

    /// The fire lane's state.
    pub const fn lane(&self) -> LaneState {
        self.lane
    }

    /// Shared node state (outbox, clock, boot counter).
    pub const fn core_mut(&mut self) -> &mut NodeCore<N> {
        &mut self.core
    }

    /// The analytics detected an intrusion in the frame `snapshot`.
    ///
    /// # Errors
    /// [`IdentError`] if `snapshot` is not a valid reference (nothing is reported).
    pub fn intrusion(&mut self, now_ms: u64, snapshot: &str) -> Result<(), IdentError> {
        let snap = SnapshotRef::new(snapshot)?;
        if now_ms >= self.quiet_until {
            self.quiet_until = now_ms + u64::from(self.cfg.intrusion_cooldown_ms);
            self.report(now_ms, EventKind::Alarm, Cause::Intrusion, Some(snap));
        }
        Ok(())
    }

    /// The analytics looked at the fire lane in frame `snapshot`.
    ///
    /// # Errors
    /// [`IdentError`] if `snapshot` is not a valid reference (the frame is ignored).
    pub fn fire_lane(
        &mut self,
        now_ms: u64,
        blocked: bool,
        snapshot: &str,
    ) -> Result<(), IdentError> {
        let snap = SnapshotRef::new(snapshot)?;
        self.lane = match (self.lane, blocked) {
            (LaneState::Clear, true) => LaneState::Seen(now_ms),
            (LaneState::Seen(since), true) => {
                if now_ms.saturating_sub(since) < u64::from(self.cfg.fire_lane_confirm_ms) {
                    LaneState::Seen(since)
                } else {
                    self.report(now_ms, EventKind::Alarm, Cause::FireLaneBlocked, Some(snap));
                    LaneState::Blocked
                }
            }
            (LaneState::Blocked, true) => LaneState::Blocked,
            (LaneState::Blocked, false) => {
                self.report(
                    now_ms,
                    EventKind::Restore,
                    Cause::FireLaneBlocked,
                    Some(snap),
                );
                LaneState::Clear
            }
            (_, false) => LaneState::Clear,
        };
        Ok(())
    }

    fn report(&mut self, now: u64, kind: EventKind, cause: Cause, snapshot: Option<SnapshotRef>) {
        let mut e = draft(kind, Some(cause));
        e.snapshot = snapshot;
        self.core.emit(now, e);
    }
}

impl<const N: usize> Node for CameraSource<N> {
    fn tick(&mut self, now_ms: u64) -> Outbound {
        self.core.heartbeat(now_ms);
        self.core.finish(now_ms, None)
    }

    fn command(&mut self, now_ms: u64, cmd: &Command) -> Outbound {
        let result = if cmd.cmd == CommandKind::Reset {
            self.core.clear_hw_fault(now_ms);
            Ok(())
        } else {
            Err(CommandError::Unsupported)
        };
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
mod tests {
    use protocol::CommandReason;

    use super::*;
    use crate::test_support::{ack, events, kinds};

    fn cam() -> CameraSource<8> {
        let mut c = CameraSource::new(CameraConfig::default());
        assert_eq!(events(&c.tick(0))[0].kind, EventKind::Heartbeat);
        c
    }

    /// Events at `now` (heartbeats left out), acknowledged.
    fn drain(c: &mut CameraSource<8>, now: u64) -> Vec<protocol::NodeEvent> {
        let mut evs = events(&c.tick(now));
        evs.retain(|e| e.kind != EventKind::Heartbeat);
        for e in &evs {
            c.evt_ack(EvtAck::of(e));
        }
        evs
    }

    #[test]
    fn intrusion_reports_its_snapshot_then_keeps_quiet_for_the_cooldown() {
        let mut c = cam();
        c.intrusion(1_000, "cam3-20261123-0001").unwrap();
        let evs = drain(&mut c, 1_000);
        assert_eq!(
            (evs[0].kind, evs[0].cause),
            (EventKind::Alarm, Some(Cause::Intrusion))
        );
        assert_eq!(evs[0].snapshot.as_deref(), Some("cam3-20261123-0001"));
        c.intrusion(30_000, "cam3-20261123-0002").unwrap();
        assert!(drain(&mut c, 30_000).is_empty());
        c.intrusion(61_000, "cam3-20261123-0003").unwrap();
        assert_eq!(
            drain(&mut c, 61_000)[0].snapshot.as_deref(),
            Some("cam3-20261123-0003")
        );
    }

    #[test]
    fn a_fire_lane_must_stay_blocked_to_alarm_and_restores_when_clear() {
        let mut c = cam();
        c.fire_lane(1_000, true, "f1").unwrap();
        c.fire_lane(60_000, false, "f2").unwrap();
        c.fire_lane(61_000, true, "f3").unwrap();
        c.fire_lane(180_999, true, "f4").unwrap();
        assert_eq!(c.lane(), LaneState::Seen(61_000));
        assert!(
            drain(&mut c, 180_999).is_empty(),
            "a brief stop is not a blocked lane"
        );
        c.fire_lane(181_000, true, "f5").unwrap();
        let evs = drain(&mut c, 181_000);
        assert_eq!(
            (evs[0].cause, evs[0].snapshot.as_deref()),
            (Some(Cause::FireLaneBlocked), Some("f5"))
        );
        c.fire_lane(200_000, true, "f6").unwrap();
        assert!(drain(&mut c, 200_000).is_empty(), "reported once");
        c.fire_lane(300_000, false, "f7").unwrap();
        let evs = drain(&mut c, 300_000);
        assert_eq!(
            (evs[0].kind, evs[0].snapshot.as_deref()),
            (EventKind::Restore, Some("f7"))
        );
        assert_eq!(c.lane(), LaneState::Clear);
    }

    #[test]
    fn bad_snapshot_references_are_rejected_without_an_event() {
        let mut c = cam();
        assert!(c.intrusion(1_000, "../etc/passwd").is_err());
        assert!(c.fire_lane(1_000, true, "").is_err());
        assert_eq!(c.lane(), LaneState::Clear);
        assert!(kinds(&c.tick(1_000)).is_empty());
    }

    #[test]
    fn only_reset_is_supported() {
        let mut c = cam();
        let cmd = |cmd| Command {
            id: 1,
            cmd,
            reason: CommandReason::Operator,
            duration_s: None,
        };
        assert!(ack(&c.command(0, &cmd(CommandKind::Reset))).unwrap().ok);
        let out = c.command(0, &cmd(CommandKind::Unlock));
        assert_eq!(ack(&out).unwrap().error, Some(CommandError::Unsupported));
        c.reconnected(0);
    }
}

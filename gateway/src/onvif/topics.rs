//! What a camera's notification means to the gateway: its topic (ONVIF
//! Core, appendix "Topic tree"; Profile S/T analytics) mapped to a
//! camera event, or to motion, which is a reading, not an alarm.
//!
//! | topic | data item | gateway |
//! |---|---|---|
//! | `RuleEngine/FieldDetector/ObjectsInside` | `IsInside` | `alarm` / `restore`, cause `intrusion` |
//! | `RuleEngine/LineDetector/Crossed` | (momentary) | `alarm`, cause `intrusion` |
//! | `VideoSource/GlobalSceneChange/*` | `State` | `tamper` / `restore` (cause `tamper`) |
//! | `VideoSource/SignalLoss` | `State` | `tamper` / `restore` (cause `tamper`) |
//! | `VideoSource/MotionAlarm` | `State` | telemetry `motion` 1 / 0 |
//! | `RuleEngine/CellMotionDetector/Motion` | `IsMotion` | telemetry `motion` 1 / 0 |
//!
//! A property's `Initialized` message (sent when a subscription starts)
//! reports a condition already present; one saying "not present" is no news
//! and is skipped.

use protocol::{Cause, EventKind};

use super::parse::Notification;

/// What a notification becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A camera event on the path of a camera node's `evt`.
    Event {
        /// Its type.
        kind: EventKind,
        /// What was sensed.
        cause: Cause,
    },
    /// Motion began (`true`) or ended: the camera's `motion` reading.
    Motion(bool),
}

/// The signal of `n`, if its topic is one the gateway maps.
pub fn classify(n: &Notification) -> Option<Signal> {
    let topic = n.topic.as_str();
    let state = |item: &str| n.data(item).and_then(truth);
    let signal = match topic {
        "RuleEngine/FieldDetector/ObjectsInside" => {
            let inside = state("IsInside")?;
            event(inside, EventKind::Alarm, Cause::Intrusion)
        }
        "RuleEngine/LineDetector/Crossed" => event(true, EventKind::Alarm, Cause::Intrusion),
        "VideoSource/SignalLoss" => event(state("State")?, EventKind::Tamper, Cause::Tamper),
        t if t.starts_with("VideoSource/GlobalSceneChange/") => {
            event(state("State")?, EventKind::Tamper, Cause::Tamper)
        }
        "VideoSource/MotionAlarm" => Signal::Motion(state("State")?),
        "RuleEngine/CellMotionDetector/Motion" => Signal::Motion(state("IsMotion")?),
        _ => return None,
    };
    let present = match signal {
        Signal::Event { kind, .. } => kind != EventKind::Restore,
        Signal::Motion(on) => on,
    };
    if n.operation == "Initialized" && !present {
        return None;
    }
    Some(signal)
}

/// `kind` while the condition is present, a `restore` of `cause` when not.
fn event(present: bool, kind: EventKind, cause: Cause) -> Signal {
    Signal::Event {
        kind: if present { kind } else { EventKind::Restore },
        cause,
    }
}

/// An `xs:boolean`.
fn truth(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "1" | "True" | "TRUE" => Some(true),
        "false" | "0" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

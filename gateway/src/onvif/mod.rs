//! ONVIF cameras as event sources (docs/cameras.md): for each `[[cameras]]`
//! entry a supervised task finds the camera's event and media services,
//! takes the snapshot address of its first media profile, holds a
//! pull-point subscription (create, PullMessages, renew, re-create after a
//! failure, unsubscribe at shutdown) and turns intrusion, line-crossing and
//! tamper notifications into camera events on the path of a camera node's
//! MQTT events, motion into a `motion` reading. A camera that stops
//! answering goes offline through presence, like a polled device.
//!
//! - [`config`]: `[[cameras]]` and its validation;
//! - [`soap`]: the requests, as SOAP 1.2 envelopes with a UsernameToken digest;
//! - [`http`]: one POST per request, bounded in time and size;
//! - [`parse`]: the answers (faults, services, profiles, subscriptions, notifications);
//! - [`topics`]: notification topics mapped to camera events;
//! - [`session`]: one camera's requests;
//! - [`camera`]: the task.

mod camera;
mod config;
mod http;
mod parse;
mod session;
mod soap;
#[cfg(test)]
mod tests;
mod topics;

pub use camera::OnvifCamera;
pub use config::{CameraConfig, validate};
pub use parse::{
    Fault, MAX_NOTIFICATIONS, Notification, ParseError, Pulled, Services, Subscription, fault,
    is_success, parse_time, profiles, pulled, renewed, services, snapshot_uri, subscription,
    system_time,
};
pub use topics::{Signal, classify};

//! The embedded MQTT broker (rumqttd) behind a small adapter: nothing else in
//! the gateway imports `rumqttd`.
//!
//! - [`config`]: the `[mqtt]` section (listeners, memory bounds);
//! - [`acl`]: who may publish and subscribe where (pure, unit-tested);
//! - [`broker`]: builds the broker, wires authentication and the topic ACL,
//!   starts it on its own threads and hands out in-process links;
//! - [`publisher`]: one thread that publishes everything the gateway says,
//!   with a priority lane for acks and commands;
//! - [`throttle`]: quarantine of client ids refused again and again.

pub mod acl;
pub mod broker;
pub mod config;
pub mod publisher;
pub mod throttle;

pub use acl::{AllowAll, Authenticator, IntegratorScope, Role};
pub use broker::{Bus, BusError, Denied, DeniedSink, PublishLink, Subscription};
pub use config::{MqttSection, MqttTls};
pub use publisher::{Outgoing, Publisher};

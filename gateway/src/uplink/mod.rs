//! Store-and-forward of work orders to the district platform (`docs/upstream.md`).
//!
//! - [`config`]: `[uplink]`, the broker, credentials, TLS and outbox bound;
//! - [`tls`]: rustls client configuration (ring provider) from PEM files;
//! - [`client`]: the rumqttc client that drains the store's outbox
//!   (`store::Outbox`: by priority then age, bounded on disk) and receives
//!   status updates (its network task in `network`).

pub mod client;
pub mod config;
pub mod error;
mod network;
pub mod secret;
mod stats;
pub mod tls;

pub use crate::store::{Class, OutMsg, Outbox, OutboxStats, Row};
pub use client::{Uplink, UplinkError, UplinkStats};
pub use config::{OutboxConfig, TlsConfig, UplinkConfig};
pub use network::no_delay;

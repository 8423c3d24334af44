//! Store-and-forward of work orders to the district platform (`docs/upstream.md`).
//!
//! - [`config`]: `[uplink]`, the broker, credentials, TLS and outbox bound;
//! - [`tls`]: rustls client configuration (ring provider) from PEM files;
//! - [`outbox`]: the SQLite outbox, drained by priority then age, bounded on disk;
//! - [`client`]: the rumqttc client that drains it and receives status updates
//!   (its network task in `network`).

pub mod client;
pub mod config;
pub mod error;
mod network;
pub mod outbox;
mod outbox_drain;
pub mod tls;

#[cfg(test)]
mod tests;

pub use client::{Uplink, UplinkError, UplinkStats};
pub use config::{OutboxConfig, TlsConfig, UplinkConfig};
pub use network::no_delay;
pub use outbox::{Class, OutMsg, Outbox, OutboxStats, Row};

//! `[mqtt]`: the embedded broker's listeners and memory bounds.
//!
//! rumqttd keeps everything in memory: per connection a log of segments and
//! a queue of outgoing packets. The defaults bound that memory for the
//! 10,000-node compound the gateway is sized for; change them only with a
//! measurement (see `scripts/bench-fleet.sh`).

use std::net::SocketAddr;
use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use serde::Deserialize;

/// `[mqtt]`: listeners of the embedded broker and how much it may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    /// Plain TCP listener for the compound LAN.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Whether the plain listener runs. `false` needs `[mqtt.tls]`: nodes and
    /// integrators then connect over TLS only.
    #[serde(default = "default_plain")]
    pub plain: bool,
    /// Most simultaneous client connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TLS listener (rustls) beside the plain one, when a certificate is configured.
    #[serde(default)]
    pub tls: Option<MqttTls>,
    /// A client that has not sent CONNECT this long after opening its socket
    /// is dropped (ms; rumqttd holds it in a 16-bit field).
    #[serde(default = "default_connection_timeout_ms")]
    pub connection_timeout_ms: NonZeroU16,
    /// Largest payload the broker accepts (bytes). Larger than any message's
    /// own limit, so that ingest sees oversized messages and records them,
    /// instead of the broker silently dropping the connection.
    #[serde(default = "default_max_payload_size")]
    pub max_payload_size: NonZeroUsize,
    /// Unacknowledged QoS 1 messages the broker keeps per client.
    #[serde(default = "default_max_inflight_count")]
    pub max_inflight_count: NonZeroUsize,
    /// Packets the router queues for one connection before it stops
    /// scheduling it (the connection catches up from its log).
    #[serde(default = "default_max_outgoing_packet_count")]
    pub max_outgoing_packet_count: NonZeroU64,
    /// Bytes of one segment of the router's in-memory log.
    #[serde(default = "default_max_segment_size")]
    pub max_segment_size: NonZeroUsize,
    /// Segments kept per log: the log holds at most
    /// `max_segment_size × max_segment_count` bytes, the oldest segment is
    /// dropped first. It is bounded, not durable (the store is).
    #[serde(default = "default_max_segment_count")]
    pub max_segment_count: NonZeroUsize,
    /// Pause between accepting two connections (ms); 0 accepts at once.
    #[serde(default)]
    pub next_connection_delay_ms: u64,
    /// Integrator messages waiting for the publisher thread; when full, new
    /// ones are shed and counted (acks and commands have their own lane,
    /// never shed).
    #[serde(default = "default_feed_queue")]
    pub feed_queue: NonZeroUsize,
    /// A client id refused (a topic it may not use) this many times within
    /// `refusal_window_s` is quarantined: its connections are refused for
    /// `quarantine_s`. 0 turns quarantine off.
    #[serde(default = "default_refusals_before_quarantine")]
    pub refusals_before_quarantine: usize,
    /// The window, seconds, in which refusals are counted.
    #[serde(default = "default_refusal_window_s")]
    pub refusal_window_s: u64,
    /// How long a quarantined client id (or address) is refused, seconds.
    #[serde(default = "default_quarantine_s")]
    pub quarantine_s: u64,
    /// A source address whose clients were refused this many times within
    /// `refusal_window_s`, whatever client ids they used, is quarantined:
    /// its TCP connections are closed at accept for `quarantine_s`. Higher
    /// than the per-id limit, as nodes behind one NAT share an address.
    /// 0 turns it off.
    #[serde(default = "default_refusals_per_address")]
    pub refusals_per_address_before_quarantine: usize,
}

const fn default_refusals_before_quarantine() -> usize {
    10
}
const fn default_refusal_window_s() -> u64 {
    60
}
const fn default_quarantine_s() -> u64 {
    300
}
const fn default_refusals_per_address() -> usize {
    30
}

/// `[mqtt.tls]`: the TLS listener; the same credentials and topic rules apply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTls {
    /// Listen address.
    #[serde(default = "default_tls_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain of the gateway.
    pub cert: PathBuf,
    /// PEM private key of the certificate.
    pub key: PathBuf,
}

impl Default for MqttSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            plain: true,
            max_connections: default_max_connections(),
            tls: None,
            connection_timeout_ms: default_connection_timeout_ms(),
            max_payload_size: default_max_payload_size(),
            max_inflight_count: default_max_inflight_count(),
            max_outgoing_packet_count: default_max_outgoing_packet_count(),
            max_segment_size: default_max_segment_size(),
            max_segment_count: default_max_segment_count(),
            next_connection_delay_ms: 0,
            feed_queue: default_feed_queue(),
            refusals_before_quarantine: default_refusals_before_quarantine(),
            refusal_window_s: default_refusal_window_s(),
            quarantine_s: default_quarantine_s(),
            refusals_per_address_before_quarantine: default_refusals_per_address(),
        }
    }
}

impl MqttSection {
    /// Checks what serde cannot: a listener remains.
    ///
    /// # Errors
    /// Each problem, naming its field.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        if !self.plain && self.tls.is_none() {
            return Err(vec![
                "mqtt.plain: false needs [mqtt.tls] (cert, key): no listener would remain".into(),
            ]);
        }
        Ok(())
    }
}

const fn default_plain() -> bool {
    true
}

// The `const` blocks below are evaluated by the compiler: a zero default
// would not build, so none of them can panic at run time.
fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 1883))
}
fn default_tls_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8883))
}
const fn default_max_connections() -> usize {
    10_000
}
fn default_connection_timeout_ms() -> NonZeroU16 {
    const { NonZeroU16::new(10_000).expect("non-zero") }
}
fn default_max_payload_size() -> NonZeroUsize {
    const { NonZeroUsize::new(64 * 1024).expect("non-zero") }
}
fn default_max_inflight_count() -> NonZeroUsize {
    const { NonZeroUsize::new(100).expect("non-zero") }
}
fn default_max_outgoing_packet_count() -> NonZeroU64 {
    const { NonZeroU64::new(100).expect("non-zero") }
}
fn default_max_segment_size() -> NonZeroUsize {
    const { NonZeroUsize::new(16 * 1024 * 1024).expect("non-zero") }
}
fn default_max_segment_count() -> NonZeroUsize {
    const { NonZeroUsize::new(4).expect("non-zero") }
}
fn default_feed_queue() -> NonZeroUsize {
    const { NonZeroUsize::new(16_384).expect("non-zero") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<MqttSection, toml::de::Error> {
        toml::from_str(src)
    }

    #[test]
    fn defaults_are_the_sizes_the_gateway_was_measured_with() {
        let d = MqttSection::default();
        assert_eq!(d.listen.port(), 1883);
        assert_eq!(d.max_connections, 10_000);
        assert_eq!(d.connection_timeout_ms.get(), 10_000);
        assert_eq!(d.max_payload_size.get(), 65_536);
        assert_eq!(d.max_inflight_count.get(), 100);
        assert_eq!(d.max_outgoing_packet_count.get(), 100);
        assert_eq!(d.max_segment_size.get(), 16 << 20);
        assert_eq!(d.max_segment_count.get(), 4);
        assert_eq!(d.next_connection_delay_ms, 0);
        assert_eq!(d.feed_queue.get(), 16_384);
        // An empty section is the same as no section.
        let empty = parse("").expect("empty");
        assert_eq!(format!("{empty:?}"), format!("{d:?}"));
    }

    #[test]
    fn memory_settings_are_read_from_the_section() {
        let c = parse(
            "listen = \"127.0.0.1:1884\"\n\
             connection_timeout_ms = 5000\n\
             max_payload_size = 32768\n\
             max_inflight_count = 50\n\
             max_outgoing_packet_count = 200\n\
             max_segment_size = 1048576\n\
             max_segment_count = 2\n\
             next_connection_delay_ms = 1\n\
             feed_queue = 1024\n",
        )
        .expect("parses");
        assert_eq!(c.listen.port(), 1884);
        assert_eq!(c.connection_timeout_ms.get(), 5_000);
        assert_eq!(c.max_payload_size.get(), 32_768);
        assert_eq!(c.max_inflight_count.get(), 50);
        assert_eq!(c.max_outgoing_packet_count.get(), 200);
        assert_eq!(c.max_segment_size.get(), 1 << 20);
        assert_eq!(c.max_segment_count.get(), 2);
        assert_eq!(c.next_connection_delay_ms, 1);
        assert_eq!(c.feed_queue.get(), 1_024);
    }

    #[test]
    fn the_plain_listener_may_be_off_only_beside_tls() {
        assert!(parse("").expect("empty").plain);
        let e = parse("plain = false\n").expect("parses").validate();
        assert!(e.expect_err("no listener")[0].starts_with("mqtt.plain:"));
        let c = parse("plain = false\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n").expect("parses");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_and_zero_sizes_are_refused() {
        let e = parse("max_segment_bytes = 1\n").expect_err("unknown key");
        assert!(e.to_string().contains("max_segment_bytes"), "{e}");
        let e = parse("max_segment_count = 0\n").expect_err("zero segments");
        assert!(e.to_string().contains("nonzero"), "{e}");
        assert!(
            parse("connection_timeout_ms = 70000\n").is_err(),
            "beyond u16"
        );
    }
}

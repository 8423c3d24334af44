//! `[uplink]`: how the gateway reaches the district broker.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[uplink]`: the district platform's MQTT broker. District, street and
/// community are not configured here: each order's topic comes from its grid path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// Broker host name or address (also the TLS server name).
    pub host: String,
    /// Broker port (1883 plain, 8883 TLS by convention).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Other nodes of the district's broker cluster, `host:port`, tried in
    /// turn (after `host:port`) whenever the connection fails or drops.
    #[serde(default)]
    pub failover: Vec<String>,
    /// MQTT client id; defaults to the gateway id. Must be unique on the broker.
    #[serde(default)]
    pub client_id: Option<String>,
    /// MQTT username, if the broker asks for one (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// MQTT password (with `username`). Prefer `password_file` or
    /// `password_credential`: a secret in the configuration file ends up in
    /// backups and support tickets.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the MQTT password (first line; relative to the
    /// configuration file), readable by the gateway only.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Name of a systemd credential holding the MQTT password
    /// (`LoadCredential=NAME:/path` in the unit): read from
    /// `$CREDENTIALS_DIRECTORY/NAME`.
    #[serde(default)]
    pub password_credential: Option<String>,
    /// TLS to the broker; plain TCP when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// MQTT keep-alive, seconds.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// Most outbox rows sent and waiting for the platform's `received`.
    #[serde(default = "default_max_inflight")]
    pub max_inflight: usize,
    /// Rows read from the outbox per query.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// A row without a `received` answer after this long is sent again, ms.
    #[serde(default = "default_resend")]
    pub resend_after_ms: u64,
    /// First wait before reconnecting, ms; doubles up to `reconnect_max_ms`.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    /// Longest wait between reconnection attempts, ms.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
    /// Filter for status answers. The default sees every cell; a district
    /// broker's ACL should narrow what this gateway may read.
    #[serde(default = "default_status_filter")]
    pub status_filter: String,
    /// The outbox's disk bound.
    #[serde(default)]
    pub outbox: OutboxConfig,
}

/// `[uplink.tls]`: server verification and optional client certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA certificates that sign the broker's certificate.
    pub ca: PathBuf,
    /// PEM file of this gateway's certificate chain (mutual TLS, with `client_key`).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM file of this gateway's private key (with `client_cert`).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// `[uplink.outbox]`: how much the outbox may hold on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Bound on the outbox's share of the store file (the pages of its
    /// table and indexes), MiB. Over it, the oldest routine rows are shed,
    /// then the oldest orders that are not life-safety (each logged and
    /// counted); life-safety orders never are.
    #[serde(default = "default_max_mib")]
    pub max_mib: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_mib: default_max_mib(),
        }
    }
}

const fn default_port() -> u16 {
    1883
}
const fn default_keep_alive() -> u64 {
    30
}
const fn default_max_inflight() -> usize {
    2_000
}
const fn default_batch() -> usize {
    500
}
const fn default_resend() -> u64 {
    30_000
}
const fn default_reconnect_min() -> u64 {
    200
}
const fn default_reconnect_max() -> u64 {
    10_000
}
fn default_status_filter() -> String {
    protocol::topic::filter::ORDER_STATUS.to_string()
}
const fn default_max_mib() -> u64 {
    // 1,000,000 orders of ~600 bytes each fit with room to spare.
    2_048
}

impl UplinkConfig {
    /// A plain-TCP configuration with every default, for `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port,
            failover: Vec::new(),
            client_id: None,
            username: None,
            password: None,
            password_file: None,
            password_credential: None,
            tls: None,
            keep_alive_secs: default_keep_alive(),
            max_inflight: default_max_inflight(),
            batch: default_batch(),
            resend_after_ms: default_resend(),
            reconnect_min_ms: default_reconnect_min(),
            reconnect_max_ms: default_reconnect_max(),
            status_filter: default_status_filter(),
            outbox: OutboxConfig::default(),
        }
    }

    /// Checks the section; every problem names its field and the fix.
    ///
    /// # Errors
    /// The list of problems.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        if self.host.is_empty() {
            e.push("uplink.host: must not be empty".into());
        }
        if self.port == 0 {
            e.push("uplink.port: must be 1..=65535, got 0".into());
        }
        let given = [
            self.password.is_some(),
            self.password_file.is_some(),
            self.password_credential.is_some(),
        ]
        .into_iter()
        .filter(|g| *g)
        .count();
        if given > 1 {
            e.push(
                "uplink.password, uplink.password_file, uplink.password_credential: give one of them"
                    .into(),
            );
        } else if self.username.is_some() != (given == 1) {
            e.push("uplink.username, uplink.password: give both or neither".into());
        } else if let Err(why) = self.password() {
            e.push(why);
        }
        if let Some(t) = &self.tls
            && t.client_cert.is_some() != t.client_key.is_some()
        {
            e.push("uplink.tls.client_cert, uplink.tls.client_key: give both or neither".into());
        }
        if self.keep_alive_secs < 5 {
            e.push(format!(
                "uplink.keep_alive_secs: must be at least 5, got {}",
                self.keep_alive_secs
            ));
        }
        for (name, v) in [("max_inflight", self.max_inflight), ("batch", self.batch)] {
            if v == 0 {
                e.push(format!("uplink.{name}: must be at least 1, got 0"));
            }
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            e.push("uplink.reconnect_min_ms: must be 1..=reconnect_max_ms".into());
        }
        for (i, b) in self.failover.iter().enumerate() {
            if parse_broker(b).is_none() {
                e.push(format!(
                    "uplink.failover[{i}]: must be host:port with a port 1..=65535, got {b:?}"
                ));
            }
        }
        if self.outbox.max_mib == 0 {
            e.push("uplink.outbox.max_mib: must be at least 1, got 0".into());
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }

    /// Every broker to try, `(host, port)`: `host:port` first, then `failover`.
    pub fn brokers(&self) -> Vec<(String, u16)> {
        std::iter::once((self.host.clone(), self.port))
            .chain(self.failover.iter().filter_map(|b| parse_broker(b)))
            .collect()
    }

    /// The password: `password`, else the first line of `password_file`,
    /// else the systemd credential `password_credential`; read when called
    /// (at start), never logged.
    ///
    /// # Errors
    /// A line naming the key and why it could not be read; never the secret.
    pub fn password(&self) -> Result<Option<String>, String> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if let Some(path) = &self.password_file {
            return super::secret::from_file("uplink.password_file", path).map(Some);
        }
        if let Some(name) = &self.password_credential {
            return super::secret::from_credential(name).map(Some);
        }
        Ok(None)
    }

    /// How long a row may wait for its `received` before it is sent again.
    pub fn resend_after(&self) -> Duration {
        Duration::from_millis(self.resend_after_ms)
    }
}

/// `host:port` (the last `:` splits, so a bracketed IPv6 address works).
fn parse_broker(b: &str) -> Option<(String, u16)> {
    let (host, port) = b.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_brokers_follow_the_first_and_bad_ones_are_named() {
        let c: UplinkConfig =
            toml::from_str("host = \"a\"\nport = 1884\nfailover = [\"b:1885\", \"[::1]:1886\"]\n")
                .expect("parse");
        assert!(c.validate().is_ok());
        assert_eq!(
            c.brokers(),
            [
                ("a".to_string(), 1884),
                ("b".to_string(), 1885),
                ("::1".to_string(), 1886)
            ]
        );
        let c: UplinkConfig =
            toml::from_str("host = \"a\"\nfailover = [\"b\", \"c:0\"]\n").expect("parse");
        let e = c.validate().expect_err("invalid");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("uplink.failover[0]"), "{e:?}");
    }

    #[test]
    fn a_minimal_section_takes_defaults() {
        let c: UplinkConfig = toml::from_str("host = \"district.example\"\n").expect("parse");
        assert_eq!(c.port, 1883);
        assert_eq!(c.outbox.max_mib, 2_048);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn problems_are_reported_together_with_their_fields() {
        let c: UplinkConfig = toml::from_str(
            "host = \"h\"\nport = 0\nusername = \"u\"\n[tls]\nca = \"ca.pem\"\nclient_key = \"k.pem\"\n",
        )
        .expect("parse");
        let e = c.validate().expect_err("invalid");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("uplink.port"));
        assert!(toml::from_str::<UplinkConfig>("host = \"h\"\nhots = 1\n").is_err());
    }
}

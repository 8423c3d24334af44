//! The gateway's configuration file (TOML): one section per stage, each field
//! documented, unknown keys rejected, errors reported with line and column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use protocol::Name;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who this gateway is and where it stands.
    pub gateway: GatewaySection,
    /// The embedded MQTT broker.
    #[serde(default)]
    pub mqtt: crate::bus::MqttSection,
    /// The SQLite store.
    #[serde(default)]
    pub store: StoreSection,
    /// Alarm confirmation, chatter and maintenance.
    #[serde(default)]
    pub alarms: crate::alarms::AlarmPolicy,
    /// Rules on telemetry.
    #[serde(default)]
    pub rules: crate::rules::RulesConfig,
    /// The operators' HTTP API.
    #[serde(default)]
    pub api: ApiSection,
    /// Modbus lines and the devices polled on them.
    #[serde(default)]
    pub modbus: Option<modbus::ModbusConfig>,
    /// Which alarms become work orders, their deadlines and escalation.
    #[serde(default)]
    pub orders: crate::orders::OrdersConfig,
    /// The district platform's broker; without it orders wait in the outbox.
    #[serde(default)]
    pub uplink: Option<crate::uplink::UplinkConfig>,
    /// Outbox bounds (used with or without an uplink).
    #[serde(default)]
    pub outbox: crate::uplink::OutboxConfig,
    /// Where completion notices are POSTed (the resident's feedback channel).
    #[serde(default)]
    pub webhook: Option<crate::orders::WebhookConfig>,
}

/// `[api]`: the operators' HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Listen address; loopback by default (put a TLS proxy in front).
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: default_api_listen(),
        }
    }
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `[gateway]`: identity of this gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// Gateway id: prefix of every alarm and order id it makes (`gw01`).
    pub id: Name,
    /// The compound this gateway serves (`lianhua-garden`).
    pub site: Name,
    /// Directory of extra device profiles (`*.toml`), added to the built-in ones.
    #[serde(default)]
    pub profiles_dir: Option<PathBuf>,
}

/// `[store]`: where and how long data is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// SQLite database file.
    #[serde(default = "default_db")]
    pub path: PathBuf,
    /// Days of telemetry kept; events, alarms and orders are kept for good.
    #[serde(default = "default_retention")]
    pub telemetry_retention_days: u32,
    /// Most telemetry rows kept (oldest deleted first): bounds the disk.
    #[serde(default = "default_max_rows")]
    pub max_telemetry_rows: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: default_db(),
            telemetry_retention_days: default_retention(),
            max_telemetry_rows: default_max_rows(),
        }
    }
}

fn default_db() -> PathBuf {
    PathBuf::from("gridsense.db")
}
const fn default_retention() -> u32 {
    30
}
const fn default_max_rows() -> u64 {
    50_000_000
}

/// A configuration problem, with its place in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads and validates a configuration file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line and column of the first problem.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg = Self::parse(&src, &path.display().to_string())?;
        // Paths in the file are relative to the file.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(dir) = &cfg.gateway.profiles_dir {
            cfg.gateway.profiles_dir = Some(base.join(dir));
        }
        if cfg.store.path.is_relative() {
            cfg.store.path = base.join(&cfg.store.path);
        }
        if let Some(tls) = &mut cfg.mqtt.tls {
            tls.cert = base.join(&tls.cert);
            tls.key = base.join(&tls.key);
        }
        Ok(cfg)
    }

    /// Parses configuration text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with line and column.
    pub fn parse(src: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(src).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((1, 1), |s| protocol::profile::line_col(src, s.start));
            ConfigError::Invalid {
                path: origin.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })
    }
}

/// The 1-based line of the `index`-th `[[header]]` table in `src`, so errors
/// found after parsing can still point at a line.
pub fn table_line(src: &str, header: &str, index: usize) -> Option<usize> {
    let needle = format!("[[{header}]]");
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&needle))
        .nth(index)
        .map(|(n, _)| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_takes_defaults() {
        let c = Config::parse("[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n", "t").expect("ok");
        assert_eq!(c.gateway.id.as_str(), "gw01");
        assert_eq!(c.mqtt.listen.port(), 1883);
        assert_eq!(c.store.telemetry_retention_days, 30);
    }

    #[test]
    fn errors_name_line_and_column() {
        let src = "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n\n[mqtt]\nlisten = \"nowhere\"\n";
        let e = Config::parse(src, "gw.toml").expect_err("bad addr");
        let s = e.to_string();
        assert!(s.starts_with("gw.toml:6:"), "{s}");
        let e = Config::parse("[gateway]\nid = \"gw 01\"\nsite = \"x\"\n", "gw.toml")
            .expect_err("bad id");
        assert!(e.to_string().starts_with("gw.toml:2:"), "{e}");
        let e = Config::parse(
            "[gateway]\nid = \"a\"\nsite = \"x\"\ncolour = 1\n",
            "gw.toml",
        )
        .expect_err("unknown key");
        assert!(e.to_string().contains("gw.toml:4:"), "{e}");
    }

    #[test]
    fn broker_memory_settings_are_read_and_unknown_mqtt_keys_refused() {
        let base = "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n\n[mqtt]\n";
        let src = format!("{base}max_segment_count = 8\nfeed_queue = 100\n");
        let c = Config::parse(&src, "gw.toml").expect("ok");
        assert_eq!(c.mqtt.max_segment_count.get(), 8);
        assert_eq!(c.mqtt.feed_queue.get(), 100);
        assert_eq!(c.mqtt.max_inflight_count.get(), 100, "default kept");
        let e = Config::parse(&format!("{base}segments = 8\n"), "gw.toml").expect_err("unknown");
        assert!(e.to_string().starts_with("gw.toml:6:"), "{e}");
    }
}

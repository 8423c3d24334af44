//! The gateway's configuration file (TOML): one section per stage, each
//! defined by the stage that reads it (this module only composes them, and
//! owns `[gateway]`), each field documented, unknown keys rejected, errors
//! reported with line and column. [`validate`] is the one validation.

use std::path::{Path, PathBuf};

use protocol::Name;
use serde::Deserialize;

pub mod locate;
pub mod validate;

pub use validate::{Problem, Valid};

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
    pub store: crate::store::StoreSection,
    /// Availability: the grace period after a last will, unstable links.
    #[serde(default)]
    pub presence: crate::presence::PresenceSection,
    /// Alarm confirmation, chatter and maintenance.
    #[serde(default)]
    pub alarms: crate::alarms::AlarmPolicy,
    /// Rules on telemetry.
    #[serde(default)]
    pub rules: crate::rules::RulesConfig,
    /// The operators' HTTP API.
    #[serde(default)]
    pub api: crate::api::ApiSection,
    /// Modbus lines and the devices polled on them.
    #[serde(default)]
    pub modbus: Option<modbus::ModbusConfig>,
    /// Which alarms become work orders, their deadlines and escalation.
    #[serde(default)]
    pub orders: crate::orders::OrdersConfig,
    /// The district platform's broker; without it orders wait in the outbox.
    #[serde(default)]
    pub uplink: Option<crate::uplink::UplinkConfig>,
    /// The old place of the outbox bound, never read: refused by
    /// validation, which points at `[uplink.outbox]`.
    #[serde(default)]
    pub outbox: Option<toml::Value>,
    /// Where completion notices are POSTed (the resident's feedback channel).
    #[serde(default)]
    pub webhook: Option<crate::orders::WebhookConfig>,
    /// `[fire_centre]`: the GB/T 26875.3 link to the fire remote-monitoring
    /// centre; absent: no link.
    #[serde(default)]
    pub fire_centre: Option<crate::firecentre::FireCentreConfig>,
    /// `[[cameras]]`: ONVIF cameras whose events the gateway pulls
    /// (docs/cameras.md); none by default.
    #[serde(default)]
    pub cameras: Vec<crate::onvif::CameraConfig>,
    /// Residents' reports: the completion notice to the reporter.
    #[serde(default)]
    pub reports: crate::orders::ReportsSection,
    /// Capacities of the queues between stages.
    #[serde(default)]
    pub queues: crate::message::QueuesSection,
    /// Home Assistant MQTT discovery (on by default).
    #[serde(default)]
    pub homeassistant: crate::homeassistant::HomeAssistantSection,
    /// The log's format.
    #[serde(default)]
    pub log: crate::log::LogSection,
    /// `[access]`: access events' retention, list sync (docs/access.md).
    #[serde(default)]
    pub access: crate::access::AccessSection,
}

impl Config {
    /// The outbox's disk bound in bytes: `[uplink.outbox] max_mib`, the
    /// default without an `[uplink]`.
    pub fn outbox_max_bytes(&self) -> u64 {
        let mib = self.uplink.as_ref().map_or_else(
            || crate::uplink::OutboxConfig::default().max_mib,
            |u| u.outbox.max_mib,
        );
        mib << 20
    }
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
        Self::from_file(&read(path)?, path)
    }

    /// Parses `src`, the text of the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with line and column.
    pub fn from_file(src: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut cfg = Self::parse(src, &path.display().to_string())?;
        // Paths in the file are relative to the file.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(dir) = &cfg.gateway.profiles_dir {
            cfg.gateway.profiles_dir = Some(base.join(dir));
        }
        if cfg.store.path.is_relative() {
            cfg.store.path = base.join(&cfg.store.path);
        }
        if let Some(f) = cfg.uplink.as_mut().and_then(|u| u.password_file.as_mut()) {
            *f = base.join(&*f);
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

/// The text of a configuration file.
///
/// # Errors
/// [`ConfigError::Read`] when it cannot be read.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })
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

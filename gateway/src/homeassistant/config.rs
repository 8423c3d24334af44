//! `[homeassistant]`: whether the gateway announces its devices to Home
//! Assistant, and under which discovery prefix.

use protocol::Name;
use serde::Deserialize;

/// `[homeassistant]`: MQTT discovery on the embedded broker.
///
/// ```toml
/// [homeassistant]
/// enabled = true            # off by default: it costs memory per device
/// prefix = "homeassistant"  # Home Assistant's default discovery prefix
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HomeAssistantSection {
    /// Publish discovery configs (retained) and let integrators read them.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// The discovery prefix Home Assistant's MQTT integration listens on:
    /// one topic level (`[A-Za-z0-9_-]`).
    #[serde(default = "default_prefix")]
    pub prefix: Name,
}

/// Off unless asked for: the broker keeps every retained discovery config
/// (about 8 per device) in memory, ~24 KB per device at 10,000 devices
/// (docs/homeassistant.md), which a compound without Home Assistant should
/// not pay.
const fn default_enabled() -> bool {
    false
}

fn default_prefix() -> Name {
    // A constant of letters only: always a valid identifier.
    Name::new("homeassistant").expect("a valid identifier")
}

impl Default for HomeAssistantSection {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            prefix: default_prefix(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_is_off_by_default_under_homeassistant() {
        let s: HomeAssistantSection = toml::from_str("").expect("empty section");
        assert_eq!(s, HomeAssistantSection::default());
        assert!(!s.enabled);
        assert_eq!(s.prefix.as_str(), "homeassistant");
    }

    #[test]
    fn a_prefix_must_be_one_topic_level() {
        let e = toml::from_str::<HomeAssistantSection>("prefix = \"ha/discovery\"\n")
            .expect_err("two levels");
        assert!(e.to_string().contains('/'), "{e}");
        let e = toml::from_str::<HomeAssistantSection>("colour = 1\n").expect_err("unknown key");
        assert!(e.to_string().contains("colour"), "{e}");
    }
}

//! Device profiles: a TOML file describes a kind of device (its fields, units,
//! ranges, thresholds and Modbus register map), so a new kind of sensing is
//! added by dropping a file in the profiles directory, not by a rebuild.
//!
//! ```toml
//! name = "gas-lel-v1"
//! kind = "gas"
//! description = "Combustible gas detector, 0-100 %LEL"
//! heartbeat_s = 60
//!
//! [[fields]]
//! name = "gas_lel"
//! unit = "%LEL"
//! min = 0.0
//! max = 100.0
//! deadband = 0.5
//!
//! [[fields.thresholds]]
//! above = 25.0
//! hysteresis = 2.0
//! alarm = "gas"
//! stage = "alarm"
//!
//! [modbus]
//! poll_ms = 1000
//! [modbus.registers.gas_lel]
//! table = "input"
//! address = 0
//! scale = 0.1
//! ```

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::ident::{FieldName, KindName};
use crate::kinds::{AlarmKind, wire_enum};
use crate::modbus::RegisterSpec;

/// A kind of device as the gateway understands it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Unique profile name, referenced by devices in the registry.
    pub name: KindName,
    /// The kind of device: a built-in [`crate::DeviceKind`] name or a new one.
    pub kind: KindName,
    /// What the device is, for people.
    #[serde(default)]
    pub description: String,
    /// Seconds between heartbeats the device promises (supervision uses it).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: u32,
    /// Whether the device is on an escape route (locks released in a fire).
    #[serde(default)]
    pub escape_route: bool,
    /// Telemetry fields.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// How to read the device over Modbus, if it is a wired device.
    #[serde(default)]
    pub modbus: Option<ModbusMap>,
}

const fn default_heartbeat() -> u32 {
    60
}

/// One telemetry field of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Field name, as in telemetry payloads.
    pub name: FieldName,
    /// Unit, for people and integrators.
    #[serde(default)]
    pub unit: String,
    /// Lowest physically possible value; lower readings are a sensor fault.
    #[serde(default = "neg_inf")]
    pub min: f32,
    /// Highest physically possible value; higher readings are a sensor fault.
    #[serde(default = "pos_inf")]
    pub max: f32,
    /// Changes smaller than this are not re-published (0: publish every reading).
    #[serde(default)]
    pub deadband: f32,
    /// Default thresholds that raise alarms.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
}

fn neg_inf() -> f32 {
    f32::NEG_INFINITY
}
fn pos_inf() -> f32 {
    f32::INFINITY
}

wire_enum! {
    /// Which stage a threshold raises.
    pub enum Stage {
        /// First stage: a warning, confirmed by the second.
        PreAlarm = "pre-alarm",
        /// The alarm itself.
        Alarm = "alarm",
    }
}

/// A threshold with hysteresis on one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Raise when the value goes above this.
    #[serde(default)]
    pub above: Option<f32>,
    /// Raise when the value goes below this.
    #[serde(default)]
    pub below: Option<f32>,
    /// The value must come back this far past the limit to clear.
    #[serde(default)]
    pub hysteresis: f32,
    /// The alarm raised.
    pub alarm: AlarmKind,
    /// The stage raised.
    #[serde(default = "default_stage")]
    pub stage: Stage,
}

const fn default_stage() -> Stage {
    Stage::Alarm
}

/// A device's Modbus register map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusMap {
    /// Poll interval for telemetry registers, in ms.
    #[serde(default = "default_poll")]
    pub poll_ms: u32,
    /// Registers that carry alarm state: polled first and more often.
    #[serde(default)]
    pub alarm_registers: Vec<FieldName>,
    /// Field name → where it is read.
    #[serde(default)]
    pub registers: BTreeMap<FieldName, RegisterSpec>,
    /// Actuator name (`lock`, `valve`) → where it is written.
    #[serde(default)]
    pub outputs: BTreeMap<FieldName, RegisterSpec>,
}

const fn default_poll() -> u32 {
    1000
}

/// Why a profile was rejected, with the line and column in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ProfileError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// 1-based line and column of a byte offset in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The byte offset of the first `key = ` line after `from` that mentions `needle`,
/// used to point semantic errors at a line.
fn find_line(src: &str, needle: &str) -> usize {
    src.find(needle).unwrap_or(0)
}

impl Profile {
    /// Parses and validates a profile.
    ///
    /// # Errors
    /// [`ProfileError`] with the line of the problem: TOML syntax, an unknown or
    /// missing key, a bad value, or a reference to a field the profile lacks.
    pub fn from_toml(src: &str) -> Result<Self, ProfileError> {
        let profile: Self = toml::from_str(src).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(src, s.start));
            ProfileError {
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        profile.validate().map_err(|(needle, message)| {
            let (line, column) = line_col(src, find_line(src, &needle));
            ProfileError {
                line,
                column,
                message,
            }
        })?;
        Ok(profile)
    }

    /// Checks references and ranges; returns (text to locate, message).
    fn validate(&self) -> Result<(), (String, String)> {
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.fields {
            if !seen.insert(f.name.as_str()) {
                return Err((
                    format!("\"{}\"", f.name),
                    format!("field `{}` is defined twice", f.name),
                ));
            }
            if f.min >= f.max {
                return Err((
                    format!("\"{}\"", f.name),
                    format!("field `{}`: min must be below max", f.name),
                ));
            }
            for t in &f.thresholds {
                if t.above.is_none() == t.below.is_none() {
                    return Err((
                        format!("\"{}\"", t.alarm),
                        format!(
                            "field `{}`: a threshold needs exactly one of `above` or `below`",
                            f.name
                        ),
                    ));
                }
                if t.hysteresis < 0.0 {
                    return Err((
                        "hysteresis".into(),
                        format!("field `{}`: hysteresis must not be negative", f.name),
                    ));
                }
            }
        }
        if let Some(m) = &self.modbus {
            for name in m.registers.keys().chain(m.alarm_registers.iter()) {
                if !seen.contains(name.as_str()) {
                    return Err((
                        name.to_string(),
                        format!("modbus register `{name}` refers to an unknown field"),
                    ));
                }
            }
            for (name, spec) in &m.outputs {
                if !spec.table.writable() {
                    return Err((
                        name.to_string(),
                        format!(
                            "output `{name}` is in table {}, which cannot be written",
                            spec.table
                        ),
                    ));
                }
            }
            if m.poll_ms < 10 {
                return Err((
                    "poll_ms".into(),
                    "modbus.poll_ms must be at least 10".into(),
                ));
            }
        }
        Ok(())
    }

    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The profiles every gateway ships with, as (file name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("smoke.toml", include_str!("../profiles/smoke.toml")),
    ("heat.toml", include_str!("../profiles/heat.toml")),
    (
        "manual-call-point.toml",
        include_str!("../profiles/manual-call-point.toml"),
    ),
    ("gas.toml", include_str!("../profiles/gas.toml")),
    (
        "water-leak.toml",
        include_str!("../profiles/water-leak.toml"),
    ),
    (
        "water-level.toml",
        include_str!("../profiles/water-level.toml"),
    ),
    (
        "door-contact.toml",
        include_str!("../profiles/door-contact.toml"),
    ),
    ("lock.toml", include_str!("../profiles/lock.toml")),
    (
        "card-reader.toml",
        include_str!("../profiles/card-reader.toml"),
    ),
    ("camera.toml", include_str!("../profiles/camera.toml")),
    (
        "ebike-charger.toml",
        include_str!("../profiles/ebike-charger.toml"),
    ),
    ("elevator.toml", include_str!("../profiles/elevator.toml")),
    (
        "manhole-cover.toml",
        include_str!("../profiles/manhole-cover.toml"),
    ),
    (
        "temp-humidity.toml",
        include_str!("../profiles/temp-humidity.toml"),
    ),
    (
        "gas-modbus.toml",
        include_str!("../profiles/gas-modbus.toml"),
    ),
    (
        "call-button.toml",
        include_str!("../profiles/call-button.toml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_cover_every_kind() {
        let mut kinds = std::collections::BTreeSet::new();
        for (file, src) in BUILTIN {
            let p = Profile::from_toml(src).unwrap_or_else(|e| panic!("{file}: {e}"));
            kinds.insert(p.kind.to_string());
        }
        for k in crate::DeviceKind::ALL {
            assert!(kinds.contains(k.as_str()), "no builtin profile for {k}");
        }
    }

    #[test]
    fn unknown_register_field_is_reported_with_its_line() {
        let src = "name = \"x\"\nkind = \"gas\"\n[[fields]]\nname = \"lel\"\n\n[modbus]\n[modbus.registers.ppm]\ntable = \"input\"\naddress = 1\n";
        let e = Profile::from_toml(src).expect_err("must fail");
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn syntax_and_unknown_keys_have_lines() {
        let e = Profile::from_toml("name = \"x\"\nkind = \"gas\"\ncolour = 1\n").expect_err("fail");
        assert_eq!(e.line, 3, "{e}");
        let e = Profile::from_toml("name = \"x\"\nkind = gas\n").expect_err("fail");
        assert_eq!(e.line, 2, "{e}");
    }
}

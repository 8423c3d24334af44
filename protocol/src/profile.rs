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
    /// The access point's reader and list store, for doors with a reader.
    #[serde(default)]
    pub access: Option<AccessCaps>,
}

/// What an access-control door can hold and read (`[access]` in a profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessCaps {
    /// Most credentials the door's list store holds; a longer list is refused.
    pub capacity: u32,
    /// The credential kinds its reader reads (card, pin, qr).
    #[serde(default = "default_creds")]
    pub credentials: Vec<crate::access::CredKind>,
}

fn default_creds() -> Vec<crate::access::CredKind> {
    vec![crate::access::CredKind::Card]
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
    /// The alarm raised while the value is not 0: a status bit
    /// (`[modbus.registers.x] bits = "1"`) mapped to an alarm, a fault
    /// (`sensor-fault`) or `tamper`. Cleared when it reads 0 again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raises: Option<AlarmKind>,
    /// An enumeration: register value (the key, an integer) → its named
    /// state and, optionally, the alarm it raises while the value is it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub states: BTreeMap<String, EnumState>,
}

/// One value of an enumerated field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumState {
    /// The state's name (`normal`, `fire`, `open-circuit`), for people and dashboards.
    pub name: String,
    /// The alarm raised while the field has this value.
    #[serde(default)]
    pub raises: Option<AlarmKind>,
    /// The stage raised.
    #[serde(default = "default_stage")]
    pub stage: Stage,
}

/// When a field's value raises an alarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// Above the limit; clears below `limit - hysteresis`.
    Above(f32),
    /// Below the limit; clears above `limit + hysteresis`.
    Below(f32),
    /// Equal to an enumeration's value (within 0.5).
    Equals(f32),
    /// Not 0 (a bit field's flags).
    NonZero,
}

impl When {
    /// Whether `v` is past the condition (raises), and whether it is back
    /// (clears), given `hysteresis`.
    pub fn test(self, v: f32, hysteresis: f32) -> (bool, bool) {
        match self {
            Self::Above(a) => (v > a, v < a - hysteresis),
            Self::Below(b) => (v < b, v > b + hysteresis),
            Self::Equals(e) => {
                let at = (v - e).abs() < 0.5;
                (at, !at)
            }
            Self::NonZero => {
                let set = v.abs() >= 0.5;
                (set, !set)
            }
        }
    }
}

/// A condition on a field and the alarm it raises: a threshold, a
/// `raises`, or an enumeration state that raises one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trigger {
    /// The condition.
    pub when: When,
    /// For [`When::Above`] and [`When::Below`].
    pub hysteresis: f32,
    /// The alarm raised.
    pub alarm: AlarmKind,
    /// The stage raised.
    pub stage: Stage,
}

impl Field {
    /// Every condition of this field that raises an alarm: its thresholds,
    /// then `raises`, then its enumeration's states, by value.
    pub fn triggers(&self) -> Vec<Trigger> {
        let mut out: Vec<Trigger> = self
            .thresholds
            .iter()
            .filter_map(|t| {
                let when = match (t.above, t.below) {
                    (Some(a), _) => When::Above(a),
                    (None, Some(b)) => When::Below(b),
                    (None, None) => return None,
                };
                Some(Trigger {
                    when,
                    hysteresis: t.hysteresis,
                    alarm: t.alarm,
                    stage: t.stage,
                })
            })
            .collect();
        if let Some(alarm) = self.raises {
            out.push(Trigger {
                when: When::NonZero,
                hysteresis: 0.0,
                alarm,
                stage: Stage::Alarm,
            });
        }
        for (value, state) in self.enum_values() {
            if let Some(alarm) = state.raises {
                #[allow(clippy::cast_precision_loss)]
                out.push(Trigger {
                    when: When::Equals(value as f32),
                    hysteresis: 0.0,
                    alarm,
                    stage: state.stage,
                });
            }
        }
        out
    }

    /// The enumeration's states by value (keys that are not integers are
    /// refused when the profile is loaded, so none is skipped there).
    pub fn enum_values(&self) -> Vec<(i64, &EnumState)> {
        let mut v: Vec<(i64, &EnumState)> = self
            .states
            .iter()
            .filter_map(|(k, s)| Some((k.trim().parse::<i64>().ok()?, s)))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }
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
            Self::validate_events(f)?;
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
            for (name, spec) in &m.registers {
                Self::validate_bits(name, spec)?;
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

    /// `raises` and `states` of one field.
    fn validate_events(f: &Field) -> Result<(), (String, String)> {
        if f.raises.is_some() && !f.states.is_empty() {
            return Err((
                format!("\"{}\"", f.name),
                format!(
                    "field `{}`: `raises` and `states` cannot both be set; give each state its own `raises`",
                    f.name
                ),
            ));
        }
        let mut values = std::collections::BTreeSet::new();
        for key in f.states.keys() {
            let Ok(v) = key.trim().parse::<i64>() else {
                return Err((
                    format!("{key} ="),
                    format!(
                        "field `{}`: state key `{key}` is not an integer (the register value it names)",
                        f.name
                    ),
                ));
            };
            if !values.insert(v) {
                return Err((
                    format!("{key} ="),
                    format!("field `{}`: value {v} has two states", f.name),
                ));
            }
        }
        Ok(())
    }

    /// A bit field reads one 16-bit register.
    fn validate_bits(name: &FieldName, spec: &RegisterSpec) -> Result<(), (String, String)> {
        use crate::modbus::DataType;
        let at = || format!("registers.{name}]");
        if spec.bits.is_some() && spec.mask.is_some() {
            return Err((
                at(),
                format!("modbus register `{name}`: give `bits` or `mask`, not both"),
            ));
        }
        if spec.mask == Some(0) {
            return Err((
                at(),
                format!("modbus register `{name}`: `mask` must have at least one bit set"),
            ));
        }
        if spec.mask_bits().is_some() && (spec.table.is_bits() || spec.data_type != DataType::U16) {
            return Err((
                at(),
                format!(
                    "modbus register `{name}`: `bits`/`mask` need a 16-bit register (table holding or input, type u16), got table {} type {}",
                    spec.table, spec.data_type
                ),
            ));
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
        "fire-panel-modbus.toml",
        include_str!("../profiles/fire-panel-modbus.toml"),
    ),
    (
        "call-button.toml",
        include_str!("../profiles/call-button.toml"),
    ),
    (
        "fire-centre-link.toml",
        include_str!("../profiles/fire-centre-link.toml"),
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

    const PANEL: &str = "name = \"p\"\nkind = \"fire-panel\"\n[[fields]]\nname = \"fault\"\nraises = \"sensor-fault\"\n[[fields]]\nname = \"zone\"\n[fields.states]\n0 = { name = \"normal\" }\n2 = { name = \"fire\", raises = \"fire\" }\n[modbus]\n[modbus.registers.fault]\ntable = \"holding\"\naddress = 20\nbits = \"1\"\n[modbus.registers.zone]\ntable = \"holding\"\naddress = 21\nmask = 0x00FF\n";

    #[test]
    fn bit_fields_and_enumerations_become_triggers() {
        let p = Profile::from_toml(PANEL).expect("valid");
        let fault = p.field("fault").expect("field").triggers();
        assert_eq!(fault.len(), 1);
        assert_eq!(
            (fault[0].when, fault[0].alarm),
            (When::NonZero, AlarmKind::SensorFault)
        );
        assert_eq!(fault[0].when.test(1.0, 0.0), (true, false));
        assert_eq!(fault[0].when.test(0.0, 0.0), (false, true));
        let zone = p.field("zone").expect("field");
        let t = zone.triggers();
        assert_eq!(t.len(), 1, "only states that raise");
        assert_eq!(
            (t[0].when, t[0].alarm),
            (When::Equals(2.0), AlarmKind::Fire)
        );
        assert_eq!(t[0].when.test(2.0, 0.0), (true, false));
        assert_eq!(t[0].when.test(3.0, 0.0), (false, true));
        assert_eq!(zone.enum_values()[1].1.name, "fire");
        let m = p.modbus.as_ref().expect("map");
        assert_eq!(
            m.registers
                .values()
                .next()
                .and_then(RegisterSpec::mask_bits),
            Some(0b10)
        );
    }

    #[test]
    fn bad_bit_fields_and_states_are_reported_at_their_line() {
        let bad = |from: &str, to: &str| {
            Profile::from_toml(&PANEL.replace(from, to)).expect_err("must fail")
        };
        let e = bad("bits = \"1\"", "bits = \"16\"");
        assert_eq!(e.line, 15, "{e}");
        assert!(e.message.contains("0 to 15"), "{e}");
        let e = bad("bits = \"1\"", "bits = \"1\"\nmask = 2");
        assert_eq!(e.line, 12, "{e}");
        assert!(e.message.contains("not both"), "{e}");
        let e = bad(
            "table = \"holding\"\naddress = 21",
            "table = \"coil\"\naddress = 21",
        );
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("16-bit register"), "{e}");
        let e = bad("2 = {", "two = {");
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("not an integer"), "{e}");
        let e = bad("raises = \"fire\" }", "raises = \"smoke\" }");
        assert_eq!(e.line, 10, "{e}");
        let e = bad("name = \"zone\"\n", "name = \"zone\"\nraises = \"fire\"\n");
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("cannot both"), "{e}");
    }

    #[test]
    fn syntax_and_unknown_keys_have_lines() {
        let e = Profile::from_toml("name = \"x\"\nkind = \"gas\"\ncolour = 1\n").expect_err("fail");
        assert_eq!(e.line, 3, "{e}");
        let e = Profile::from_toml("name = \"x\"\nkind = gas\n").expect_err("fail");
        assert_eq!(e.line, 2, "{e}");
    }
}

//! Shared by the Modbus tests: a lab profile whose every register names its
//! unit and address, a running source, and checks on its events.
// Each test binary uses a different part of this module; `pub` is for them.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use modbus::{
    ModbusConfig, ModbusEvent, ModbusSource, StatsHandle, WriteError, WriteRequest, WriteValue,
};
use modbus_lab::expected_word;
use protocol::modbus::Table;
use protocol::profile::Profile;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The lab profile: alarm register input 0; telemetry in two input blocks of
/// the same shape (1..=2 and 5..=6, so a stale reply to one would fit the
/// other), a holding and a discrete; a coil and a register to write.
pub fn lab_profile(poll_ms: u32) -> Profile {
    let src = format!(
        r#"
name = "lab-meter"
kind = "gas"
[[fields]]
name = "alarm"
[[fields]]
name = "t1"
[[fields]]
name = "t2"
[[fields]]
name = "t5"
[[fields]]
name = "t6"
[[fields]]
name = "h10"
[[fields]]
name = "d3"
[modbus]
poll_ms = {poll_ms}
alarm_registers = ["alarm"]
[modbus.registers.alarm]
table = "input"
address = 0
[modbus.registers.t1]
table = "input"
address = 1
[modbus.registers.t2]
table = "input"
address = 2
type = "i16"
[modbus.registers.t5]
table = "input"
address = 5
[modbus.registers.t6]
table = "input"
address = 6
scale = 0.5
offset = -10.0
[modbus.registers.h10]
table = "holding"
address = 10
[modbus.registers.d3]
table = "discrete"
address = 3
type = "bool"
[modbus.outputs.relay]
table = "coil"
address = 0
type = "bool"
[modbus.outputs.setpoint]
table = "holding"
address = 20
"#
    );
    Profile::from_toml(&src).expect("lab profile parses")
}

/// Built-in profiles plus the lab profile, by name.
pub fn profiles(poll_ms: u32) -> HashMap<String, Profile> {
    let mut all: HashMap<String, Profile> = protocol::profile::BUILTIN
        .iter()
        .map(|(_, src)| Profile::from_toml(src).expect("builtin"))
        .map(|p| (p.name.to_string(), p))
        .collect();
    let lab = lab_profile(poll_ms);
    all.insert(lab.name.to_string(), lab);
    all
}

/// `[[modbus.lines.devices]]` entries `dev-{unit}` for each unit.
pub fn devices_toml(units: &[u8]) -> String {
    units
        .iter()
        .map(|u| {
            format!(
                "[[lines.devices]]\ndevice = \"dev-{u}\"\nunit_id = {u}\nprofile = \"lab-meter\"\n"
            )
        })
        .collect()
}

/// Parses a `[modbus]` section (without the `modbus.` prefix on tables).
pub fn config(src: &str) -> ModbusConfig {
    toml::from_str(src).unwrap_or_else(|e| panic!("config: {e}\n{src}"))
}

/// A running source and its ends.
pub struct Running {
    pub events: mpsc::Receiver<ModbusEvent>,
    pub writes: mpsc::Sender<WriteRequest>,
    pub stats: StatsHandle,
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
}

/// Builds and starts a source.
pub fn start(cfg: &ModbusConfig, poll_ms: u32) -> Running {
    let source = ModbusSource::build(cfg, &profiles(poll_ms)).expect("valid config");
    let stats = source.stats();
    let (out, events) = mpsc::channel(1024);
    let (writes, wrx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    let task = tokio::spawn(source.run(out, wrx, stop.clone()));
    Running {
        events,
        writes,
        stats,
        stop,
        task,
    }
}

impl Running {
    /// Stops the source and waits for it.
    pub async fn shutdown(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("source stops")
            .expect("source task");
    }

    /// Writes an output and waits for the confirmation.
    pub async fn write(
        &self,
        device: &str,
        output: &str,
        value: WriteValue,
    ) -> Result<(), WriteError> {
        let (reply, rx) = oneshot::channel();
        let req = WriteRequest {
            device: device.parse().expect("id"),
            output: output.parse().expect("name"),
            value,
            reply,
        };
        self.writes.send(req).await.expect("source takes writes");
        tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("write answered")
            .expect("reply")
    }

    /// Receives events until `done` says so (or panics after `limit`).
    pub async fn collect(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&[ModbusEvent]) -> bool,
    ) -> Vec<ModbusEvent> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        while !done(&seen) {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => seen.push(ev),
                Ok(None) => panic!("source stopped"),
                Err(_) => panic!("not done after {limit:?}; {} events", seen.len()),
            }
        }
        seen
    }
}

/// The unit of device `dev-{unit}`.
pub fn unit_of(device: &str) -> u8 {
    device.trim_start_matches("dev-").parse().expect("dev-N")
}

/// The value field `field` of the lab profile must have on `unit`.
pub fn expected(unit: u8, field: &str) -> f32 {
    let profile = lab_profile(100);
    let spec = profile.modbus.expect("map").registers
        [&field.parse::<protocol::FieldName>().expect("name")];
    let raw = match spec.table {
        Table::Discrete => u16::from((u16::from(unit) + spec.address) % 2 == 1),
        Table::Coil => 0,
        Table::Input | Table::Holding => expected_word(unit, spec.address),
    };
    spec.decode(&[raw]).expect("one word")
}

/// Checks that every reading names the value of its own register and unit;
/// returns how many values were checked.
pub fn assert_all_values_belong(events: &[ModbusEvent]) -> usize {
    let mut checked = 0;
    for ev in events {
        if let ModbusEvent::Readings {
            device,
            readings,
            alarm_class,
            ..
        } = ev
        {
            let unit = unit_of(device);
            for (field, value) in readings {
                assert_eq!(
                    *alarm_class,
                    field.as_str() == "alarm",
                    "{device} {field} in the wrong class"
                );
                let want = expected(unit, field);
                assert!(
                    (value - want).abs() < 1e-3,
                    "{device}.{field} = {value}, want {want}: a value from another register or slave"
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Readings events of `device` of one class.
pub fn readings_of(events: &[ModbusEvent], device: &str, alarm: bool) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ModbusEvent::Readings { device: d, alarm_class, .. } if d == device && *alarm_class == alarm))
        .count()
}

/// Whether `events` hold an Online (`true`) or Offline event for `device`.
pub fn has_availability(events: &[ModbusEvent], device: &str, online: bool) -> bool {
    events.iter().any(|e| match e {
        ModbusEvent::Online { device: d, .. } => online && d == device,
        ModbusEvent::Offline { device: d, .. } => !online && d == device,
        _ => false,
    })
}

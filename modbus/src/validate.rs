//! Checks a `[modbus]` section against the known profiles, collecting every
//! problem, each naming its field: `modbus.lines[0].devices[2].unit_id: ...`.

use std::collections::HashMap;

use protocol::profile::Profile;

use crate::config::{LineConfig, LinkConfig, ModbusConfig};

/// Everything wrong with a `[modbus]` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct ConfigError {
    /// One line per problem, each starting with the field's path.
    pub problems: Vec<String>,
}

/// Returns every problem of `cfg`, in file order.
pub(crate) fn validate(cfg: &ModbusConfig, profiles: &HashMap<String, Profile>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, String> = HashMap::new();
    for (i, line) in cfg.lines.iter().enumerate() {
        let at = format!("modbus.lines[{i}]");
        check_line(&at, line, &mut problems);
        let mut units: HashMap<u8, usize> = HashMap::new();
        for (j, dev) in line.devices.iter().enumerate() {
            let at = format!("{at}.devices[{j}]");
            if let Some(first) = seen.insert(dev.device.as_str(), at.clone()) {
                problems.push(format!(
                    "{at}.device: `{}` is already on {first}",
                    dev.device
                ));
            }
            let serial = matches!(line.link, LinkConfig::Rtu(_));
            if serial && !(1..=247).contains(&dev.unit_id) {
                problems.push(format!(
                    "{at}.unit_id: must be 1..=247 on a serial line, got {}",
                    dev.unit_id
                ));
            }
            if let Some(k) = units.insert(dev.unit_id, j) {
                problems.push(format!(
                    "{at}.unit_id: {} is already used by devices[{k}] on this line",
                    dev.unit_id
                ));
            }
            check_profile(&at, dev.profile.as_str(), profiles, &mut problems);
        }
    }
    problems
}

fn check_line(at: &str, line: &LineConfig, problems: &mut Vec<String>) {
    if line.timeout_ms == 0 {
        problems.push(format!("{at}.timeout_ms: must be at least 1"));
    }
    if line.alarm_poll_divisor == 0 {
        problems.push(format!("{at}.alarm_poll_divisor: must be at least 1"));
    }
    if line.offline_after == 0 {
        problems.push(format!("{at}.offline_after: must be at least 1"));
    }
    let b = line.backoff;
    if b.initial_ms == 0 || b.initial_ms > b.max_ms {
        problems.push(format!(
            "{at}.backoff: need 1 <= initial_ms <= max_ms, got {} and {}",
            b.initial_ms, b.max_ms
        ));
    }
    if let LinkConfig::Rtu(rtu) = &line.link {
        if rtu.path.as_os_str().is_empty() {
            problems.push(format!("{at}.rtu.path: must name a serial device"));
        }
        if !(1_200..=1_000_000).contains(&rtu.baud) {
            problems.push(format!(
                "{at}.rtu.baud: must be 1200..=1000000, got {}",
                rtu.baud
            ));
        }
        if !(7..=8).contains(&rtu.data_bits) {
            problems.push(format!(
                "{at}.rtu.data_bits: must be 7 or 8, got {}",
                rtu.data_bits
            ));
        }
        if !(1..=2).contains(&rtu.stop_bits) {
            problems.push(format!(
                "{at}.rtu.stop_bits: must be 1 or 2, got {}",
                rtu.stop_bits
            ));
        }
    }
}

fn check_profile(
    at: &str,
    name: &str,
    profiles: &HashMap<String, Profile>,
    problems: &mut Vec<String>,
) {
    match profiles.get(name) {
        None => {
            let mut known: Vec<_> = profiles.keys().map(String::as_str).collect();
            known.sort_unstable();
            problems.push(format!(
                "{at}.profile: no profile named `{name}` (known: {})",
                known.join(", ")
            ));
        }
        Some(p) => match &p.modbus {
            None => problems.push(format!(
                "{at}.profile: `{name}` has no [modbus] register map"
            )),
            Some(m) if m.registers.is_empty() && m.outputs.is_empty() => problems.push(format!(
                "{at}.profile: `{name}` maps no registers and no outputs"
            )),
            Some(_) => {}
        },
    }
}

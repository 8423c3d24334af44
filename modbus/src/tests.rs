//! Config parsing and validation of the Modbus source.

use std::collections::HashMap;

use protocol::profile::{BUILTIN, Profile};

use crate::{LineTiming, LinkConfig, ModbusConfig, ModbusSource, Parity};

fn builtin() -> HashMap<String, Profile> {
    BUILTIN
        .iter()
        .filter_map(|(_, src)| Profile::from_toml(src).ok())
        .map(|p| (p.name.to_string(), p))
        .collect()
}

fn parse(src: &str) -> Result<ModbusConfig, toml::de::Error> {
    toml::from_str(src)
}

#[test]
fn a_line_takes_defaults_and_one_link() {
    let cfg = parse("[[lines]]\nrtu = { path = \"/dev/ttyUSB0\" }\n").expect("parses");
    let line = &cfg.lines[0];
    let LinkConfig::Rtu(rtu) = &line.link else {
        panic!("rtu")
    };
    assert_eq!(
        (rtu.baud, rtu.parity, rtu.data_bits, rtu.stop_bits),
        (19_200, Parity::Even, 8, 1)
    );
    assert_eq!(
        (line.timeout_ms, line.retries, line.late_window_ms),
        (200, 1, 800)
    );
    assert_eq!(rtu.timing().bits_per_char(), 11);
    let e = parse("[[lines]]\ntcp = { addr = \"127.0.0.1:502\" }\nrtu = { path = \"/dev/x\" }\n");
    assert!(
        e.expect_err("two links")
            .to_string()
            .contains("exactly one")
    );
    let e = parse("[[lines]]\ntcp = { addr = \"127.0.0.1:502\" }\ncolour = 1\n");
    assert!(e.expect_err("unknown key").to_string().contains("colour"));
}

#[test]
fn an_rtu_link_times_the_line_by_its_framing() {
    let src = "[[lines]]\nrtu = { path = \"/dev/ttyUSB0\", baud = 9600, parity = \"none\", stop_bits = 2 }\n";
    let cfg = parse(src).expect("parses");
    let LinkConfig::Rtu(rtu) = &cfg.lines[0].link else {
        panic!("rtu")
    };
    let timing = LineTiming {
        baud: 9600,
        data_bits: 8,
        parity: false,
        stop_bits: 2,
    };
    assert_eq!(rtu.timing(), timing);
    let odd = parse("[[lines]]\nrtu = { path = \"/dev/x\", parity = \"odd\" }\n").expect("parses");
    let LinkConfig::Rtu(rtu) = &odd.lines[0].link else {
        panic!("rtu")
    };
    assert_eq!(rtu.timing(), LineTiming::even(19_200), "odd and even alike");
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let src = r#"
[[lines]]
rtu = { path = "/dev/ttyUSB0", data_bits = 9 }
timeout_ms = 0
[[lines.devices]]
device = "gas-1"
unit_id = 0
profile = "gas-modbus"
[[lines.devices]]
device = "gas-2"
unit_id = 0
profile = "nope"
[[lines.devices]]
device = "gas-1"
unit_id = 3
profile = "smoke"
"#;
    let e = ModbusSource::build(&parse(src).expect("parses"), &builtin()).expect_err("invalid");
    let p = e.problems;
    let has = |s: &str| p.iter().any(|x| x.starts_with(s));
    assert!(
        has("modbus.lines[0].timeout_ms: must be at least 1"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].rtu.data_bits: must be 7 or 8, got 9"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].devices[0].unit_id: must be 1..=247 on a serial line, got 0"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].devices[1].unit_id: 0 is already used by devices[0]"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].devices[1].profile: no profile named `nope`"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].devices[2].device: `gas-1` is already on modbus.lines[0].devices[0]"),
        "{p:#?}"
    );
    assert!(
        has("modbus.lines[0].devices[2].profile: `smoke` has no [modbus] register map"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 8, "{p:#?}");
}

#[test]
fn a_valid_config_builds_with_stats_per_device() {
    let src = "[[lines]]\ntcp = { addr = \"127.0.0.1:1502\" }\n[[lines.devices]]\ndevice = \"gas-1\"\nunit_id = 0\nprofile = \"gas-modbus\"\n";
    let source = ModbusSource::build(&parse(src).expect("parses"), &builtin()).expect("valid");
    let stats = source.stats().snapshot();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (stats[0].device.as_str(), stats[0].unit_id, stats[0].online),
        ("gas-1", 0, None)
    );
}

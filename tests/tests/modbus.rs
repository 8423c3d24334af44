//! A wired gas panel on Modbus TCP behind the running gateway: its readings
//! go through the same rules as MQTT telemetry, a gas alarm closes its valve
//! by a coil write confirmed by read-back, and a dead panel goes offline.

use std::time::Duration;

use gridsense_tests::{Compound, WAIT, alarm};
use modbus_lab::{Bank, TcpSlaves};

fn modbus_section(addr: std::net::SocketAddr) -> String {
    format!(
        "[modbus]\n[[modbus.lines]]\ntcp = {{ addr = \"{addr}\" }}\ntimeout_ms = 200\n\
         [[modbus.lines.devices]]\ndevice = \"gasmb-carpark-01\"\nunit_id = 1\nprofile = \"gas-modbus\"\n"
    )
}

#[tokio::test]
async fn a_gas_reading_on_a_wired_panel_raises_the_alarm_and_closes_its_valve() {
    // Unit 1's input register 0 reads 1000 → 100.0 %LEL with the profile's 0.1 scale.
    let slaves = TcpSlaves::start(Bank::with_units([1]))
        .await
        .expect("slaves");
    let c = Compound::start(&modbus_section(slaves.addr)).await;
    let mut it = c.integrator().await;
    let gas = alarm(&mut it, "gas alarm", |v| {
        v["kind"] == "gas" && v["state"] == "active"
    })
    .await;
    assert_eq!(gas["devices"][0], "gasmb-carpark-01");
    let closed = tokio::time::timeout(WAIT, async {
        while slaves.bank.coil(1, 0) != Some(true) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "valve coil written");
    let id = gas["id"].as_str().expect("id").to_string();
    let rows = tokio::time::timeout(WAIT, async {
        loop {
            let rows = c.store().linkage_for(&id).expect("read");
            if !rows.is_empty() {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("linkage recorded");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].3),
        ("gasmb-carpark-01", "valve-close", true)
    );
}

#[tokio::test]
async fn a_dead_panel_becomes_an_offline_fault() {
    let slaves = TcpSlaves::start(Bank::with_units([1]))
        .await
        .expect("slaves");
    slaves.bank.set_dead(1, true);
    let c = Compound::start(&modbus_section(slaves.addr)).await;
    let mut it = c.integrator().await;
    let f = alarm(&mut it, "offline fault", |v| v["kind"] == "device-offline").await;
    assert_eq!(f["devices"][0], "gasmb-carpark-01");
}

#[tokio::test]
async fn a_status_words_bits_and_a_zone_state_raise_fault_tamper_and_fire() {
    // The fire panel's status word (holding 20) and zone state (holding
    // 21) start clear; the profile takes bit 1, bit 2 and the low byte.
    let bank = Bank::with_units([2]);
    bank.set_holding(2, 20, 0);
    bank.set_holding(2, 21, 0);
    let slaves = TcpSlaves::start(bank).await.expect("slaves");
    let section = format!(
        "[modbus]\n[[modbus.lines]]\ntcp = {{ addr = \"{}\" }}\ntimeout_ms = 200\n\
         [[modbus.lines.devices]]\ndevice = \"panel-carpark-fire\"\nunit_id = 2\nprofile = \"fire-panel-modbus\"\n",
        slaves.addr
    );
    let c = Compound::start(&section).await;
    let mut it = c.integrator().await;
    let panel = |v: &serde_json::Value| v["devices"][0] == "panel-carpark-fire";

    // Bit 1 (wiring fault) among bits the profile does not read.
    slaves.bank.set_holding(2, 20, 0xF001 | 0b0010);
    let fault = alarm(&mut it, "wiring fault", |v| {
        panel(v) && v["kind"] == "sensor-fault" && v["state"] == "active"
    })
    .await;
    // Bit 2 (cabinet open) as well.
    slaves.bank.set_holding(2, 20, 0xF001 | 0b0110);
    alarm(&mut it, "cabinet open", |v| {
        panel(v) && v["kind"] == "tamper" && v["state"] == "active"
    })
    .await;
    // Zone state 2 in the low byte (the high byte is something else): fire.
    slaves.bank.set_holding(2, 21, 0x3302);
    let fire = alarm(&mut it, "zone in fire", |v| panel(v) && v["kind"] == "fire").await;
    assert!(
        matches!(fire["state"].as_str(), Some("pre-alarm" | "active")),
        "{fire}"
    );
    // Bit 1 clears: the fault ends, the tamper stays.
    slaves.bank.set_holding(2, 20, 0b0100);
    let ended = alarm(&mut it, "wiring fault cleared", |v| {
        v["id"] == fault["id"] && v["state"] == "cleared"
    })
    .await;
    assert_eq!(ended["kind"], "sensor-fault");
    let open: Vec<String> = tokio::time::timeout(WAIT, async {
        loop {
            let (_, v) = c.http("GET", "/api/alarms", "").await;
            let kinds: Vec<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| panel(a))
                .filter_map(|a| a["kind"].as_str().map(str::to_owned))
                .collect();
            if !kinds.is_empty() {
                return kinds;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_default();
    assert!(open.contains(&"tamper".to_string()), "{open:?}");
    assert!(!open.contains(&"sensor-fault".to_string()), "{open:?}");
}

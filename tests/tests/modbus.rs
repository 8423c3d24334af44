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

//! The Modbus source against real Modbus TCP slaves (tokio-modbus server on
//! loopback, from modbus-lab).

mod common;

use std::time::Duration;

use common::{
    assert_all_values_belong, config, devices_toml, has_availability, readings_of, start,
};
use modbus::{WriteError, WriteValue};
use modbus_lab::{Bank, TcpSlaves};

fn tcp_config(addr: std::net::SocketAddr, units: &[u8], extra: &str) -> String {
    format!(
        "[[lines]]\ntcp = {{ addr = \"{addr}\" }}\n{extra}\n{}",
        devices_toml(units)
    )
}

#[tokio::test]
async fn tcp_values_are_read_scaled_and_belong_to_their_slave() {
    let slaves = TcpSlaves::start(Bank::with_units([1, 2, 3]))
        .await
        .expect("server");
    let mut src = start(&config(&tcp_config(slaves.addr, &[1, 2, 3], "")), 50);
    let events = src
        .collect(Duration::from_secs(20), |ev| {
            ["dev-1", "dev-2", "dev-3"]
                .iter()
                .all(|d| readings_of(ev, d, true) >= 3 && readings_of(ev, d, false) >= 2)
        })
        .await;
    // 3 devices × (≥ 3 alarm polls × 1 field + ≥ 2 telemetry polls × 6 fields).
    assert!(assert_all_values_belong(&events) >= 3 * (3 + 12));
    for d in ["dev-1", "dev-2", "dev-3"] {
        assert!(has_availability(&events, d, true), "{d} online");
    }
    // Alarm registers are polled more often than telemetry.
    let s = src.stats.device("dev-1").expect("stats");
    assert!(s.alarm_readings > s.telemetry_readings, "{s:?}");
    src.shutdown().await;
}

#[tokio::test]
async fn tcp_write_back_is_confirmed_by_read_back() {
    let slaves = TcpSlaves::start(Bank::with_units([1]))
        .await
        .expect("server");
    let src = start(&config(&tcp_config(slaves.addr, &[1], "")), 200);
    assert_eq!(
        src.write("dev-1", "relay", WriteValue::Bool(true)).await,
        Ok(())
    );
    assert_eq!(slaves.bank.coil(1, 0), Some(true));
    assert_eq!(
        src.write("dev-1", "setpoint", WriteValue::U16(1234)).await,
        Ok(())
    );
    assert_eq!(slaves.bank.holding(1, 20), Some(1234));
    assert!(matches!(
        src.write("dev-1", "relay", WriteValue::U16(1)).await,
        Err(WriteError::WrongValue(_))
    ));
    assert!(matches!(
        src.write("dev-1", "door", WriteValue::Bool(true)).await,
        Err(WriteError::UnknownOutput { .. })
    ));
    assert!(matches!(
        src.write("dev-9", "relay", WriteValue::Bool(true)).await,
        Err(WriteError::UnknownDevice(_))
    ));
    // An output outside the device's map: the device refuses.
    slaves.bank.set_address_limit(1, Some(15));
    assert_eq!(
        src.write("dev-1", "setpoint", WriteValue::U16(7)).await,
        Err(WriteError::Exception(2))
    );
    let s = src.stats.device("dev-1").expect("stats");
    assert_eq!(
        (s.writes_confirmed, s.writes_failed),
        (2, 3),
        "unknown devices are nobody's"
    );
    src.shutdown().await;
}

#[tokio::test]
async fn tcp_exceptions_are_counted_per_device_and_do_not_take_it_offline() {
    let bank = Bank::with_units([1, 2]);
    // Unit 2 has no registers at 5 and above: those blocks answer exceptions.
    bank.set_address_limit(2, Some(5));
    let slaves = TcpSlaves::start(bank).await.expect("server");
    let mut src = start(
        &config(&tcp_config(slaves.addr, &[1, 2], "offline_after = 1")),
        50,
    );
    let events = src
        .collect(Duration::from_secs(20), |ev| {
            readings_of(ev, "dev-2", false) >= 3
        })
        .await;
    assert_all_values_belong(&events);
    let (one, two) = (
        src.stats.device("dev-1").expect("1"),
        src.stats.device("dev-2").expect("2"),
    );
    assert_eq!(one.exceptions, 0);
    assert!(two.exceptions >= 6, "two blocks × 3 polls: {two:?}");
    assert_eq!(two.transport_errors(), 0);
    assert!(
        !has_availability(&events, "dev-2", false),
        "an answering device is not offline"
    );
    src.shutdown().await;
}

#[tokio::test]
async fn tcp_dead_slave_is_isolated_then_noticed_when_back() {
    let bank = Bank::with_units([1, 2, 3]);
    bank.set_dead(3, true);
    let slaves = TcpSlaves::start(bank).await.expect("server");
    let extra = "timeout_ms = 50\nretries = 1\noffline_after = 2\nbackoff = { initial_ms = 100, max_ms = 400 }";
    let mut src = start(&config(&tcp_config(slaves.addr, &[1, 2, 3], extra)), 100);
    let events = src
        .collect(Duration::from_secs(20), |ev| {
            has_availability(ev, "dev-3", false) && readings_of(ev, "dev-1", true) >= 40
        })
        .await;
    assert_all_values_belong(&events);
    let dead = src.stats.device("dev-3").expect("3");
    let live = src.stats.device("dev-1").expect("1");
    // Backed off: a few polls of the dead slave against dozens of the others.
    assert!(
        dead.polls * 4 <= live.polls,
        "dead {} vs live {}",
        dead.polls,
        live.polls
    );
    assert_eq!(dead.requests, dead.polls * 2, "one retry per failed poll");
    assert_eq!(live.transport_errors(), 0);
    slaves.bank.set_dead(3, false);
    let back = src
        .collect(Duration::from_secs(20), |ev| {
            has_availability(ev, "dev-3", true) && readings_of(ev, "dev-3", false) >= 1
        })
        .await;
    assert_all_values_belong(&back);
    src.shutdown().await;
}

#[tokio::test]
async fn scan_lists_the_units_that_answer() {
    let bank = Bank::with_units([2, 5, 9]);
    bank.set_address_limit(9, Some(0));
    let slaves = TcpSlaves::start(bank).await.expect("server");
    let link = modbus::scan::parse_line(&format!("tcp:{}", slaves.addr)).expect("spec");
    let hits = modbus::scan::scan(
        &link,
        1..=10,
        protocol::modbus::Table::Holding,
        0,
        Duration::from_millis(50),
    )
    .await
    .expect("scan");
    let found: Vec<_> = hits.iter().map(|h| (h.unit, h.answer)).collect();
    assert_eq!(found, [(2, Ok(2000)), (5, Ok(5000)), (9, Err(2))]);
}

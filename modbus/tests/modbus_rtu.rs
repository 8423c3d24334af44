//! The Modbus source against real RTU slaves (tokio-modbus RTU server) on an
//! emulated RS-485 line (modbus-lab's line emulator over ptys, 19,200 baud
//! 8E1), with injected faults.

mod common;

use std::time::Duration;

use common::{
    assert_all_values_belong, config, devices_toml, has_availability, readings_of, start,
};
use modbus::{ModbusEvent, WriteValue};
use modbus_lab::{Bank, Fault, FaultRule, LineTiming, RtuBus};

fn bus(units: &[u8]) -> RtuBus {
    RtuBus::start(
        Bank::with_units(units.iter().copied()),
        LineTiming::even(19_200),
    )
    .expect("bus")
}

fn rtu_config(bus: &RtuBus, units: &[u8], extra: &str) -> String {
    format!(
        "[[lines]]\nrtu = {{ path = \"{}\", baud = 19200 }}\n{extra}\n{}",
        bus.path(),
        devices_toml(units)
    )
}

fn checked_values(events: &[ModbusEvent]) -> usize {
    events
        .iter()
        .map(|e| match e {
            ModbusEvent::Readings { readings, .. } => readings.len(),
            _ => 0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_values_are_read_scaled_with_the_gap_kept() {
    let bus = bus(&[1, 2, 3]);
    let mut src = start(&config(&rtu_config(&bus, &[1, 2, 3], "")), 400);
    let events = src
        .collect(Duration::from_secs(30), |ev| {
            ["dev-1", "dev-2", "dev-3"]
                .iter()
                .all(|d| readings_of(ev, d, true) >= 3 && readings_of(ev, d, false) >= 2)
        })
        .await;
    assert!(assert_all_values_belong(&events) >= 3 * (3 + 12));
    let line = bus.stats();
    assert_eq!(
        line.gap_violations, 0,
        "the master kept 3.5 characters between frames: {line:?}"
    );
    for s in src.stats.snapshot() {
        assert_eq!(s.transport_errors(), 0, "{s:?}");
    }
    src.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_crc_errors_and_exceptions_are_counted_per_device() {
    let bus = bus(&[1, 2, 3]);
    bus.add_fault(FaultRule::every(2, 3, Fault::FlipByte));
    bus.bank.set_address_limit(3, Some(5));
    let mut src = start(&config(&rtu_config(&bus, &[1, 2, 3], "retries = 2")), 400);
    let events = src
        .collect(Duration::from_secs(30), |ev| {
            readings_of(ev, "dev-2", false) >= 3 && readings_of(ev, "dev-3", false) >= 3
        })
        .await;
    assert_all_values_belong(&events);
    let [one, two, three] =
        [1, 2, 3].map(|u| src.stats.device(&format!("dev-{u}")).expect("stats"));
    assert!(two.crc_errors > 0, "{two:?}");
    assert_eq!(
        (one.crc_errors, one.exceptions, three.crc_errors),
        (0, 0, 0)
    );
    assert!(three.exceptions >= 6, "{three:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ModbusEvent::Fault { device, .. } if device == "dev-2"))
    );
    src.shutdown().await;
}

/// The hazard of tokio-modbus's RTU client: a reply that arrives after its
/// request timed out, taken as the answer to the next request. Here replies
/// come late, short, or with noise behind them, while every device has two
/// blocks of the same shape, and still every value must be its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_late_replies_are_never_taken_for_another_request() {
    let units = [1, 2, 3, 4];
    let bus = bus(&units);
    bus.add_fault(FaultRule::every(
        1,
        3,
        Fault::Late(Duration::from_millis(60)),
    ));
    bus.add_fault(FaultRule::every(
        2,
        4,
        Fault::Late(Duration::from_millis(45)),
    ));
    bus.add_fault(FaultRule::every(3, 5, Fault::Truncate(2)));
    bus.add_fault(FaultRule::every(4, 4, Fault::Noise(vec![0x55, 0x01, 0x04])));
    let extra = "timeout_ms = 30\nlate_window_ms = 150\nretries = 1\noffline_after = 1000\nbackoff = { initial_ms = 20, max_ms = 100 }";
    let mut src = start(&config(&rtu_config(&bus, &units, extra)), 1200);
    let events = src
        .collect(Duration::from_secs(60), |ev| {
            checked_values(ev) >= 300
                && units
                    .iter()
                    .all(|u| readings_of(ev, &format!("dev-{u}"), false) >= 3)
        })
        .await;
    assert!(assert_all_values_belong(&events) >= 300);
    let line = bus.stats();
    assert!(line.faults >= 20, "{line:?}");
    let one = src.stats.device("dev-1").expect("stats");
    assert!(one.timeouts > 0, "late replies time out: {one:?}");
    let three = src.stats.device("dev-3").expect("stats");
    assert!(three.short_frames > 0, "{three:?}");
    let four = src.stats.device("dev-4").expect("stats");
    assert!(four.noise > 0, "{four:?}");
    src.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_dead_slave_is_isolated_and_writes_are_confirmed() {
    let bus = bus(&[1, 2, 3]);
    bus.bank.set_dead(3, true);
    let extra = "timeout_ms = 50\noffline_after = 2\nbackoff = { initial_ms = 200, max_ms = 800 }";
    let mut src = start(&config(&rtu_config(&bus, &[1, 2, 3], extra)), 400);
    let events = src
        .collect(Duration::from_secs(30), |ev| {
            has_availability(ev, "dev-3", false) && readings_of(ev, "dev-1", true) >= 15
        })
        .await;
    assert_all_values_belong(&events);
    let (dead, live) = (
        src.stats.device("dev-3").expect("3"),
        src.stats.device("dev-1").expect("1"),
    );
    assert!(
        dead.polls * 3 <= live.polls,
        "dead {} vs live {}",
        dead.polls,
        live.polls
    );
    assert_eq!(
        src.write("dev-1", "relay", WriteValue::Bool(true)).await,
        Ok(())
    );
    assert_eq!(bus.bank.coil(1, 0), Some(true));
    assert_eq!(
        src.write("dev-2", "setpoint", WriteValue::U16(4321)).await,
        Ok(())
    );
    assert_eq!(bus.bank.holding(2, 20), Some(4321));
    assert!(
        src.write("dev-3", "relay", WriteValue::Bool(true))
            .await
            .is_err()
    );
    bus.bank.set_dead(3, false);
    src.collect(Duration::from_secs(30), |ev| {
        has_availability(ev, "dev-3", true)
    })
    .await;
    assert_eq!(bus.stats().gap_violations, 0);
    src.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtu_scan_lists_the_units_on_the_bus() {
    let bus = bus(&[2, 4]);
    let link = modbus::scan::parse_line(&format!("rtu:{}:19200:8E1", bus.path())).expect("spec");
    let hits = modbus::scan::scan(
        &link,
        1..=5,
        protocol::modbus::Table::Holding,
        3,
        // Generous: a loaded CI machine can delay the line emulator's thread.
        Duration::from_millis(250),
    )
    .await
    .expect("scan");
    let found: Vec<_> = hits.iter().map(|h| (h.unit, h.answer)).collect();
    assert_eq!(found, [(2, Ok(2003)), (4, Ok(4003))]);
}

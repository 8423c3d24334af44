//! `gridsense-demo simulate month`, CI-sized: one day of a 120-node
//! compound (6 buildings, 4 grid cells) with the shipped month scenario,
//! the real `gridsense run` on the virtual clock. The report's figures are
//! recomputed here from the gateway's SQLite file and compared with
//! `report.json`; the month's targets that are behaviour (cards, fires
//! confirmed, the outage rules, every order at the district) are asserted;
//! timing figures are printed, not asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const START_MS: i64 = 1_793_491_200_000;
const DAYS: i64 = 1;

/// The workspace's binaries next to this test's, built (or found up to
/// date) by cargo first.
fn binaries() -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    let (gw, demo) = (dir.join("gridsense"), dir.join("gridsense-demo"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.args([
        "build",
        "-p",
        "gridsense-gateway",
        "-p",
        "gridsense-demo",
        "--bins",
    ]);
    if dir.file_name().is_some_and(|n| n == "release") {
        c.arg("--release");
    }
    let st = c.status().expect("cargo build");
    assert!(st.success(), "building gridsense and gridsense-demo failed");
    (gw, demo)
}

fn q(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn nearest_rank(mut v: Vec<i64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1] as f64 / 1000.0
}

#[test]
fn a_day_of_the_month_reports_what_the_store_holds() {
    let (gw, demo) = binaries();
    let out = tempfile::tempdir().expect("dir");
    let run = Command::new(&demo)
        .args([
            "simulate", "month", "--seed", "3", "--days", "1", "--nodes", "120", "--out",
        ])
        .arg(out.path())
        .arg("--gateway-bin")
        .arg(&gw)
        .output()
        .expect("gridsense-demo simulate month");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "simulate month failed:\n{stderr}");
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let rep: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("report.json")).expect("report.json"),
    )
    .expect("json");
    let c = rusqlite::Connection::open_with_flags(
        out.path().join("gridsense.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("db");
    let end = START_MS + DAYS * 86_400_000;
    let not_cancelled = "state != 'cancelled'";
    let close_by = "json_extract(body, '$.up.close_by')";
    let ack_by = "json_extract(body, '$.up.ack_by')";

    // Orders, raw alarm-class events, false tickets.
    let orders = q(&c, "SELECT count(*) FROM orders");
    let raw = q(
        &c,
        "SELECT count(*) FROM events WHERE kind IN ('alarm', 'pre-alarm')",
    );
    let cancelled = q(&c, "SELECT count(*) FROM orders WHERE state = 'cancelled'");
    assert_eq!(rep["orders"], orders);
    assert_eq!(rep["raw_alarm_events"], raw);
    assert_eq!(rep["false_tickets"], cancelled);
    let share = if raw == 0 {
        0.0
    } else {
        cancelled as f64 / raw as f64
    };
    assert!((rep["false_ticket_share"].as_f64().expect("share") - share).abs() < 1e-12);
    assert!(
        orders > 5 && raw > 10,
        "the day holds incidents: {orders} orders, {raw} raw alarm events"
    );

    // Closure of the due orders.
    let due = q(
        &c,
        &format!("SELECT count(*) FROM orders WHERE {not_cancelled} AND {close_by} <= {end}"),
    );
    let closed_due = q(
        &c,
        &format!(
            "SELECT count(*) FROM orders WHERE state = 'closed' AND ended_at <= {end} AND {close_by} <= {end}"
        ),
    );
    assert_eq!(rep["due_orders"], due);
    assert_eq!(rep["closed_due"], closed_due);
    let rate = if due == 0 {
        1.0
    } else {
        closed_due as f64 / due as f64
    };
    assert!((rep["closure_rate"].as_f64().expect("rate") - rate).abs() < 1e-12);
    assert_eq!(
        rep["open_due"].as_array().expect("open_due").len() as i64,
        due - closed_due,
        "every due order still open is listed with its reason"
    );

    // Late orders: a deadline missed by the end.
    let late = q(
        &c,
        &format!(
            "SELECT count(*) FROM orders WHERE {not_cancelled} AND (coalesce(acked_at, {end}) > {ack_by} \
             OR (CASE WHEN state = 'closed' THEN ended_at ELSE {end} END) > {close_by})"
        ),
    );
    assert_eq!(rep["late_orders"], late);
    assert_eq!(
        rep["cards_on_time"], rep["late_orders"],
        "card errors: {}",
        rep["card_errors"]
    );
    assert_eq!(
        rep["cards_on_non_late"], 0,
        "no card on an order that met its deadlines"
    );

    // Per cell: cards from the orders table, percentiles from its times.
    let mut st = c
        .prepare(&format!("SELECT cell, sum(yellow), sum(red), count(*) FROM orders WHERE {not_cancelled} GROUP BY cell"))
        .expect("q");
    let cells: Vec<(String, i64, i64, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .map(Result::unwrap)
        .collect();
    assert!(!cells.is_empty());
    for (cell, y, red, n) in &cells {
        let f = &rep["per_cell"][cell];
        assert_eq!(
            (
                f["yellow"].as_i64(),
                f["red"].as_i64(),
                f["orders"].as_i64()
            ),
            (Some(*y), Some(*red), Some(*n)),
            "{cell}"
        );
        let acks: Vec<i64> = c
            .prepare(&format!(
                "SELECT acked_at - opened_at FROM orders WHERE {not_cancelled} AND cell = ?1 AND acked_at IS NOT NULL AND acked_at <= {end}"
            ))
            .expect("q")
            .query_map([cell], |r| r.get(0))
            .expect("rows")
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            f["ack_p50_s"].as_f64(),
            Some(nearest_rank(acks.clone(), 0.5)),
            "{cell}"
        );
        assert_eq!(
            f["ack_p90_s"].as_f64(),
            Some(nearest_rank(acks, 0.9)),
            "{cell}"
        );
    }
    assert_eq!(
        rep["per_cell"].as_object().expect("cells").len(),
        4,
        "four grid cells"
    );

    // Fires: confirmed, their doors released, their orders at the district.
    let fires = rep["fires"].as_array().expect("fires");
    assert_eq!(fires.len(), 3);
    for f in fires {
        assert!(f["confirmed_ms"].as_u64() > Some(0), "confirmed: {f}");
        let alarm = f["alarm"].as_str().expect("alarm");
        let state = c
            .query_row("SELECT state FROM alarms WHERE id = ?1", [alarm], |r| {
                r.get::<_, String>(0)
            })
            .expect("the fire's alarm is stored");
        assert!(
            matches!(state.as_str(), "active" | "acknowledged"),
            "{alarm}: {state}"
        );
        let released: i64 = c
            .query_row(
                "SELECT count(DISTINCT device) FROM linkage WHERE alarm = ?1 AND ok = 1",
                [alarm],
                |r| r.get(0),
            )
            .expect("linkage");
        assert!(released > 0, "{alarm}: no door released");
        assert_eq!(f["within_outage_rules"], true, "{f}");
        println!(
            "fire {}: confirmation {} ms, unlock sent {} ms, doors released {} ms after confirmation, at the district {} ms after opening, joined an open alarm: {}",
            f["zone"],
            f["confirmation_ms"],
            f["unlock_sent_ms"],
            f["door_release_ms"],
            f["at_district_ms"],
            f["joined_open_alarm"]
        );
    }
    assert_eq!(
        rep["never_at_district"], 0,
        "every order reached the district"
    );
    // The restart and the kill -9 happened and the gateway came back.
    let restarts = rep["restarts"].as_array().expect("restarts");
    assert_eq!(restarts.len(), 2);
    assert!(restarts.iter().any(|r| {
        r["exit"]
            .as_str()
            .is_some_and(|e| e.contains("SIGKILL") || e.contains('9'))
    }));
    // The plots.
    for f in [
        "orders_per_day.svg",
        "time_to_close.svg",
        "cards_per_cell.svg",
        "closure_per_cell.svg",
    ] {
        let s = std::fs::read_to_string(out.path().join(f)).expect(f);
        assert!(s.starts_with("<svg") && s.contains("<rect"), "{f}");
    }
    assert!(
        std::fs::read_to_string(out.path().join("report.md"))
            .expect("md")
            .contains("closure_rate")
    );
    println!("wall {} s", rep["wall_s"]);
}

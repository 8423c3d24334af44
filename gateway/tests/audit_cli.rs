//! `gridsense audit verify` and `audit export` on a real SQLite file.

use std::process::Command;

use gateway::store::Store;

fn gridsense(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(args)
        .output()
        .expect("run");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn verify_passes_then_fails_at_the_record_with_one_changed_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let mut audit = Store::open(&db).expect("open");
    for i in 1..=50 {
        let body =
            serde_json::json!({"order": format!("gw01-{i}"), "state": "sent", "tier": "grid"});
        audit
            .append_audit(1_763_900_000_000, "order.sent", &format!("gw01-{i}"), &body)
            .expect("append");
    }
    drop(audit);
    let path = db.to_str().expect("utf8 path");
    let (code, text) = gridsense(&["audit", "verify", "--db", path]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ok, 50 records"), "{text}");

    let out = dir.path().join("audit.jsonl");
    let (code, text) = gridsense(&[
        "audit",
        "export",
        "--db",
        path,
        "--out",
        out.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        std::fs::read_to_string(&out)
            .expect("export")
            .lines()
            .count(),
        50
    );

    // One byte of record 23: `grid` becomes `gric`.
    let conn = rusqlite::Connection::open(&db).expect("db");
    conn.execute(
        "UPDATE audit SET body = replace(body, '\"grid\"', '\"gric\"') WHERE seq = 23",
        [],
    )
    .expect("tamper");
    drop(conn);
    let (code, text) = gridsense(&["audit", "verify", "--db", path]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("BROKEN at record 23:"), "{text}");
    let (code, _) = gridsense(&["audit", "verify", "--db", "/nonexistent/gw.db"]);
    assert_eq!(code, 2);
}

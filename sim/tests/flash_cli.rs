//! `gridsense-flash` as a user runs it: build blobs from a CSV, verify one,
//! and a bad CSV refused with its line and column.

use std::path::PathBuf;
use std::process::Command;

fn flash() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridsense-flash"))
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gs-flash-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tempdir");
    d
}

#[test]
fn build_then_verify_prints_the_blob_with_the_secret_masked() {
    let dir = workdir("ok");
    let csv = dir.join("creds.csv");
    std::fs::write(
        &csv,
        "device,profile,secret,fire_zone,location\nsmoke-0001,smoke,topsecret-0001,b01-f01,b01-f01-r01\n",
    )
    .expect("write csv");
    let out = dir.join("blobs");
    let built = flash()
        .args(["build", "--devices"])
        .arg(&csv)
        .args(["--gateway", "192.168.1.10:1883", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert!(built.status.success(), "{built:?}");
    let shown = flash()
        .arg("verify")
        .arg(out.join("smoke-0001.bin"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{shown:?}");
    assert!(
        text.contains("smoke-0001") && text.contains("192.168.1.10:1883"),
        "{text}"
    );
    assert!(
        text.contains("to************") && !text.contains("topsecret"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn a_bad_csv_fails_naming_line_and_column() {
    let dir = workdir("bad");
    let csv = dir.join("creds.csv");
    std::fs::write(
        &csv,
        "device,profile,secret\nsmoke-0001,smoke,topsecret-0001\nsmoke-0002,,topsecret-0002\n",
    )
    .expect("write csv");
    let r = flash()
        .args(["build", "--gateway", "gw:1883", "--devices"])
        .arg(&csv)
        .arg("--out")
        .arg(dir.join("blobs"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("line 3, column `profile`"), "{err}");
    assert!(!dir.join("blobs").exists(), "nothing written");
    std::fs::remove_dir_all(dir).expect("cleanup");
}

//! Builds the Cortex-M4F smoke-detector image (`firmware/node-image`) and
//! boots it in QEMU's `mps2-an386` board, then checks what it printed over
//! semihosting: the same state machine the unit tests drive, on the target.
//!
//! Needs `qemu-system-arm` (installed by `scripts/setup.sh`) and the
//! `thumbv7em-none-eabihf` target (named in `rust-toolchain.toml`). Without
//! them this test fails and says what is missing: it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A target dir for the image beside this test's own (`<target>/node-image`),
/// kept between runs so only the first build is slow.
fn image_target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NODE_IMAGE_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/qemu_node-<hash>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("exe lives in <target>/<profile>/deps");
    target.join("node-image")
}

fn run(cmd: &mut Command, what: &str) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("{what}: could not start {cmd:?}: {e}"),
    }
}

fn build_image() -> PathBuf {
    let dir = repo_root().join("firmware/node-image");
    let target_dir = image_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = run(
        Command::new(cargo)
            .args(["build", "--release", "--locked"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        "building firmware/node-image",
    );
    assert!(
        out.status.success(),
        "building firmware/node-image failed (is the thumbv7em-none-eabihf target installed? \
         run scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join("thumbv7em-none-eabihf/release/gridsense-node-image")
}

fn require_qemu() {
    let found = Command::new("qemu-system-arm").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "qemu-system-arm is not installed: run scripts/setup.sh (Debian package qemu-system-arm)"
    );
}

fn boot(image: &Path) -> (String, Output) {
    let out = run(
        Command::new("timeout")
            .arg("10")
            .arg("qemu-system-arm")
            .args(["-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic"])
            .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
            .arg(image),
        "booting the image in QEMU",
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), out)
}

#[test]
fn smoke_detector_image_boots_in_qemu_and_latches_its_alarm() {
    require_qemu();
    let image = build_image();
    let (stdout, out) = boot(&image);
    assert!(
        out.status.success(),
        "QEMU exited with {:?} (124 = timed out)\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    let expected = [
        "boot",
        "sounder off",
        r#"evt {"seq":1,"type":"heartbeat","battery":100}"#,
        "sounder on",
        r#"evt {"seq":1,"type":"alarm","cause":"smoke","value":2.6,"battery":100}"#,
        "status latched=true sounding=true reading=Some(100)",
        r#"evt {"seq":2,"type":"test","cause":"smoke","value":0.9,"battery":100}"#,
        "sounder off",
        r#"cmd/ack {"id":1,"ok":true}"#,
        r#"evt {"seq":3,"type":"restore","cause":"smoke","value":0.8,"battery":100}"#,
        "status latched=false sounding=false reading=Some(80)",
        "done",
    ];
    assert_eq!(lines, expected, "full output:\n{stdout}");
}

#[test]
fn image_events_decode_with_the_gateway_decoder() {
    require_qemu();
    let (stdout, _) = boot(&build_image());
    let events: Vec<protocol::NodeEvent> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("evt "))
        .map(|json| protocol::codec::decode(json.as_bytes()).expect("valid event"))
        .collect();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    use protocol::EventKind::*;
    assert_eq!(kinds, vec![Heartbeat, Alarm, Test, Restore]);
    assert!(events.iter().all(|e| e.battery == Some(100)));
}

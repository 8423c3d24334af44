//! `gridsense doctor --config FILE`: checks an installation the way an
//! installer would by hand, one line per check:
//!
//! ```text
//! ok    config: /etc/gridsense/gridsense.toml is valid (14 profiles)
//! FAIL  port mqtt 0.0.0.0:1883: in use (a running gridsense? stop it first)
//! warn  devices: 3 of 40 registered devices never seen: smoke-0101, ...
//! ```
//!
//! `ok` passed, `warn` deserves a look, `FAIL` stops the gateway from
//! working. Exit status: 0 with no FAIL, 1 with one or more (2: bad usage).
//! The network checks (ports, uplink) are in [`super::doctor_net`], the
//! report's line in [`super::doctor_check`].

use std::path::Path;
use std::process::ExitCode;

use crate::config::{Config, validate};
use crate::store::Store;

pub use super::doctor_check::{Check, Status};

/// Free disk below this many MiB beside the store is a failure ...
const DISK_FAIL_MIB: u64 = 256;
/// ... and below this many a warning.
const DISK_WARN_MIB: u64 = 2048;
/// A clock before this (2026-01-01 UTC) was never set (no RTC, no NTP).
const CLOCK_FLOOR_MS: u64 = 1_767_225_600_000;

/// Runs every check, prints one line each and a summary; 0 with no failure.
pub fn main(path: &Path) -> ExitCode {
    let checks = run(path);
    let mut out = String::new();
    for c in &checks {
        out.push_str(&format!("{c}\n"));
    }
    let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push_str(&format!(
        "{} checks: {} ok, {warns} warn, {fails} failed",
        checks.len(),
        checks.len() - fails - warns
    ));
    println!("{out}");
    if fails == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every check, in order. Without a valid configuration only that one runs.
pub fn run(path: &Path) -> Vec<Check> {
    let cfg = match validate::file(path) {
        Ok(v) => {
            let detail = format!(
                "{} is valid ({} profiles)",
                path.display(),
                v.profiles.len()
            );
            let c = Check::new(Status::Ok, "config", detail);
            (c, v.config)
        }
        Err(problems) => {
            let first = problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            let detail = format!(
                "{} problem(s), first: {first} (`gridsense check --config {}` lists them)",
                problems.len(),
                path.display()
            );
            return vec![Check::new(Status::Fail, "config", detail)];
        }
    };
    let (first, cfg) = cfg;
    let mut out = vec![first];
    out.extend(super::doctor_net::ports(&cfg));
    out.extend(serial(&cfg));
    out.push(disk(&cfg));
    let store = store(&cfg, &mut out);
    out.push(clock(store.as_ref()));
    out.extend(super::doctor_net::uplink(&cfg));
    if let Some(s) = &store {
        out.push(never_seen(s));
    }
    out
}

/// Each RTU line: the device exists, is a character device and opens for
/// reading and writing as this user (the package's user is in `dialout`).
fn serial(cfg: &Config) -> Vec<Check> {
    let Some(m) = &cfg.modbus else {
        return Vec::new();
    };
    m.lines
        .iter()
        .filter_map(|l| match &l.link {
            modbus::LinkConfig::Rtu(r) => Some(serial_line(&r.path)),
            modbus::LinkConfig::Tcp { .. } => None,
        })
        .collect()
}

fn serial_line(path: &Path) -> Check {
    let what = format!("serial {}", path.display());
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let hint = "is the RS-485 adapter plugged in? (`ls -l /dev/serial/by-id/`)";
            return Check::new(Status::Fail, what, format!("{e}; {hint}"));
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
        if !meta.file_type().is_char_device() {
            return Check::new(Status::Fail, what, "not a character device");
        }
        // O_NONBLOCK | O_NOCTTY: opening must neither wait for carrier nor
        // make the line our terminal.
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(0o4000 | 0o400)
            .open(path);
        let mode = format!("mode {:o}, gid {}", meta.mode() & 0o777, meta.gid());
        match opened {
            Ok(_) => Check::new(Status::Ok, what, format!("opens read-write ({mode})")),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Check::new(
                Status::Fail,
                what,
                format!("{e} ({mode}); add the gateway's user to the device's group (dialout)"),
            ),
            Err(e) => Check::new(Status::Fail, what, format!("{e} ({mode})")),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Check::new(Status::Ok, what, "exists")
    }
}

/// Free space on the store's file system.
fn disk(cfg: &Config) -> Check {
    let dir = cfg
        .store
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let what = format!("disk {}", dir.display());
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free_mib = s.f_bavail.saturating_mul(s.f_frsize) >> 20;
            let total_mib = s.f_blocks.saturating_mul(s.f_frsize) >> 20;
            let status = if free_mib < DISK_FAIL_MIB {
                Status::Fail
            } else if free_mib < DISK_WARN_MIB {
                Status::Warn
            } else {
                Status::Ok
            };
            let bound = cfg.outbox_max_bytes() >> 20;
            let detail = format!(
                "{free_mib} MiB free of {total_mib} MiB (outbox bound {bound} MiB; under {DISK_FAIL_MIB} MiB fails)"
            );
            Check::new(status, what, detail)
        }
        Err(e) => Check::new(
            Status::Fail,
            what,
            format!("{e} (the store's directory must exist: /var/lib/gridsense)"),
        ),
    }
}

/// The store: it opens, `PRAGMA integrity_check` is `ok`, the audit chain
/// verifies. A store not yet created is a warning (the first `run` makes it).
fn store(cfg: &Config, out: &mut Vec<Check>) -> Option<Store> {
    let path = &cfg.store.path;
    let what = format!("store {}", path.display());
    if !path.exists() {
        let detail =
            "not created yet: the first `gridsense run` (or `gridsense creds admin`) creates it";
        out.push(Check::new(Status::Warn, what, detail));
        return None;
    }
    let s = match Store::open_read_only(path) {
        Ok(s) => s,
        Err(e) => {
            out.push(Check::new(Status::Fail, what, e.to_string()));
            return None;
        }
    };
    let integrity: Result<String, _> = s
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0));
    out.push(match integrity {
        Ok(v) if v == "ok" => Check::new(Status::Ok, what, "integrity_check ok"),
        Ok(v) => Check::new(
            Status::Fail,
            what,
            format!("integrity_check: {v} (restore from a backup)"),
        ),
        Err(e) => Check::new(Status::Fail, what, format!("integrity_check: {e}")),
    });
    out.push(match s.verify_audit() {
        Ok(Ok(v)) => Check::new(
            Status::Ok,
            "audit chain",
            format!("{} records verified", v.records),
        ),
        Ok(Err(b)) => Check::new(
            Status::Fail,
            "audit chain",
            format!("BROKEN at {b} (`gridsense audit export` for the auditor)"),
        ),
        Err(e) => Check::new(Status::Fail, "audit chain", e.to_string()),
    });
    Some(s)
}

/// The system clock: set at all (after 2026-01-01), and not behind the
/// newest time the store recorded (a clock that went back misorders alarms
/// and deadlines).
fn clock(store: Option<&Store>) -> Check {
    use crate::clock::Clock as _;
    let now = crate::clock::SystemClock.now_ms();
    let when = format!(
        "{} {}",
        crate::clock::date_of(now),
        super::device::time_of(now)
    );
    if now < CLOCK_FLOOR_MS {
        return Check::new(
            Status::Fail,
            "clock",
            format!("{when} was never set (enable NTP: `timedatectl set-ntp true`)"),
        );
    }
    let newest: Option<i64> = store.and_then(|s| {
        s.conn()
            .query_row(
                "SELECT max(t) FROM (SELECT max(at) AS t FROM audit UNION ALL SELECT max(at_ms) FROM presence)",
                [],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    });
    match newest.and_then(|n| u64::try_from(n).ok()) {
        // A minute of slack: an NTP step at boot is not a clock gone back.
        Some(n) if n > now + 60_000 => Check::new(
            Status::Fail,
            "clock",
            format!(
                "{when} is {} s behind the store's newest record (the clock went back; check NTP)",
                (n - now) / 1000
            ),
        ),
        _ => Check::new(
            Status::Ok,
            "clock",
            format!("{when}, after the store's newest record"),
        ),
    }
}

/// Registered devices that never connected (wrong secret flashed, not
/// powered, out of range).
fn never_seen(store: &Store) -> Check {
    let reg = match crate::registry::Registry::load(store) {
        Ok(r) => r,
        Err(e) => return Check::new(Status::Fail, "devices", e.to_string()),
    };
    let total = reg.devices().count();
    let never: Vec<String> = reg
        .devices()
        .filter(|d| store.last_seen(&d.id).ok().flatten().is_none())
        .map(|d| d.id.to_string())
        .collect();
    if total == 0 {
        return Check::new(
            Status::Warn,
            "devices",
            "none registered yet (`gridsense device import`)",
        );
    }
    if never.is_empty() {
        return Check::new(
            Status::Ok,
            "devices",
            format!("{total} registered, every one seen at least once"),
        );
    }
    let mut shown = never.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if never.len() > 5 {
        shown.push_str(", ...");
    }
    Check::new(
        Status::Warn,
        "devices",
        format!(
            "{} of {total} registered devices never seen: {shown} (`gridsense device list`)",
            never.len()
        ),
    )
}

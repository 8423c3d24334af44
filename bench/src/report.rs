//! The table and BENCHMARKS.md.

use std::fmt::Write as _;
use std::path::Path;

use crate::Measured;

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The table, Markdown.
pub(crate) fn table(n: usize, window_s: u64, hb_s: u64, r: &[Measured]) -> String {
    let mut t = String::from("| what |");
    for m in r {
        let _ = write!(t, " {} |", m.name);
    }
    t.push_str("\n|---|");
    for _ in r {
        t.push_str("---|");
    }
    t.push('\n');
    let mut row = |what: String, f: &dyn Fn(&Measured) -> String| {
        let _ = write!(t, "| {what} |");
        for m in r {
            let _ = write!(t, " {} |", f(m));
        }
        t.push('\n');
    };
    row(
        format!("connect storm {n}: connected after {window_s} s"),
        &|m| {
            format!(
                "{} ({:.2} %)",
                m.connected,
                100.0 * m.connected as f64 / n.max(1) as f64
            )
        },
    );
    row(format!("connect storm {n}: time to all"), &|m| {
        m.all_ms.map_or("not all".into(), |ms| {
            format!("{:.2} s", f64::from(ms) / 1000.0)
        })
    });
    row(format!("RSS holding {n} idle clients"), &|m| {
        let per = (m.rss_idle.saturating_sub(m.rss_base)) as f64 * 1024.0 / n.max(1) as f64;
        format!(
            "{} ({:.1} KB/client over {} at start)",
            mib(m.rss_idle),
            per / 1000.0,
            mib(m.rss_base)
        )
    });
    row(
        format!("CPU, whole process, {n} heartbeating every {hb_s} s"),
        &|m| format!("{:.1} % of a core ({} heartbeats)", m.cpu, m.heartbeats),
    );
    row("RSS after the heartbeat window".into(), &|m| {
        let grown =
            m.rss_after.saturating_sub(m.rss_idle) as f64 * 1024.0 / m.heartbeats.max(1) as f64;
        format!(
            "{} ({grown:.0} B per heartbeat over idle)",
            mib(m.rss_after)
        )
    });
    row("CPU, rumqttd router thread".into(), &|m| {
        m.cpu_router
            .map_or("—".into(), |c| format!("{c:.1} % of a core"))
    });
    row("connections closed by the broker".into(), &|m| {
        m.dropped.to_string()
    });
    t
}

/// Writes BENCHMARKS.md: machine, command, table. A `## Notes` section
/// already in the file (written by hand) is kept.
pub(crate) fn write(path: &Path, table: &str) -> std::io::Result<()> {
    let notes = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| old.find("\n## Notes").map(|i| old[i..].to_string()))
        .unwrap_or_default();
    let cmd: Vec<String> = std::env::args().collect();
    let mut text = format!(
        "# Benchmarks\n\nThe gateway's embedded broker (rumqttd, patched: vendor/rumqttd/PATCHES.md) and \
         mosquitto, side by side in one run of `gridsense-bench` (bench/): the same device clients \
         against each, one peer after the other.\n\n- machine: {}\n- command: `{}`\n\n{table}\n",
        crate::procfs::machine(),
        cmd.join(" ")
    );
    text.push_str(&notes);
    std::fs::write(path, text)
}

/// The ingest rows: per QoS, what the gateway committed beside what bare
/// rumqttd took in from the same clients, and the ratio.
pub(crate) fn ingest_table(i: &crate::ingest::Ingest) -> String {
    let mut t = format!(
        "\n| ingest, {} clients publishing telemetry flat out | gateway (committed to SQLite) | bare rumqttd (local link) | gateway / bare |\n|---|---|---|---|\n",
        i.clients
    );
    for (q, (g, b)) in i.gateway.iter().zip(&i.bare).enumerate() {
        let ratio = if b.rate() > 0.0 {
            g.rate() / b.rate()
        } else {
            0.0
        };
        let _ = writeln!(
            t,
            "| QoS {q} | {:.0} msg/s ({} of {} sent, in {:.1} s to the last; {} shed by the gateway, {} dropped by its broker) | {:.0} msg/s ({} of {} sent, in {:.1} s) | {ratio:.2}× |",
            g.rate(),
            g.taken,
            g.sent,
            g.secs,
            g.shed,
            g.skipped,
            b.rate(),
            b.taken,
            b.sent,
            b.secs,
        );
    }
    t
}

//! `gridsense-bench --registered 1000,10000,50000`: the gateway alone, no
//! client connected, with N devices registered; its resident memory once
//! it has settled. What one registered device costs the gateway before any
//! node connects (registry snapshot, credentials, presence, retained
//! messages the gateway publishes, caches).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{peers, procfs};

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtRest {
    /// Devices registered.
    pub(crate) devices: usize,
    /// RSS 2 s after the listener came up, KiB (the storm's "at start").
    pub(crate) early: u64,
    /// RSS once it stopped growing, KiB.
    pub(crate) settled: u64,
    /// Seconds after the listener came up when it was read.
    pub(crate) settled_s: f64,
}

/// Samples `pid`'s RSS every 500 ms until it has not grown by more than
/// 1 % for `quiet` (at most `limit`); the last sample and when it was read.
pub(crate) async fn settle(pid: u32, quiet: Duration, limit: Duration) -> (u64, Duration) {
    let t0 = Instant::now();
    let mut base = procfs::rss_kib(pid).unwrap_or(0);
    let mut since = Instant::now();
    let mut last = base;
    while t0.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = procfs::rss_kib(pid).unwrap_or(last);
        if last > base + base / 100 {
            (base, since) = (last, Instant::now());
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    (last, t0.elapsed())
}

/// Runs the gateway with each count of devices registered, one after the other.
///
/// # Errors
/// When a gateway cannot be set up or started.
pub(crate) async fn run(
    bin: &Path,
    work: &Path,
    counts: &[usize],
    wrap: Option<&str>,
) -> std::io::Result<Vec<AtRest>> {
    let mut out = Vec::new();
    for &n in counts {
        let dir = work.join(format!("registered-{n}"));
        let t = Instant::now();
        let (peer, _) = peers::gateway(bin, &dir, n, "", wrap)?;
        eprintln!(
            "gateway with {n} devices registered: listening after {:.1} s (setup included)",
            t.elapsed().as_secs_f64()
        );
        let pid = peer.pid();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let early = procfs::rss_kib(pid).unwrap_or(0);
        let (settled, at) = settle(pid, Duration::from_secs(10), Duration::from_secs(120)).await;
        let r = AtRest {
            devices: n,
            early,
            settled,
            settled_s: 2.0 + at.as_secs_f64(),
        };
        eprintln!("{r:?}");
        out.push(r);
        peer.stop();
    }
    Ok(out)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The Markdown table: each count's RSS, and per device over the smallest run.
pub(crate) fn table(r: &[AtRest]) -> String {
    let mut t = String::from(
        "| devices registered, no client connected | RSS 2 s after listening | RSS settled | per device over the smallest run |\n|---|---|---|---|\n",
    );
    let first = r.iter().min_by_key(|a| a.devices).copied();
    for a in r {
        let per = match first {
            Some(f) if a.devices > f.devices => format!(
                "{:.2} KB",
                a.settled.saturating_sub(f.settled) as f64 * 1024.0
                    / (a.devices - f.devices) as f64
                    / 1000.0
            ),
            _ => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} (after {:.0} s) | {per} |",
            a.devices,
            mib(a.early),
            mib(a.settled),
            a.settled_s
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_device_cost_is_over_the_smallest_run() {
        let r = [
            AtRest {
                devices: 1_000,
                early: 10_000,
                settled: 20_000,
                settled_s: 12.0,
            },
            AtRest {
                devices: 11_000,
                early: 30_000,
                settled: 60_000,
                settled_s: 12.0,
            },
        ];
        let t = table(&r);
        // 40,000 KiB over 10,000 devices: 4.10 KB each.
        assert!(
            t.contains("| 11000 | 29.3 MiB | 58.6 MiB (after 12 s) | 4.10 KB |"),
            "{t}"
        );
        assert!(
            t.contains("| 1000 | 9.8 MiB | 19.5 MiB (after 12 s) | — |"),
            "{t}"
        );
    }

    #[tokio::test]
    async fn settling_stops_once_rss_is_flat() {
        let pid = std::process::id();
        let (rss, at) = settle(pid, Duration::from_secs(1), Duration::from_secs(10)).await;
        assert!(rss > 0);
        assert!(at < Duration::from_secs(10), "this process is flat: {at:?}");
    }
}

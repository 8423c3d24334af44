//! Memory and CPU of a process and its threads, from /proc.

use std::time::{Duration, Instant};

/// Resident set size, KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a /proc stat file, in clock ticks.
fn ticks(path: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat; rest starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The thread of `pid` named `name`.
pub(crate) fn thread(pid: u32, name: &str) -> Option<u32> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    dir.flatten().find_map(|e| {
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).ok()?;
        (comm.trim() == name).then_some(tid)
    })
}

/// Clock ticks per second of /proc's stat files (USER_HZ, 100 on Linux).
const HZ: f64 = 100.0;

/// CPU of a process and, optionally, one of its threads over a window.
#[derive(Debug)]
pub(crate) struct CpuWindow {
    pid: u32,
    tid: Option<u32>,
    start: Instant,
    proc0: u64,
    thread0: u64,
}

impl CpuWindow {
    /// Starts measuring.
    pub(crate) fn start(pid: u32, tid: Option<u32>) -> Self {
        Self {
            pid,
            tid,
            start: Instant::now(),
            proc0: ticks(&format!("/proc/{pid}/stat")).unwrap_or(0),
            thread0: tid
                .and_then(|t| ticks(&format!("/proc/{pid}/task/{t}/stat")))
                .unwrap_or(0),
        }
    }

    /// Percent of one core used since the start: (process, thread).
    pub(crate) fn percent(&self) -> (f64, Option<f64>) {
        let secs = self
            .start
            .elapsed()
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let p = ticks(&format!("/proc/{}/stat", self.pid)).unwrap_or(self.proc0);
        let t = self
            .tid
            .and_then(|t| ticks(&format!("/proc/{}/task/{t}/stat", self.pid)));
        let pct = |d: u64| 100.0 * d as f64 / HZ / secs;
        (pct(p - self.proc0), t.map(|t| pct(t - self.thread0)))
    }
}

/// The machine, for the report: CPU model, cores, memory, kernel.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = mem
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |k| k / 1024 / 1024);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {total} GiB RAM, Linux {}",
        kernel.trim()
    )
}

/// The soft limit of open files.
pub(crate) fn nofile() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            let l = s
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .to_string();
            l.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_rss_and_cpu_ticks() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(ticks(&format!("/proc/{pid}/stat")).is_some());
        assert!(nofile() > 0);
    }
}

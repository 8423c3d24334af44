//! The gateway as a child process: the production `gridsense run` on the
//! run's virtual clock (`GRIDSENSE_WARP_CLOCK`), stopped with SIGTERM for
//! a restart and with SIGKILL for a kill -9.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway::clock::warp::WARP_ENV;

use super::compound::{Files, Ports};

/// The running gateway.
#[derive(Debug)]
pub struct GatewayProc {
    child: Child,
}

/// The `gridsense` binary: `explicit`, or next to this executable.
pub fn find_bin(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = me.parent().ok_or("no directory")?;
    for cand in [dir.join("gridsense"), dir.join("../gridsense")] {
        if cand.is_file() {
            return Ok(cand);
        }
    }
    Err(format!(
        "no gridsense binary next to {} (build it: cargo build --release -p gridsense-gateway, or pass --gateway-bin)",
        me.display()
    ))
}

impl GatewayProc {
    /// Starts `gridsense run` and waits (up to 60 s) until its MQTT and API ports answer.
    pub fn start(bin: &Path, files: &Files, ports: Ports) -> Result<Self, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.log)
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&files.config)
            .env(WARP_ENV, &files.clock)
            .env(
                "RUST_LOG",
                std::env::var("GRIDSENSE_MONTH_LOG").unwrap_or_else(|_| "warn,rumqttd=off".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut me = Self { child };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(st)) = me.child.try_wait() {
                return Err(format!(
                    "gridsense run exited: {st} (see {})",
                    files.log.display()
                ));
            }
            let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(ports.mqtt) && up(ports.api) {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = me.child.kill();
        Err("the gateway did not open its ports within 60 s".into())
    }

    /// SIGTERM and waits for the graceful stop (SIGKILL after 30 s).
    pub fn stop(mut self) -> Result<std::process::ExitStatus, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Ok(st);
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                return Err("the gateway did not stop within 30 s of SIGTERM; killed".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (kill -9): no shutdown, no flush.
    pub fn kill9(mut self) -> Result<std::process::ExitStatus, String> {
        self.child.kill().map_err(|e| e.to_string())?;
        self.child.wait().map_err(|e| e.to_string())
    }
}

impl Drop for GatewayProc {
    fn drop(&mut self) {
        // A run that fails half-way leaves no gateway behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! `gridsense run` under a systemd-like supervisor: it says `READY=1` on the
//! notify socket once started, feeds the watchdog while healthy, and says
//! `STOPPING=1` on SIGTERM. Real binary, real datagram socket.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn recv_until(sock: &UnixDatagram, want: &str, within: Duration) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let s = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = s == want;
            seen.push(s);
            if done {
                break;
            }
        }
    }
    seen
}

#[test]
fn run_says_ready_feeds_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n[mqtt]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("gw.db").display()
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gridsense");
    let seen = recv_until(&sock, "WATCHDOG=1", Duration::from_secs(20));
    let ready = seen.iter().position(|s| s == "READY=1");
    let fed = seen.iter().position(|s| s == "WATCHDOG=1");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let stopping = recv_until(&sock, "STOPPING=1", Duration::from_secs(10));
    let status = child.wait().expect("wait");
    assert!(ready.is_some(), "READY=1 first: {seen:?}");
    assert!(fed > ready, "then the watchdog is fed: {seen:?}");
    assert!(stopping.iter().any(|s| s == "STOPPING=1"), "{stopping:?}");
    assert!(status.success(), "a clean stop exits 0: {status:?}");
}

//! The systemd notify protocol (`sd_notify(3)`), spoken directly: one
//! datagram to the socket named by `$NOTIFY_SOCKET`. `gridsense run` says
//! `READY=1` once every stage runs, `WATCHDOG=1` only while `/healthz`
//! would say ok (so a stuck pipeline is killed and restarted by systemd,
//! `WatchdogSec=` in the unit), and `STOPPING=1` when it shuts down.
//! Without `$NOTIFY_SOCKET` (not under systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// Sends `state` to `socket` (a path, or `@name` for an abstract socket).
///
/// # Errors
/// When the socket cannot be reached.
pub fn notify_to(socket: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = socket.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
            return Ok(());
        }
        #[cfg(not(target_os = "linux"))]
        return Err(std::io::Error::other(format!(
            "abstract socket @{name} needs Linux"
        )));
    }
    sock.send_to(state.as_bytes(), Path::new(socket))?;
    Ok(())
}

/// Sends `state` to `$NOTIFY_SOCKET`, if set; a failure is logged once per call.
pub fn notify(state: &str) {
    if let Ok(socket) = std::env::var("NOTIFY_SOCKET")
        && let Err(e) = notify_to(&socket, state)
    {
        tracing::warn!(error = %e, %socket, state, "systemd notify failed");
    }
}

/// How often to feed the watchdog: half of `$WATCHDOG_USEC`, when set.
pub fn watchdog_every() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reaches_a_real_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).expect("bind");
        notify_to(path.to_str().expect("utf8"), "READY=1").expect("send");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        assert!(notify_to("/nonexistent/notify.sock", "READY=1").is_err());
    }
}

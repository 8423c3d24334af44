//! A compound-sized fleet held connected for benchmarks: raw MQTT 3.1.1
//! clients, one per registered device, each with its device credentials and
//! a last will, subscribed to its command and event-ack topics and with its
//! retained online state published, as a node does; then silent
//! (keep-alive 0, as MQTT 3.1.1 §3.1.2.10 allows), held until dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::{Connect, LastWill, Packet, Publish, QoS, Subscribe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections opened at once.
const AT_ONCE: usize = 256;

/// Reads until one whole packet is in `buf`; returns it.
async fn next_packet(s: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<Packet> {
    loop {
        match Packet::read(buf, 1 << 16) {
            Ok(p) => return Ok(p),
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {
                if s.read_buf(buf).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            Err(e) => return Err(std::io::Error::other(format!("{e:?}"))),
        }
    }
}

/// One node: CONNECT with a will, CONNACK, SUBSCRIBE, SUBACK, online state
/// (rumqttc's MQTT 3.1.1 codec, without its event loop: 10,000 held
/// sockets, no task each).
async fn node(addr: SocketAddr, id: &str, secret: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let state = format!("gs/v1/dev/{id}/state");
    let mut connect = Connect::new(id);
    connect.keep_alive = 0;
    connect.set_login(id, secret);
    connect.last_will = Some(LastWill::new(
        &state,
        r#"{"status":"offline"}"#,
        QoS::AtLeastOnce,
        true,
    ));
    let mut out = BytesMut::new();
    let codec = |e| std::io::Error::other(format!("{e:?}"));
    connect.write(&mut out).map_err(codec)?;
    s.write_all(&out).await?;
    let mut buf = BytesMut::new();
    if !matches!(next_packet(&mut s, &mut buf).await?, Packet::ConnAck(_)) {
        return Err(std::io::Error::other(format!("{id}: no CONNACK")));
    }
    out.clear();
    let mut sub = Subscribe::new(format!("gs/v1/dev/{id}/cmd"), QoS::AtLeastOnce);
    sub.pkid = 1;
    sub.add(format!("gs/v1/dev/{id}/evt/ack"), QoS::AtLeastOnce);
    sub.write(&mut out).map_err(codec)?;
    s.write_all(&out).await?;
    if !matches!(next_packet(&mut s, &mut buf).await?, Packet::SubAck(_)) {
        return Err(std::io::Error::other(format!("{id}: no SUBACK")));
    }
    out.clear();
    let mut online = Publish::new(
        state,
        QoS::AtMostOnce,
        r#"{"status":"online","heartbeat_s":3600}"#,
    );
    online.retain = true;
    online.write(&mut out).map_err(codec)?;
    s.write_all(&out).await?;
    Ok(s)
}

/// Connects every `(id, secret)` to `addr`, `AT_ONCE` at a time, and holds
/// them; returns the connections made (failures are left out and counted
/// by the caller from the length).
pub async fn hold(addr: SocketAddr, devices: &[(String, String)]) -> Vec<TcpStream> {
    let gate = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for (id, secret) in devices {
        let (gate, id, secret) = (gate.clone(), id.clone(), secret.clone());
        tasks.spawn(async move {
            let _p = gate.acquire_owned().await.ok()?;
            tokio::time::timeout(Duration::from_secs(30), node(addr, &id, &secret))
                .await
                .ok()?
                .ok()
        });
    }
    let mut held = Vec::with_capacity(devices.len());
    while let Some(r) = tasks.join_next().await {
        if let Ok(Some(s)) = r {
            held.push(s);
        }
    }
    held
}

/// The environment variable that makes a benchmark binary an idle-fleet
/// holder ([`child_main`]) instead of the benchmark.
pub const CHILD_ENV: &str = "GS_IDLE_FLEET_ADDR";

/// A fleet held by a child process ([`hold_in_child`]); dropping it ends
/// the child and closes its connections.
#[derive(Debug)]
pub struct ChildFleet {
    child: std::process::Child,
    /// Connections the child holds.
    pub held: usize,
}

impl Drop for ChildFleet {
    fn drop(&mut self) {
        // Closing its stdin tells the child to go; kill in case it hangs.
        drop(self.child.stdin.take());
        if self.child.wait_timeout_ms(5_000).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

trait WaitTimeout {
    fn wait_timeout_ms(&mut self, ms: u64) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for std::process::Child {
    fn wait_timeout_ms(&mut self, ms: u64) -> Option<std::process::ExitStatus> {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(ms) {
            if let Ok(Some(st)) = self.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// [`hold`] in a child process: this executable again, with [`CHILD_ENV`]
/// set (the caller's `main` must start with [`child_main`]). A gateway run
/// in-process holds one descriptor per connection, and so does each
/// client: 10,000 nodes on both ends in one process would need twice the
/// descriptors a process may have here.
///
/// # Panics
/// The child cannot be started or says nothing.
pub fn hold_in_child(addr: SocketAddr, devices: &[(String, String)]) -> ChildFleet {
    use std::io::{BufRead, Write};
    let exe = std::env::current_exe().expect("this executable");
    let mut child = std::process::Command::new(exe)
        .env(CHILD_ENV, addr.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("idle fleet child");
    {
        let stdin = child.stdin.as_mut().expect("stdin");
        for (id, secret) in devices {
            writeln!(stdin, "{id} {secret}").expect("to the child");
        }
        // An empty line ends the list; stdin stays open.
        writeln!(stdin).expect("to the child");
        stdin.flush().expect("flush");
    }
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("from the child");
    let held = line
        .trim()
        .strip_prefix("held ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    ChildFleet { child, held }
}

/// When [`CHILD_ENV`] is set: reads `id secret` lines up to an empty one
/// from stdin, holds those nodes connected, prints `held N`, and holds
/// them until stdin closes; then exits the process. Returns at once when
/// the variable is not set.
pub fn child_main() {
    use std::io::BufRead;
    let Ok(addr) = std::env::var(CHILD_ENV) else {
        return;
    };
    let addr: SocketAddr = addr.parse().expect("fleet address");
    let mut devices = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for l in lines.by_ref() {
        let l = l.expect("stdin");
        let Some((id, secret)) = l.split_once(' ') else {
            break;
        };
        devices.push((id.to_string(), secret.to_string()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let held = rt.block_on(hold(addr, &devices));
    println!("held {}", held.len());
    // Until the parent closes stdin (or dies).
    for _ in lines {}
    drop(held);
    std::process::exit(0);
}

//! A compound-sized fleet held connected for benchmarks: raw MQTT 3.1.1
//! clients, one per registered device, each with its device credentials and
//! a last will, subscribed to its command and event-ack topics and with its
//! retained online state published, as a node does; then silent
//! (keep-alive 0, as MQTT 3.1.1 §3.1.2.10 allows), held until dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections opened at once.
const AT_ONCE: usize = 256;

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![header];
    let mut len = body.len();
    loop {
        let mut b = u8::try_from(len % 128).unwrap_or(0);
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// Reads one packet's fixed-header byte, skipping its body.
async fn read_packet(s: &mut TcpStream) -> std::io::Result<u8> {
    let header = s.read_u8().await?;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = s.read_u8().await?;
        len |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    Ok(header)
}

/// One node: CONNECT with a will, CONNACK, SUBSCRIBE, SUBACK, online state.
async fn node(addr: SocketAddr, id: &str, secret: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let state = format!("gs/v1/dev/{id}/state");
    let mut body = Vec::with_capacity(128);
    string(&mut body, b"MQTT");
    // Protocol level 4; username, password, will retain, will QoS 1, will, clean session.
    body.extend_from_slice(&[4, 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02, 0, 0]);
    string(&mut body, id.as_bytes());
    string(&mut body, state.as_bytes());
    string(&mut body, br#"{"status":"offline"}"#);
    string(&mut body, id.as_bytes());
    string(&mut body, secret.as_bytes());
    s.write_all(&packet(0x10, &body)).await?;
    if read_packet(&mut s).await? >> 4 != 2 {
        return Err(std::io::Error::other(format!("{id}: no CONNACK")));
    }
    let mut sub = vec![0, 1];
    for f in [
        format!("gs/v1/dev/{id}/cmd"),
        format!("gs/v1/dev/{id}/evt/ack"),
    ] {
        string(&mut sub, f.as_bytes());
        sub.push(1);
    }
    s.write_all(&packet(0x82, &sub)).await?;
    if read_packet(&mut s).await? >> 4 != 9 {
        return Err(std::io::Error::other(format!("{id}: no SUBACK")));
    }
    let mut online = Vec::new();
    string(&mut online, state.as_bytes());
    online.extend_from_slice(br#"{"status":"online","heartbeat_s":3600}"#);
    s.write_all(&packet(0x31, &online)).await?;
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

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

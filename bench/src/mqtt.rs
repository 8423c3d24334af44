//! Just enough MQTT 3.1.1 to be a node: CONNECT, SUBSCRIBE, PUBLISH, PINGREQ,
//! written by hand so that 10,000 clients cost the benchmark little.

/// Appends MQTT's variable-length "remaining length".
fn remaining(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(header);
    remaining(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// A last will: topic, payload, QoS 1, retained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Will<'a> {
    /// Topic.
    pub(crate) topic: &'a str,
    /// Payload.
    pub(crate) payload: &'a [u8],
}

/// CONNECT, clean session, with credentials and an optional will.
pub(crate) fn connect(
    client_id: &str,
    user: &str,
    pass: &str,
    keep_alive: u16,
    will: Option<Will<'_>>,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    string(&mut body, b"MQTT");
    body.push(4);
    let mut flags = 0x80 | 0x40 | 0x02;
    if will.is_some() {
        // Will flag, will QoS 1, will retain.
        flags |= 0x04 | 0x08 | 0x20;
    }
    body.push(flags);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    string(&mut body, client_id.as_bytes());
    if let Some(w) = will {
        string(&mut body, w.topic.as_bytes());
        string(&mut body, w.payload);
    }
    string(&mut body, user.as_bytes());
    string(&mut body, pass.as_bytes());
    packet(0x10, &body)
}

/// SUBSCRIBE to `filters` at QoS 1.
pub(crate) fn subscribe(pkid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&pkid.to_be_bytes());
    for f in filters {
        string(&mut body, f.as_bytes());
        body.push(1);
    }
    packet(0x82, &body)
}

/// PUBLISH at QoS 0 (`pkid` None) or 1.
pub(crate) fn publish(topic: &str, payload: &[u8], pkid: Option<u16>, retain: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 4);
    string(&mut body, topic.as_bytes());
    let mut header = 0x30 | u8::from(retain);
    if let Some(id) = pkid {
        header |= 0x02;
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    packet(header, &body)
}

/// PUBACK for `pkid`.
pub(crate) fn puback(pkid: u16) -> [u8; 4] {
    let [a, b] = pkid.to_be_bytes();
    [0x40, 2, a, b]
}

/// PINGREQ.
pub(crate) const PINGREQ: [u8; 2] = [0xC0, 0];

/// One packet read from a stream: its first byte and its body.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Type and flags.
    pub(crate) header: u8,
    /// Everything after the remaining length.
    pub(crate) body: Vec<u8>,
}

impl Frame {
    /// The topic and payload of a PUBLISH, and its packet id when QoS > 0.
    pub(crate) fn publish(&self) -> Option<(&[u8], &[u8], Option<u16>)> {
        if self.header >> 4 != 3 || self.body.len() < 2 {
            return None;
        }
        let tl = usize::from(u16::from_be_bytes([self.body[0], self.body[1]]));
        let mut at = 2 + tl;
        let topic = self.body.get(2..at)?;
        let pkid = if (self.header >> 1) & 3 > 0 {
            let id = u16::from_be_bytes([*self.body.get(at)?, *self.body.get(at + 1)?]);
            at += 2;
            Some(id)
        } else {
            None
        };
        Some((topic, self.body.get(at..)?, pkid))
    }
}

/// Reads one packet.
///
/// # Errors
/// The stream's errors; `UnexpectedEof` when it closes.
pub(crate) async fn read<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Frame> {
    use tokio::io::AsyncReadExt;
    let header = r.read_u8().await?;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = r.read_u8().await?;
        len |= usize::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "remaining length",
            ));
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(Frame { header, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_length_is_mqtt_varint() {
        let mut v = Vec::new();
        remaining(&mut v, 321);
        assert_eq!(v, [0xC1, 0x02]);
        let p = publish("a/b", b"x", Some(7), true);
        assert_eq!(p, [0x33, 8, 0, 3, b'a', b'/', b'b', 0, 7, b'x']);
    }

    #[tokio::test]
    async fn a_written_publish_reads_back() {
        let p = publish("t", b"hello", Some(9), false);
        let f = read(&mut p.as_slice()).await.unwrap();
        assert_eq!(f.publish(), Some((&b"t"[..], &b"hello"[..], Some(9))));
    }
}

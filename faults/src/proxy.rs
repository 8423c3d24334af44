//! A TCP proxy between the gateway's uplink and the district broker that
//! can cut the link: while cut, every open connection is dropped and new
//! ones are closed as soon as they are accepted.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy's switch.
#[derive(Debug)]
pub struct Proxy {
    /// Where the gateway connects.
    pub port: u16,
    cut: watch::Sender<bool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self, String> {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        let (cut, cut_rx) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut down, _)) = l.accept().await {
                if *cut_rx.borrow() {
                    drop(down);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = down.set_nodelay(true);
                    let _ = up.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        _ = cut_rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Ok(Self { port, cut })
    }

    /// Cuts (true) or restores (false) the link.
    pub fn set_cut(&self, cut: bool) {
        let _ = self.cut.send(cut);
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::Proxy;

    async fn echo() -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(port: u16) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"ping").await.ok()?;
        let mut buf = [0u8; 4];
        let r =
            tokio::time::timeout(std::time::Duration::from_secs(2), s.read_exact(&mut buf)).await;
        matches!(r, Ok(Ok(4))).then(|| buf.to_vec())
    }

    #[tokio::test]
    async fn a_cut_drops_the_link_and_a_restore_brings_it_back() {
        let p = Proxy::start(echo().await).await.expect("proxy");
        assert_eq!(round_trip(p.port).await.as_deref(), Some(&b"ping"[..]));
        p.set_cut(true);
        assert_eq!(round_trip(p.port).await, None, "no traffic while cut");
        p.set_cut(false);
        assert_eq!(round_trip(p.port).await.as_deref(), Some(&b"ping"[..]));
    }
}

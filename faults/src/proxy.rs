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

//! Modbus TCP slaves: a tokio-modbus TCP server on `127.0.0.1`, port 0,
//! answering for every unit of a [`Bank`].

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_util::sync::CancellationToken;

use crate::bank::Bank;

/// A running TCP server; stops when dropped.
#[derive(Debug)]
pub struct TcpSlaves {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The units it serves.
    pub bank: Bank,
    stop: CancellationToken,
}

impl TcpSlaves {
    /// Starts serving `bank` on a fresh loopback port (needs a tokio runtime).
    ///
    /// # Errors
    /// The listener could not be bound.
    pub async fn start(bank: Bank) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let service = bank.clone();
        let on_connected = move |stream, peer| {
            let service = service.clone();
            async move { accept_tcp_connection(stream, peer, move |_| Ok(Some(service.clone()))) }
        };
        let abort = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let server = Server::new(listener);
            let _ = server.serve_until(&on_connected, |_| {}, abort).await;
        });
        Ok(Self { addr, bank, stop })
    }
}

impl Drop for TcpSlaves {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

//! Modbus TCP through tokio-modbus, with a timeout per request.
//!
//! tokio-modbus matches replies by transaction id, so a late reply is
//! rejected rather than misread; still, after a timeout or any transport
//! error the connection is dropped and opened afresh, so nothing from an
//! abandoned exchange can reach a later one.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use protocol::modbus::Table;
use tokio_modbus::Slave;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::SlaveContext;

use crate::transport::{Exception, Op, Outcome, Reply, Transport, TransportError};

/// One TCP endpoint, one transaction at a time.
#[derive(Debug)]
pub struct TcpTransport {
    addr: SocketAddr,
    timeout: Duration,
    ctx: Option<Ctx>,
}

/// tokio-modbus's context has no `Debug`.
struct Ctx(Context);

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Context")
    }
}

impl TcpTransport {
    /// A transport to `addr`; connects at the first request.
    #[must_use]
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            timeout,
            ctx: None,
        }
    }

    async fn call(ctx: &mut Context, op: Op) -> tokio_modbus::Result<Reply> {
        let words = |r: tokio_modbus::Result<Vec<u16>>| r.map(|x| x.map(Reply::Words));
        let bits = |r: tokio_modbus::Result<Vec<bool>>, n: u16| {
            r.map(|x| {
                x.map(|b| {
                    Reply::Words(
                        b.iter()
                            .take(usize::from(n))
                            .map(|&v| u16::from(v))
                            .collect(),
                    )
                })
            })
        };
        let written = |r: tokio_modbus::Result<()>| r.map(|x| x.map(|()| Reply::Written));
        match op {
            Op::Read {
                table,
                address: a,
                count: n,
            } => match table {
                Table::Coil => bits(ctx.read_coils(a, n).await, n),
                Table::Discrete => bits(ctx.read_discrete_inputs(a, n).await, n),
                Table::Holding => words(ctx.read_holding_registers(a, n).await),
                Table::Input => words(ctx.read_input_registers(a, n).await),
            },
            Op::WriteCoil { address, value } => {
                written(ctx.write_single_coil(address, value).await)
            }
            Op::WriteRegister { address, value } => {
                written(ctx.write_single_register(address, value).await)
            }
        }
    }
}

fn check_len(op: Op, reply: Reply) -> Result<Reply, TransportError> {
    match (op, &reply) {
        (Op::Read { count, .. }, Reply::Words(w)) if w.len() != usize::from(count) => {
            Err(TransportError::Malformed("register count"))
        }
        _ => Ok(reply),
    }
}

impl Transport for TcpTransport {
    async fn transact(&mut self, unit: u8, op: Op) -> Outcome {
        if self.ctx.is_none() {
            let connect = tokio_modbus::client::tcp::connect(self.addr);
            let ctx = tokio::time::timeout(self.timeout, connect)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            self.ctx = Some(Ctx(ctx));
        }
        let Some(Ctx(ctx)) = self.ctx.as_mut() else {
            return Err(io::Error::other("not connected").into());
        };
        ctx.set_slave(Slave(unit));
        let result = match tokio::time::timeout(self.timeout, Self::call(ctx, op)).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(Err(tokio_modbus::Error::Transport(e))) => Err(TransportError::Io(e)),
            Ok(Err(tokio_modbus::Error::Protocol(_))) => Err(TransportError::Malformed("header")),
            Ok(Ok(Err(code))) => return Ok(Err(Exception(u8::from(code)))),
            Ok(Ok(Ok(reply))) => return check_len(op, reply).map(Ok),
        };
        self.ctx = None;
        result
    }
}

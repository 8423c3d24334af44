use bytes::BytesMut;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::timeout,
};

use std::{
    collections::VecDeque,
    io::{self, ErrorKind},
};
use tokio::time::{error::Elapsed, Duration};

use crate::protocol::{self, Packet, Protocol};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O = {0}")]
    Io(#[from] io::Error),
    #[error("Invalid data = {0}")]
    Protocol(#[from] protocol::Error),
    #[error["Keep alive timeout"]]
    KeepAlive(#[from] Elapsed),
}

/// GridSense patch: bytes a drained connection buffer may keep. None: an
/// idle connection's buffers cost more, over thousands of held clients,
/// than allocating one when a packet comes (patch 26).
const IDLE_BUFFER: usize = 0;

/// Network transforms packets <-> frames efficiently. It takes
/// advantage of pre-allocation, buffering and vectorization when
/// appropriate to achieve performance
pub struct Network<P> {
    /// Socket for IO
    socket: Box<dyn N>,
    /// Buffered reads
    read: BytesMut,
    /// Buffered writes
    write: BytesMut,
    /// Maximum packet size
    max_incoming_size: usize,
    /// Maximum connection buffer count. TODO: Change this to use bytes for deterministicness
    max_connection_buffer_len: usize,
    /// Keep alive timeout
    keepalive: Duration,
    /// Protocol
    protocol: P,
}

impl<P: Protocol> Network<P> {
    pub fn new(
        socket: Box<dyn N>,
        max_incoming_size: usize,
        max_connection_buffer_len: usize,
        protocol: P,
    ) -> Network<P> {
        Network {
            socket,
            // GridSense patch: allocated on first use and released when
            // drained (`shrink_idle`); were 10 KiB each for every connection.
            read: BytesMut::new(),
            write: BytesMut::new(),
            max_incoming_size,
            max_connection_buffer_len,
            // Overwritten by keepalive value in connect packet, otherwise we
            // would wait indefinitely until we get a packet / network error
            // when we call read.
            keepalive: Duration::MAX,
            protocol,
        }
    }

    pub fn set_keepalive(&mut self, keepalive: u16) {
        // GridSense patch: 0 means no keep-alive (MQTT 3.1.1 §3.1.2.10); it
        // made every read time out at once.
        if keepalive == 0 {
            self.keepalive = Duration::MAX;
            return;
        }
        let keepalive = Duration::from_secs(keepalive as u64);
        self.keepalive = keepalive + keepalive.mul_f32(0.5);
    }

    /// GridSense patch: releases the read and write buffers when they hold
    /// nothing and have grown past `IDLE_BUFFER`, so an idle connection
    /// keeps no buffer but the few bytes its pending read reserves, rather
    /// than its largest burst.
    pub fn shrink_idle(&mut self) {
        if self.read.is_empty() && self.read.capacity() > IDLE_BUFFER {
            self.read = BytesMut::new();
        }
        if self.write.is_empty() && self.write.capacity() > IDLE_BUFFER {
            self.write = BytesMut::new();
        }
    }

    /// Reads more than 'required' bytes to frame a packet into self.read buffer
    async fn read_bytes(&mut self, required: usize) -> io::Result<usize> {
        // TODO: Fix this cancellation bug and write unit test
        let mut total_read = 0;
        loop {
            let read = self.socket.read_buf(&mut self.read).await?;
            if 0 == read {
                let error = if self.read.is_empty() {
                    io::Error::new(ErrorKind::ConnectionAborted, "connection closed by peer")
                } else {
                    io::Error::new(ErrorKind::ConnectionReset, "connection reset by peer")
                };

                return Err(error);
            }

            total_read += read;
            if total_read >= required {
                return Ok(total_read);
            }
        }
    }

    /// Waits on network for 1 packet
    pub async fn read(&mut self) -> Result<Packet, Error> {
        loop {
            let required = match Protocol::read_mut(
                &mut self.protocol,
                &mut self.read,
                self.max_incoming_size,
            ) {
                Ok(packet) => return Ok(packet),
                Err(protocol::Error::InsufficientBytes(required)) => required,
                Err(e) => return Err(e.into()),
            };

            // read more packets until a frame can be created. This function
            // blocks until a frame can be created. Use this in a select! branch
            timeout(self.keepalive, self.read_bytes(required)).await??;
        }
    }

    /// Read packets in bulk. This allow replies to be in bulk. This method is used
    /// after the connection is established to read a bunch of incoming packets
    pub fn readv(&mut self, packets: &mut VecDeque<Packet>) -> Result<usize, Error> {
        loop {
            match self
                .protocol
                .read_mut(&mut self.read, self.max_incoming_size)
            {
                Ok(packet) => {
                    packets.push_back(packet);
                    let connection_buffer_length = packets.len();
                    if connection_buffer_length >= self.max_connection_buffer_len {
                        return Ok(connection_buffer_length);
                    }
                }
                Err(protocol::Error::InsufficientBytes(_)) => return Ok(packets.len()),
                Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e.to_string()).into()),
            }
        }
    }

    pub async fn write(&mut self, packet: Packet) -> Result<(), Error> {
        Protocol::write(&self.protocol, packet, &mut self.write)?;
        self.socket.write_all(&self.write).await?;
        self.write.clear();
        Ok(())
    }

    pub async fn writev(&mut self, packets: VecDeque<Packet>) -> Result<(), Error> {
        for packet in packets {
            Protocol::write(&self.protocol, packet, &mut self.write)?;
        }
        self.socket.write_all(&self.write).await?;
        self.write.clear();
        Ok(())
    }
}

pub trait N: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T> N for T where T: AsyncRead + AsyncWrite + Unpin + Send {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::v4::V4;
    use tokio::io::AsyncWriteExt;

    /// GridSense patch: a connection allocates its buffers on first use and
    /// releases them once drained.
    #[tokio::test]
    async fn buffers_are_allocated_on_demand_and_released_when_idle() {
        let (mut client, server) = tokio::io::duplex(128 * 1024);
        let mut network = Network::new(Box::new(server), 64 * 1024, 100, V4);
        assert_eq!(network.read.capacity() + network.write.capacity(), 0);
        // A 32 KiB publish: topic "t", QoS 0.
        let payload = vec![1u8; 32 * 1024];
        let len = 2 + 1 + payload.len();
        let mut p = vec![0x30];
        let mut l = len;
        loop {
            let mut b = (l % 128) as u8;
            l /= 128;
            if l > 0 {
                b |= 0x80;
            }
            p.push(b);
            if l == 0 {
                break;
            }
        }
        p.extend_from_slice(&[0, 1, b't']);
        p.extend_from_slice(&payload);
        client.write_all(&p).await.unwrap();
        let packet = network.read().await.unwrap();
        assert!(matches!(packet, Packet::Publish(..)));
        assert!(network.read.capacity() < 32 * 1024 || network.read.is_empty());
        network.shrink_idle();
        assert!(network.read.capacity() <= IDLE_BUFFER);
        // Replies go through the write buffer and leave it small too.
        network.write(Packet::PingResp(crate::protocol::PingResp)).await.unwrap();
        network.shrink_idle();
        assert!(network.write.capacity() <= IDLE_BUFFER);
        assert_eq!(network.read.capacity() + network.write.capacity(), 0, "drained, none kept");
    }
}

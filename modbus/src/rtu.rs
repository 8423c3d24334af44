//! Modbus RTU over a serial port, with our own framing and timing.
//!
//! tokio-modbus's RTU client is not used here (docs/modbus.md says why): it
//! has no timeout, does not keep the 3.5-character gap, and a reply that
//! arrives after a timeout is taken as the answer to the next request. This
//! transport owns the whole exchange:
//!
//! 1. **Settle**: after a timeout to unit U, a late reply may still come. A
//!    later request to U with the same function code but other registers
//!    (whose reply could look the same) is held back until `late_window` has
//!    passed; a retry of the same request may take the late reply, which is
//!    the right answer. Replies of other units or functions are told apart by
//!    the checks below.
//! 2. **Gap**: the request starts no sooner than 3.5 characters after the
//!    line went quiet (sleep to the last millisecond, then spin).
//! 3. **Flush**: bytes waiting in the input queue are stale; they are
//!    discarded and the gap starts again.
//! 4. **Deadline**: request time on the wire + expected reply time +
//!    `timeout`.
//! 5. **Check**: unit, function code, byte count, write echo and CRC
//!    ([`super::frame::decode`]); then the line must stay quiet for 3.5
//!    characters after the frame, or the reply is dropped as noise.
//! 6. **Drain**: after any failure, everything is read and discarded until
//!    the line has been quiet for 3.5 characters.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

use crate::config::{Parity, RtuLink};
use crate::frame::{self, Decoded};
use crate::transport::{Op, Outcome, Transport, TransportError};

/// A request to a unit whose reply may still arrive late.
#[derive(Debug, Clone, Copy)]
struct Unsettled {
    unit: u8,
    op: Op,
    until: Instant,
}

/// One serial line, one transaction at a time.
#[derive(Debug)]
pub struct RtuTransport {
    link: RtuLink,
    timeout: Duration,
    late_window: Duration,
    port: Option<SerialStream>,
    quiet_at: Instant,
    unsettled: Vec<Unsettled>,
    buf: Vec<u8>,
}

impl RtuTransport {
    /// A transport for `link`; the port is opened at the first request.
    #[must_use]
    pub fn new(link: RtuLink, timeout: Duration, late_window: Duration) -> Self {
        Self {
            link,
            timeout,
            late_window,
            port: None,
            quiet_at: Instant::now(),
            unsettled: Vec::new(),
            buf: Vec::with_capacity(256),
        }
    }

    fn open(&self) -> io::Result<SerialStream> {
        let parity = match self.link.parity {
            Parity::None => tokio_serial::Parity::None,
            Parity::Even => tokio_serial::Parity::Even,
            Parity::Odd => tokio_serial::Parity::Odd,
        };
        let data_bits = match self.link.data_bits {
            5 => tokio_serial::DataBits::Five,
            6 => tokio_serial::DataBits::Six,
            7 => tokio_serial::DataBits::Seven,
            _ => tokio_serial::DataBits::Eight,
        };
        let stop_bits = if self.link.stop_bits == 2 {
            tokio_serial::StopBits::Two
        } else {
            tokio_serial::StopBits::One
        };
        tokio_serial::new(self.link.path.to_string_lossy(), self.link.baud)
            .parity(parity)
            .data_bits(data_bits)
            .stop_bits(stop_bits)
            .open_native_async()
            .map_err(io::Error::from)
    }

    /// Waits until no earlier timed-out request could be confused with `op`.
    async fn settle(&mut self, unit: u8, op: Op) {
        let now = Instant::now();
        self.unsettled.retain(|u| u.until > now);
        // Same unit and function: a late exception reply (5 bytes) would fit
        // any such request, so the reply length alone does not tell them apart.
        let confusable =
            |u: &Unsettled| u.unit == unit && u.op != op && u.op.function() == op.function();
        if let Some(until) = self
            .unsettled
            .iter()
            .filter(|u| confusable(u))
            .map(|u| u.until)
            .max()
        {
            tokio::time::sleep_until(until.into()).await;
            self.unsettled.retain(|u| !confusable(u));
        }
    }

    /// Sleeps until `t`, spinning the last millisecond (tokio timers are 1 ms grained).
    async fn pace_until(t: Instant) {
        let coarse = Duration::from_millis(1);
        if let Some(left) = t.checked_duration_since(Instant::now())
            && left > coarse
        {
            tokio::time::sleep(left - coarse).await;
        }
        while Instant::now() < t {
            tokio::task::yield_now().await;
        }
    }

    /// Waits for the gap, discarding stale input (which restarts the gap).
    async fn wait_for_gap(port: &mut SerialStream, quiet_at: &mut Instant, gap: Duration) {
        for _ in 0..8 {
            Self::pace_until(*quiet_at + gap).await;
            if port.bytes_to_read().unwrap_or(0) == 0 {
                return;
            }
            let _ = port.clear(tokio_serial::ClearBuffer::Input);
            *quiet_at = Instant::now();
        }
    }

    /// Reads and discards until the line has been quiet for `gap` (bounded).
    async fn drain(port: &mut SerialStream, gap: Duration, limit: Duration) -> Instant {
        let end = Instant::now() + limit;
        let quiet = gap.max(Duration::from_millis(2));
        let mut scratch = [0u8; 256];
        while Instant::now() < end {
            match tokio::time::timeout(quiet, port.read(&mut scratch)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        Instant::now()
    }

    async fn exchange(&mut self, unit: u8, op: Op) -> Outcome {
        let timing = self.link.timing();
        let (gap, ct) = (timing.gap(), timing.char_time());
        let port = self
            .port
            .as_mut()
            .ok_or_else(|| io::Error::other("port not open"))?;
        Self::wait_for_gap(port, &mut self.quiet_at, gap).await;
        self.buf.clear();
        frame::encode(unit, op, &mut self.buf);
        let on_wire = ct * u32::try_from(self.buf.len() + frame::reply_len(op)).unwrap_or(u32::MAX);
        port.write_all(&self.buf).await?;
        let sent = Instant::now();
        self.quiet_at = sent + ct * u32::try_from(self.buf.len()).unwrap_or(0);
        let deadline = sent + on_wire + self.timeout;
        self.buf.clear();
        let mut chunk = [0u8; 256];
        loop {
            let read = tokio::time::timeout_at(deadline.into(), port.read(&mut chunk)).await;
            let n = match read {
                Ok(Ok(n)) if n > 0 => n,
                Ok(Ok(_)) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(self.timed_out(unit, op)),
            };
            self.buf.extend_from_slice(&chunk[..n]);
            match frame::decode(unit, op, &self.buf)? {
                Decoded::Incomplete => {}
                Decoded::Frame { answer, len } => {
                    self.quiet_at = Instant::now();
                    if self.buf.len() > len || !Self::quiet_after(port, self.quiet_at + gap).await {
                        return Err(TransportError::Noise);
                    }
                    return Ok(answer);
                }
            }
        }
    }

    /// Whether the line stays quiet until `t` (the frame really ended).
    async fn quiet_after(port: &mut SerialStream, t: Instant) -> bool {
        Self::pace_until(t).await;
        port.bytes_to_read().unwrap_or(0) == 0
    }

    fn timed_out(&mut self, unit: u8, op: Op) -> TransportError {
        self.unsettled.push(Unsettled {
            unit,
            op,
            until: Instant::now() + self.late_window,
        });
        if self.buf.is_empty() {
            TransportError::Timeout
        } else {
            TransportError::ShortFrame {
                got: self.buf.len(),
                want: frame::reply_len(op),
            }
        }
    }
}

impl Transport for RtuTransport {
    async fn transact(&mut self, unit: u8, op: Op) -> Outcome {
        if self.port.is_none() {
            self.port = Some(self.open()?);
            self.quiet_at = Instant::now();
        }
        self.settle(unit, op).await;
        let result = self.exchange(unit, op).await;
        if let Err(e) = &result {
            match (e, self.port.as_mut()) {
                (TransportError::Io(_), _) => self.port = None,
                (_, Some(port)) => {
                    self.quiet_at =
                        Self::drain(port, self.link.timing().gap(), self.late_window).await;
                }
                (_, None) => {}
            }
        }
        result
    }
}

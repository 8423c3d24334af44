//! Finds the slaves answering on a line: `gridsense modbus scan --line ...`.
//!
//! Each unit in the range is asked for one register; any valid answer, a
//! Modbus exception included (the device is there and said no), counts as
//! present.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use protocol::modbus::Table;

use crate::config::{LinkConfig, Parity, RtuLink};
use crate::rtu::RtuTransport;
use crate::tcp::TcpTransport;
use crate::transport::{Exception, Op, Reply, Transport, TransportError};

/// A unit that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanHit {
    /// Its unit id.
    pub unit: u8,
    /// The probed register's value, or the exception it answered.
    pub answer: Result<u16, u8>,
}

/// Parses `tcp:HOST:PORT` or `rtu:PATH[:BAUD[:8E1]]` (framing: data bits,
/// parity `N`/`E`/`O`, stop bits).
///
/// # Errors
/// What is wrong with the text.
pub fn parse_line(spec: &str) -> Result<LinkConfig, String> {
    if let Some(addr) = spec.strip_prefix("tcp:") {
        let addr = addr
            .parse()
            .map_err(|e| format!("`{addr}`: {e} (want tcp:HOST:PORT)"))?;
        return Ok(LinkConfig::Tcp { addr });
    }
    let Some(rest) = spec.strip_prefix("rtu:") else {
        return Err(format!(
            "`{spec}`: want tcp:HOST:PORT or rtu:PATH[:BAUD[:8E1]]"
        ));
    };
    let mut parts = rest.split(':');
    let path = PathBuf::from(parts.next().unwrap_or_default());
    let baud = parts
        .next()
        .map_or(Ok(19_200), str::parse)
        .map_err(|e| format!("baud: {e}"))?;
    let framing = parts.next().unwrap_or("8E1").as_bytes();
    let [d, p, s] = framing else {
        return Err("framing: want e.g. 8E1, 8N2".into());
    };
    let parity = match p {
        b'N' | b'n' => Parity::None,
        b'E' | b'e' => Parity::Even,
        b'O' | b'o' => Parity::Odd,
        _ => return Err("parity: want N, E or O".into()),
    };
    let (data_bits, stop_bits) = (d.wrapping_sub(b'0'), s.wrapping_sub(b'0'));
    Ok(LinkConfig::Rtu(RtuLink {
        path,
        baud,
        parity,
        data_bits,
        stop_bits,
    }))
}

/// Asks every unit in `units` for `table[address]` over `link`.
///
/// # Errors
/// The port or connection failed (as opposed to a unit not answering).
pub async fn scan(
    link: &LinkConfig,
    units: RangeInclusive<u8>,
    table: Table,
    address: u16,
    timeout: Duration,
) -> Result<Vec<ScanHit>, TransportError> {
    let op = Op::Read {
        table,
        address,
        count: 1,
    };
    match link {
        LinkConfig::Tcp { addr } => probe(&mut TcpTransport::new(*addr, timeout), units, op).await,
        LinkConfig::Rtu(rtu) => {
            probe(
                &mut RtuTransport::new(rtu.clone(), timeout, timeout),
                units,
                op,
            )
            .await
        }
    }
}

async fn probe(
    t: &mut impl Transport,
    units: RangeInclusive<u8>,
    op: Op,
) -> Result<Vec<ScanHit>, TransportError> {
    let mut hits = Vec::new();
    for unit in units {
        let answer = match t.transact(unit, op).await {
            Ok(Ok(Reply::Words(w))) => Ok(w.first().copied().unwrap_or(0)),
            Ok(Ok(Reply::Written)) => continue,
            Ok(Err(Exception(code))) => Err(code),
            Err(TransportError::Io(e)) => return Err(TransportError::Io(e)),
            Err(_) => continue,
        };
        hits.push(ScanHit { unit, answer });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_line_specs() {
        assert!(matches!(
            parse_line("tcp:127.0.0.1:502"),
            Ok(LinkConfig::Tcp { .. })
        ));
        let Ok(LinkConfig::Rtu(r)) = parse_line("rtu:/dev/ttyUSB0:9600:8N2") else {
            panic!("rtu")
        };
        assert_eq!(
            (r.baud, r.parity, r.data_bits, r.stop_bits),
            (9600, Parity::None, 8, 2)
        );
        assert!(parse_line("udp:x").is_err());
        assert!(parse_line("rtu:/dev/x:fast").is_err());
    }
}

//! Modbus RTU frames, sans I/O: build a request ADU, check a reply ADU
//! against the request it answers (unit, function code, byte count, echo,
//! CRC) before a single value is believed.

use crate::transport::{Exception, Op, Reply, TransportError};

/// Modbus CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF); sent low byte first.
#[must_use]
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFF_u16;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Appends the request ADU for `op` to `unit` (slave id, PDU, CRC) to `out`.
pub fn encode(unit: u8, op: Op, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(unit);
    out.push(op.function());
    let (a, b) = match op {
        Op::Read { address, count, .. } => (address, count),
        Op::WriteCoil { address, value } => (address, if value { 0xFF00 } else { 0 }),
        Op::WriteRegister { address, value } => (address, value),
    };
    out.extend_from_slice(&a.to_be_bytes());
    out.extend_from_slice(&b.to_be_bytes());
    let crc = crc16(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Length of the normal (non-exception) reply ADU to `op`.
#[must_use]
pub fn reply_len(op: Op) -> usize {
    match op {
        Op::Read { table, count, .. } if table.is_bits() => 5 + usize::from(count).div_ceil(8),
        Op::Read { count, .. } => 5 + 2 * usize::from(count),
        Op::WriteCoil { .. } | Op::WriteRegister { .. } => 8,
    }
}

/// A reply checked so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// More bytes are needed.
    Incomplete,
    /// A whole, valid frame of `len` bytes (`buf` may hold more after it).
    Frame {
        /// The answer.
        answer: Result<Reply, Exception>,
        /// Bytes used.
        len: usize,
    },
}

/// Checks the bytes received so far against the request `op` sent to `unit`.
///
/// # Errors
/// A frame from another unit, a bad CRC, or a frame that does not answer `op`.
pub fn decode(unit: u8, op: Op, buf: &[u8]) -> Result<Decoded, TransportError> {
    let Some(&from) = buf.first() else {
        return Ok(Decoded::Incomplete);
    };
    if from != unit {
        return Err(TransportError::WrongSlave { got: from });
    }
    let Some(&function) = buf.get(1) else {
        return Ok(Decoded::Incomplete);
    };
    let exception = function == op.function() | 0x80;
    if function != op.function() && !exception {
        return Err(TransportError::Malformed("function code"));
    }
    let len = if exception { 5 } else { reply_len(op) };
    if buf.len() < len {
        if !exception && matches!(op, Op::Read { .. }) && buf.len() >= 3 {
            check_byte_count(op, buf[2])?;
        }
        return Ok(Decoded::Incomplete);
    }
    let frame = &buf[..len];
    let (body, crc) = frame.split_at(len - 2);
    if crc16(body).to_le_bytes() != [crc[0], crc[1]] {
        return Err(TransportError::Crc);
    }
    let answer = if exception {
        Err(Exception(body[2]))
    } else {
        Ok(parse_body(op, body)?)
    };
    Ok(Decoded::Frame { answer, len })
}

fn check_byte_count(op: Op, got: u8) -> Result<(), TransportError> {
    if usize::from(got) + 5 == reply_len(op) {
        Ok(())
    } else {
        Err(TransportError::Malformed("byte count"))
    }
}

fn parse_body(op: Op, body: &[u8]) -> Result<Reply, TransportError> {
    match op {
        Op::Read { table, count, .. } => {
            check_byte_count(op, body[2])?;
            let data = &body[3..];
            let words = if table.is_bits() {
                (0..usize::from(count))
                    .map(|i| u16::from((data[i / 8] >> (i % 8)) & 1))
                    .collect()
            } else {
                data.chunks_exact(2)
                    .map(|w| u16::from_be_bytes([w[0], w[1]]))
                    .collect()
            };
            Ok(Reply::Words(words))
        }
        Op::WriteCoil { .. } | Op::WriteRegister { .. } => {
            let mut want = Vec::with_capacity(8);
            encode(body[0], op, &mut want);
            if body == &want[..6] {
                Ok(Reply::Written)
            } else {
                Err(TransportError::Malformed("write echo"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::modbus::Table;

    use super::*;

    const READ: Op = Op::Read {
        table: Table::Holding,
        address: 0,
        count: 10,
    };

    fn with_crc(bytes: &[u8]) -> Vec<u8> {
        let mut v = bytes.to_vec();
        v.extend_from_slice(&crc16(bytes).to_le_bytes());
        v
    }

    #[test]
    fn encodes_the_reference_request() {
        let mut out = Vec::new();
        encode(1, READ, &mut out);
        assert_eq!(out, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
    }

    #[test]
    fn decodes_registers_bits_and_exceptions() {
        let op = Op::Read {
            table: Table::Input,
            address: 4,
            count: 2,
        };
        let frame = with_crc(&[7, 4, 4, 0x1B, 0x5F, 0x1B, 0x60]);
        assert!(matches!(
            decode(7, op, &frame[..5]),
            Ok(Decoded::Incomplete)
        ));
        let Ok(Decoded::Frame { answer, len }) = decode(7, op, &frame) else {
            panic!("frame")
        };
        assert_eq!((answer, len), (Ok(Reply::Words(vec![7007, 7008])), 9));
        let bits = Op::Read {
            table: Table::Coil,
            address: 0,
            count: 3,
        };
        let frame = with_crc(&[2, 1, 1, 0b101]);
        assert!(
            matches!(decode(2, bits, &frame), Ok(Decoded::Frame { answer: Ok(Reply::Words(w)), .. }) if w == [1, 0, 1])
        );
        let frame = with_crc(&[2, 0x81, 2]);
        assert!(matches!(
            decode(2, bits, &frame),
            Ok(Decoded::Frame {
                answer: Err(Exception(2)),
                len: 5
            })
        ));
    }

    #[test]
    fn rejects_wrong_unit_function_count_crc_and_echo() {
        let op = Op::Read {
            table: Table::Input,
            address: 0,
            count: 1,
        };
        assert!(matches!(
            decode(1, op, &[2]),
            Err(TransportError::WrongSlave { got: 2 })
        ));
        assert!(matches!(
            decode(1, op, &[1, 3]),
            Err(TransportError::Malformed(_))
        ));
        assert!(matches!(
            decode(1, op, &[1, 4, 4]),
            Err(TransportError::Malformed("byte count"))
        ));
        let mut frame = with_crc(&[1, 4, 2, 0, 9]);
        frame[3] ^= 0x10;
        assert!(matches!(decode(1, op, &frame), Err(TransportError::Crc)));
        let write = Op::WriteCoil {
            address: 3,
            value: true,
        };
        let frame = with_crc(&[1, 5, 0, 3, 0, 0]);
        assert!(matches!(
            decode(1, write, &frame),
            Err(TransportError::Malformed("write echo"))
        ));
        let mut ok = Vec::new();
        encode(1, write, &mut ok);
        assert!(matches!(
            decode(1, write, &ok),
            Ok(Decoded::Frame {
                answer: Ok(Reply::Written),
                len: 8
            })
        ));
    }
}

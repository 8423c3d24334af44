//! The Modbus RTU reply check (modbus/src/frame.rs), as the RTU transport
//! calls it: on every prefix of what the line delivered, against the request
//! it answers. The input is the request (unit, function, two words) and the
//! reply bytes; a flag byte appends the reply's correct CRC, so the fuzzer
//! gets past the CRC to the byte count, the echo and the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modbus::frame::{self, Decoded};
use modbus::transport::{Op, Reply};
use protocol::modbus::Table;

fn op(function: u8, a: u16, b: u16) -> Op {
    let table = match function % 6 {
        0 => Table::Coil,
        1 => Table::Discrete,
        2 => Table::Holding,
        3 => Table::Input,
        4 => {
            return Op::WriteCoil {
                address: a,
                value: b & 1 == 1,
            };
        }
        _ => {
            return Op::WriteRegister {
                address: a,
                value: b,
            };
        }
    };
    Op::Read {
        table,
        address: a,
        count: b,
    }
}

fuzz_target!(|data: &[u8]| {
    let [unit, function, flags, a0, a1, b0, b1, reply @ ..] = data else {
        return;
    };
    let op = op(
        *function,
        u16::from_be_bytes([*a0, *a1]),
        u16::from_be_bytes([*b0, *b1]),
    );
    let mut buf = reply.to_vec();
    if flags & 1 == 1 {
        buf.extend_from_slice(&frame::crc16(reply).to_le_bytes());
    }
    let whole = frame::decode(*unit, op, &buf);
    if let Ok(Decoded::Frame { answer, len }) = &whole {
        assert!(*len <= buf.len(), "a frame longer than the bytes read");
        if let (Ok(Reply::Words(words)), Op::Read { count, .. }) = (answer, op) {
            assert_eq!(
                words.len(),
                usize::from(count),
                "not as many words as asked"
            );
        }
        // The transport decodes as bytes arrive: the frame's own bytes give
        // the same answer, and no shorter prefix is taken for a frame.
        let again = frame::decode(*unit, op, &buf[..*len]);
        assert_eq!(format!("{again:?}"), format!("{whole:?}"));
        for n in 0..*len {
            if let Ok(Decoded::Frame { .. }) = frame::decode(*unit, op, &buf[..n]) {
                panic!("a {n}-byte prefix of a {len}-byte frame taken for a frame");
            }
        }
    }
    // Whatever came back, a request to the same unit encodes.
    let mut out = Vec::new();
    frame::encode(*unit, op, &mut out);
    assert_eq!(out.len(), 8);
});

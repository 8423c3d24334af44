//! The embedded broker's MQTT 3.1.1 packet reader (vendor/rumqttd,
//! protocol/v4) as the gateway configures it: packets read one after another
//! from one connection's bytes, at the gateway's default limit of 64 KiB
//! (`[mqtt] max_payload_size`, gateway/src/bus/config.rs), as
//! link/network.rs does; each packet read is written back out.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rumqttd::protocol::Protocol;
use rumqttd::protocol::v4::V4;

/// The gateway's default `[mqtt] max_payload_size`.
const MAX_PACKET: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let mut stream = BytesMut::from(data);
    let mut codec = V4;
    // Every packet consumes at least its two-byte fixed header.
    for _ in 0..=data.len() / 2 {
        let Ok(packet) = codec.read_mut(&mut stream, MAX_PACKET) else {
            break;
        };
        let mut out = BytesMut::new();
        let _ = codec.write(packet, &mut out);
    }
});

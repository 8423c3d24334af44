//! What carries a node's credential: the credentials CSV that `gridsense
//! device import` writes and `gridsense-flash` / `gridsense-sim` read
//! (sim/src/devices.rs), and the provisioning blob flashed into a node
//! (sim/src/provision.rs), raw or with its CRC made right so the fuzzer
//! reaches the postcard body. A blob that decodes encodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sim::provision::{MAGIC, MAX_BLOB_LEN, ProvisionBlob};

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn blob(bytes: &[u8]) {
    let Ok(b) = ProvisionBlob::decode(bytes) else {
        return;
    };
    let mut buf = [0u8; MAX_BLOB_LEN];
    let n = b.encode(&mut buf).expect("MAX_BLOB_LEN holds any blob");
    assert_eq!(ProvisionBlob::decode(&buf[..n]), Ok(b));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = sim::devices::read_csv(text);
            }
        }
        1 => blob(rest),
        _ => {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(rest);
            let crc = CRC32.checksum(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            blob(&b);
        }
    }
});

//! Checks shared by the fuzz targets: a decoder may refuse any input, but
//! must never panic, and what it accepts must survive its own encoder; and
//! the sample compound the targets that need a store or a registry share.

pub mod compound;

use protocol::Message;
use protocol::codec::{self, DecodeError};

/// Decodes `data` as `M` with both decoders (`serde_json` with paths, the
/// gateway's; `serde-json-core`, the nodes'), and checks that whatever one
/// accepts, re-encoded by either encoder, decodes to the same value.
pub fn json_message<M: Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(m) = codec::decode::<M>(data) {
        round_trip(&m);
    }
    if let Ok(m) = codec::decode_core::<M>(data) {
        round_trip(&m);
    }
}

/// Encodes `m` both ways and decodes it again; the value must not change.
///
/// # Panics
/// When a value the decoder accepted does not come back the same.
pub fn round_trip<M: Message + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = codec::encode(m);
    // A value decoded from a payload near the limit may encode longer
    // (`1e5` becomes `100000.0`): the limit, not the codec, refuses it.
    if bytes.len() <= M::MAX_LEN {
        match codec::decode::<M>(&bytes) {
            Ok(again) => assert_eq!(&again, m, "{} changed in a round trip", M::NAME),
            Err(e) => panic!(
                "{} encoded as {:?} is refused: {e}",
                M::NAME,
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
    let mut buf = [0u8; 4096];
    if let Ok(n) = codec::encode_core(m, &mut buf)
        && n <= M::MAX_LEN
    {
        let again: Result<M, DecodeError> = codec::decode::<M>(&buf[..n]);
        match again {
            Ok(again) => assert_eq!(&again, m, "{} changed in a core round trip", M::NAME),
            Err(e) => panic!(
                "{} core-encoded as {:?} is refused: {e}",
                M::NAME,
                String::from_utf8_lossy(&buf[..n])
            ),
        }
    }
}

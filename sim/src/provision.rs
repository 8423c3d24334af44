//! The provisioning blob: everything one node needs to join its gateway.
//!
//! Layout on flash: `b"GSPB"` · postcard-encoded [`ProvisionBlob`] · CRC-32
//! (ISO-HDLC, little-endian) of everything before it. The first field of the
//! blob is its format version, so a reader can refuse a layout it does not
//! know before trusting any other field.
//!
//! Every field has a fixed capacity (`heapless`), and encoding and decoding
//! work on byte slices without an allocator, so the firmware can take this
//! type as it is (it would move to `firmware` or `protocol` then).

use serde::{Deserialize, Serialize};

/// Bytes that start every blob.
pub const MAGIC: [u8; 4] = *b"GSPB";
/// The blob layout this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Largest encoded blob (magic, fields at full capacity, CRC).
pub const MAX_BLOB_LEN: usize = 320;
/// Capacity of the device secret, in bytes.
pub const SECRET_LEN: usize = 64;
/// Capacity of the gateway address (`host:port`), in bytes.
pub const GATEWAY_LEN: usize = 64;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// What a node is flashed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionBlob {
    /// Layout version ([`FORMAT_VERSION`]); read first.
    pub version: u16,
    /// The node's identity: MQTT client id, username and topic level.
    pub device: heapless::String<32>,
    /// Device profile name (`smoke`, `gas`, `lock` ...): which firmware runs.
    pub profile: heapless::String<32>,
    /// The node's own MQTT password; never another node's.
    pub secret: heapless::String<SECRET_LEN>,
    /// Where the gateway's broker listens, `host:port`.
    pub gateway: heapless::String<GATEWAY_LEN>,
    /// Fire zone (compartment) the node sits in, if any.
    pub fire_zone: Option<heapless::String<32>>,
    /// Heartbeat interval the node keeps, in seconds (1..=86400).
    pub heartbeat_s: u32,
}

/// Why bytes are not a valid blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Shorter than magic + CRC.
    #[error("blob is {0} bytes, too short to hold a header and a CRC")]
    TooShort(usize),
    /// Does not start with [`MAGIC`].
    #[error("not a GridSense provisioning blob (bad magic)")]
    BadMagic,
    /// The stored CRC does not match the content.
    #[error(
        "CRC mismatch: stored {stored:#010x}, computed {computed:#010x} (corrupt or truncated)"
    )]
    Crc {
        /// CRC stored in the blob.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// A layout this code does not know.
    #[error("blob format version {0} is not supported (this tool reads {FORMAT_VERSION})")]
    Version(u16),
    /// The fields do not decode, or do not fit the buffer.
    #[error("blob fields: {0}")]
    Postcard(#[from] postcard::Error),
    /// Bytes left after the fields.
    #[error("{0} unexpected bytes after the fields")]
    Trailing(usize),
}

impl ProvisionBlob {
    /// Writes the blob into `buf`; returns the bytes used.
    ///
    /// # Errors
    /// [`BlobError::Postcard`] when `buf` is too small ([`MAX_BLOB_LEN`] always suffices).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, BlobError> {
        if buf.len() < MAGIC.len() + 4 {
            return Err(BlobError::TooShort(buf.len()));
        }
        buf[..MAGIC.len()].copy_from_slice(&MAGIC);
        let body_len = {
            let end = buf.len() - 4;
            postcard::to_slice(self, &mut buf[MAGIC.len()..end])?.len()
        };
        let crc_at = MAGIC.len() + body_len;
        let crc = CRC32.checksum(&buf[..crc_at]);
        buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        Ok(crc_at + 4)
    }

    /// Reads a blob, checking magic, CRC and version in that order.
    ///
    /// # Errors
    /// The first [`BlobError`] found.
    pub fn decode(bytes: &[u8]) -> Result<Self, BlobError> {
        if bytes.len() < MAGIC.len() + 4 {
            return Err(BlobError::TooShort(bytes.len()));
        }
        if bytes[..MAGIC.len()] != MAGIC {
            return Err(BlobError::BadMagic);
        }
        let (content, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let computed = CRC32.checksum(content);
        if stored != computed {
            return Err(BlobError::Crc { stored, computed });
        }
        let body = &content[MAGIC.len()..];
        let (version, _) = postcard::take_from_bytes::<u16>(body)?;
        if version != FORMAT_VERSION {
            return Err(BlobError::Version(version));
        }
        let (blob, rest) = postcard::take_from_bytes::<Self>(body)?;
        if !rest.is_empty() {
            return Err(BlobError::Trailing(rest.len()));
        }
        Ok(blob)
    }

    /// The secret as shown to people: its first two characters, the rest masked.
    pub fn masked_secret(&self) -> String {
        mask(&self.secret)
    }
}

/// `ab******` for `abcdefgh`; fully masked when shorter than 8 characters.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 8 {
        return "*".repeat(n.max(1));
    }
    let shown: String = secret.chars().take(2).collect();
    format!("{shown}{}", "*".repeat(n - 2))
}

impl std::fmt::Display for ProvisionBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "format version: {}", self.version)?;
        writeln!(f, "device:         {}", self.device)?;
        writeln!(f, "profile:        {}", self.profile)?;
        writeln!(f, "secret:         {}", self.masked_secret())?;
        writeln!(f, "gateway:        {}", self.gateway)?;
        let zone = self.fire_zone.as_deref().unwrap_or("-");
        writeln!(f, "fire zone:      {zone}")?;
        write!(f, "heartbeat:      {} s", self.heartbeat_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> ProvisionBlob {
        ProvisionBlob {
            version: FORMAT_VERSION,
            device: "smoke-0001".try_into().unwrap(),
            profile: "smoke".try_into().unwrap(),
            secret: "s3cret-s3cret-0001".try_into().unwrap(),
            gateway: "gw.local:1883".try_into().unwrap(),
            fire_zone: Some("b01-f03".try_into().unwrap()),
            heartbeat_s: 60,
        }
    }

    fn encoded(b: &ProvisionBlob) -> Vec<u8> {
        let mut buf = [0u8; MAX_BLOB_LEN];
        let n = b.encode(&mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn blob_round_trips_and_starts_with_magic() {
        let bytes = encoded(&blob());
        assert_eq!(&bytes[..4], b"GSPB");
        assert_eq!(ProvisionBlob::decode(&bytes), Ok(blob()));
    }

    #[test]
    fn a_blob_at_full_capacity_fits_max_blob_len() {
        let mut b = blob();
        let long = |n| "x".repeat(n);
        b.device = long(32).as_str().try_into().unwrap();
        b.profile = long(32).as_str().try_into().unwrap();
        b.secret = long(SECRET_LEN).as_str().try_into().unwrap();
        b.gateway = long(GATEWAY_LEN).as_str().try_into().unwrap();
        b.fire_zone = Some(long(32).as_str().try_into().unwrap());
        b.heartbeat_s = u32::MAX;
        assert_eq!(ProvisionBlob::decode(&encoded(&b)), Ok(b));
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let bytes = encoded(&blob());
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(ProvisionBlob::decode(&bad).is_err(), "bit {i}");
        }
    }

    #[test]
    fn truncated_and_foreign_blobs_are_refused() {
        let bytes = encoded(&blob());
        assert!(matches!(
            ProvisionBlob::decode(&bytes[..bytes.len() - 1]),
            Err(BlobError::Crc { .. })
        ));
        assert_eq!(ProvisionBlob::decode(b"GSP"), Err(BlobError::TooShort(3)));
        assert_eq!(
            ProvisionBlob::decode(b"ELF\x7f\0\0\0\0\0"),
            Err(BlobError::BadMagic)
        );
    }

    #[test]
    fn an_unknown_version_is_refused_before_the_fields() {
        let mut b = blob();
        b.version = 2;
        assert_eq!(
            ProvisionBlob::decode(&encoded(&b)),
            Err(BlobError::Version(2))
        );
    }

    #[test]
    fn secrets_are_masked_for_display() {
        assert_eq!(mask("abcdefgh"), "ab******");
        assert_eq!(mask("short"), "*****");
        let shown = blob().to_string();
        assert!(!shown.contains("s3cret-s3cret-0001"), "{shown}");
        assert!(shown.contains("s3****"), "{shown}");
    }
}

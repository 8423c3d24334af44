//! Pseudonyms of credentials on the integrator feed: HMAC-SHA256 of
//! `kind:id` under the gateway's own key (kept in the store, never
//! published), first 8 bytes in hex. The same card gives the same pseudonym
//! at this gateway, so an integrator can count, but not learn the card.

use sha2::{Digest, Sha256};

/// The gateway's pseudonym key.
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    /// The key from its bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The pseudonym of credential `id` of `kind`: 16 hex digits.
    pub fn of(&self, kind: &str, id: &str) -> String {
        let mac = hmac(&self.0, format!("{kind}:{id}").as_bytes());
        mac[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// HMAC-SHA256 (RFC 2104) with a key of at most one block.
fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(key);
    let pad = |x: u8| k.map(|b| b ^ x);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2_shape_and_keys_differ() {
        // RFC 4231 test case 1: key 0x0b * 20 (padded), "Hi There".
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        let mac = hmac(&key, b"Hi There");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let a = PseudonymKey::new([1; 32]);
        let b = PseudonymKey::new([2; 32]);
        assert_eq!(a.of("card", "card-0001"), a.of("card", "card-0001"));
        assert_ne!(a.of("card", "card-0001"), b.of("card", "card-0001"));
        assert_ne!(a.of("card", "card-0001"), a.of("pin", "card-0001"));
        assert_eq!(a.of("card", "x").len(), 16);
        assert!(!a.of("card", "card-0001").contains("card"));
    }
}

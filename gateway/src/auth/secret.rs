//! Password hashes (argon2id, PHC strings) and bearer tokens (random, kept
//! as SHA-256). Neither a password nor a token is ever logged.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// Why a secret could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The operating system's random source failed.
    #[error("no randomness: {0}")]
    Random(String),
    /// The hash could not be computed.
    #[error("password hash: {0}")]
    Hash(String),
}

fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| SecretError::Random(e.to_string()))?;
    Ok(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The argon2id PHC string of `password`, with a fresh salt.
///
/// # Errors
/// [`SecretError`] when no salt can be drawn or hashing fails.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let salt =
        SaltString::encode_b64(&random::<16>()?).map_err(|e| SecretError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (false for a string
/// that does not parse).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new bearer token: `(id, token)`. The id is public (lists, audit); the
/// token is `gst_{id}_{secret}` and is shown once.
///
/// # Errors
/// [`SecretError::Random`].
pub fn new_token() -> Result<(String, String), SecretError> {
    let id = hex(&random::<6>()?);
    let secret = hex(&random::<24>()?);
    let token = format!("gst_{id}_{secret}");
    Ok((id, token))
}

/// What the store keeps of a token or a session id.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A random session id (hex).
///
/// # Errors
/// [`SecretError::Random`].
pub fn session_id() -> Result<String, SecretError> {
    Ok(hex(&random::<32>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horse "));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(h, hash_password("correct horse").expect("hash"), "salted");
    }

    #[test]
    fn tokens_are_distinct_and_kept_as_their_digest() {
        let (id, t) = new_token().expect("token");
        let (_, u) = new_token().expect("token");
        assert!(t.starts_with(&format!("gst_{id}_")));
        assert_ne!(t, u);
        assert_ne!(token_hash(&t), token_hash(&u));
    }
}

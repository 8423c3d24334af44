//! Credentials: every device, integrator and the admin gets its own random
//! secret (128 bits from the OS), shown once and stored only as a salted
//! SHA-256. Why not argon2: these secrets are generated, not chosen by
//! people, so there is no dictionary to slow down; a slow hash would only make
//! 10,000 reconnecting nodes expensive. See `docs/site-and-devices.md`.

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError};

/// Bytes of randomness in a secret (128 bits).
const SECRET_BYTES: usize = 16;
/// Bytes of salt per credential.
const SALT_BYTES: usize = 16;
/// The admin's username.
pub const ADMIN_USER: &str = "admin";

/// What a verified user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A sensor node: publishes under its own topics only.
    Device,
    /// A third-party system: reads integrator topics, never publishes.
    Integrator,
    /// The gateway's administrator.
    Admin,
}

impl Role {
    /// The name stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Integrator => "integrator",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Device, Self::Integrator, Self::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A stored credential: the salt and the hash, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) role: Role,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A new credential for `secret` with a fresh salt.
    pub(crate) fn new(role: Role, secret: &str) -> Result<Self, StoreError> {
        let salt = random_bytes::<SALT_BYTES>()?.to_vec();
        let hash = digest(&salt, secret).to_vec();
        Ok(Self { role, salt, hash })
    }

    /// Whether `secret` matches, compared in constant time.
    pub(crate) fn matches(&self, secret: &str) -> bool {
        digest(&self.salt, secret)
            .ct_eq(self.hash.as_slice())
            .into()
    }

    /// Inserts it under `username` (inside the caller's transaction).
    pub(crate) fn insert(
        &self,
        conn: &Connection,
        username: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO credentials (username, role, salt, hash, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            (username, self.role.as_str(), &self.salt, &self.hash, i64::try_from(now_ms).unwrap_or(i64::MAX)),
        )?;
        Ok(())
    }
}

fn digest(salt: &[u8], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut buf = [0; N];
    getrandom::fill(&mut buf)
        .map_err(|e| StoreError::Invalid(format!("the OS random source failed: {e}")))?;
    Ok(buf)
}

/// A new random secret: 32 lowercase hex digits (128 bits).
///
/// # Errors
/// When the operating system's random source fails.
pub fn new_secret() -> Result<String, StoreError> {
    use std::fmt::Write as _;
    let bytes = random_bytes::<SECRET_BYTES>()?;
    Ok(bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// Whether `username` already has a credential.
pub(crate) fn exists(conn: &Connection, username: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM credentials WHERE username = ?1",
            [username],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Creates the admin credential if there is none, and returns its password,
/// to be shown once. `None` when an admin already exists. There are no
/// default credentials: the first `gridsense run` calls this.
///
/// # Errors
/// Database or random-source failures.
pub fn ensure_admin(store: &Store) -> Result<Option<String>, StoreError> {
    use crate::clock::Clock as _;
    let now_ms = crate::clock::SystemClock.now_ms();
    // `unchecked`: the store has no other transaction open on this connection.
    let tx = store.conn().unchecked_transaction()?;
    if exists(&tx, ADMIN_USER)? {
        return Ok(None);
    }
    let secret = new_secret()?;
    Credential::new(Role::Admin, &secret)?.insert(&tx, ADMIN_USER, now_ms)?;
    tx.commit()?;
    Ok(Some(secret))
}

/// Why an integrator could not be added.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    /// The name is not a valid identifier.
    #[error("integrator name {name:?} {error}")]
    BadName {
        /// The rejected name.
        name: String,
        /// Why.
        error: protocol::IdentError,
    },
    /// A device, integrator or the admin already uses the name.
    #[error("the username {0:?} is already taken")]
    Taken(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates read-only integrator credentials; returns the secret, to be
/// shown once.
///
/// # Errors
/// [`CredsError`] for a bad or taken name, or a database failure.
pub fn add_integrator(store: &mut Store, name: &str, now_ms: u64) -> Result<String, CredsError> {
    protocol::Name::new(name).map_err(|error| CredsError::BadName {
        name: name.into(),
        error,
    })?;
    let tx = store.conn_mut().transaction().map_err(StoreError::from)?;
    let device: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM devices WHERE id = ?1",
            [name],
            |r| r.get(0),
        )
        .map_err(StoreError::from)?;
    if device || exists(&tx, name)? {
        return Err(CredsError::Taken(name.into()));
    }
    let secret = new_secret()?;
    Credential::new(Role::Integrator, &secret)?.insert(&tx, name, now_ms)?;
    tx.commit().map_err(StoreError::from)?;
    tracing::info!(integrator = name, "integrator credential created");
    Ok(secret)
}

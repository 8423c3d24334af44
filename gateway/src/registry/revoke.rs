//! Taking access back: a credential's secret replaced (`gridsense creds
//! rotate`), a device removed (`gridsense device remove`), the admin's first
//! password written to a 0600 file. Each change is one transaction and one
//! audit record (`creds.rotated`, `device.removed`); the running gateway's
//! registry picks it up within its reload period, after which the old secret
//! is refused at connect.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension as _;

use super::creds::{Credential, Role};
use crate::store::{Store, StoreError};

/// Why a credential could not be rotated or a device removed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// No credential under this username.
    #[error("no credential named {0:?} (`gridsense device list` lists devices)")]
    NoSuchUser(String),
    /// No device with this id.
    #[error("no device named {0:?} (`gridsense device list` lists devices)")]
    NoSuchDevice(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for RevokeError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Replaces the secret of `username` (a device, an integrator or the admin)
/// with a new random one and returns it, to be shown once; the old secret
/// no longer verifies.
///
/// # Errors
/// [`RevokeError::NoSuchUser`], or a database failure.
pub fn rotate(
    store: &mut Store,
    username: &str,
    now_ms: u64,
) -> Result<(Role, String), RevokeError> {
    // Immediate: the running gateway writes too; a deferred transaction that
    // read first would fail at its first write (SQLITE_BUSY_SNAPSHOT, no retry).
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let role: Option<String> = tx
        .query_row(
            "SELECT role FROM credentials WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()?;
    let role = role
        .and_then(|r| Role::parse(&r))
        .ok_or_else(|| RevokeError::NoSuchUser(username.into()))?;
    let secret = super::new_secret()?;
    tx.execute("DELETE FROM credentials WHERE username = ?1", [username])?;
    Credential::new(role, &secret)?.insert(&tx, username, now_ms)?;
    tx.commit()?;
    store.append_audit(
        now_ms,
        "creds.rotated",
        username,
        &serde_json::json!({ "role": role.as_str() }),
    )?;
    tracing::info!(username, "credential rotated");
    Ok((role, secret))
}

/// Removes a device: its registration, its credential and its presence row.
/// Its history (events, telemetry, alarms, orders) stays.
///
/// # Errors
/// [`RevokeError::NoSuchDevice`], or a database failure.
pub fn remove_device(store: &mut Store, id: &str, now_ms: u64) -> Result<(), RevokeError> {
    // Immediate: the running gateway writes too; a deferred transaction that
    // read first would fail at its first write (SQLITE_BUSY_SNAPSHOT, no retry).
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let profile: Option<String> = tx
        .query_row("SELECT profile FROM devices WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    let profile = profile.ok_or_else(|| RevokeError::NoSuchDevice(id.into()))?;
    tx.execute("DELETE FROM devices WHERE id = ?1", [id])?;
    tx.execute(
        "DELETE FROM credentials WHERE username = ?1 AND role = ?2",
        (id, Role::Device.as_str()),
    )?;
    tx.execute("DELETE FROM presence WHERE device = ?1", [id])?;
    tx.commit()?;
    store.append_audit(
        now_ms,
        "device.removed",
        id,
        &serde_json::json!({ "profile": profile }),
    )?;
    tracing::info!(device = id, "device removed");
    Ok(())
}

/// Where the admin's first password is written: beside the store,
/// `<store stem>.admin-password` (`/var/lib/gridsense/gridsense.admin-password`).
pub fn admin_password_file(store_path: &Path) -> PathBuf {
    store_path.with_extension("admin-password")
}

/// Writes `secret` to `path`, readable by its owner only (0600 from the
/// start: the file is never world-readable, not even for a moment).
///
/// # Errors
/// When the file cannot be written.
pub fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    writeln!(f, "{secret}")?;
    f.sync_all()
}

/// Creates the admin credential if there is none and writes its password to
/// [`admin_password_file`]; returns that file, or `None` when an admin
/// already exists. The password is never printed or logged.
///
/// # Errors
/// A database failure, or the file could not be written (the message says
/// how to get a new password: `gridsense creds rotate admin`).
pub fn ensure_admin_file(store: &Store, store_path: &Path) -> Result<Option<PathBuf>, String> {
    let Some(secret) = super::ensure_admin(store).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let file = admin_password_file(store_path);
    write_secret_file(&file, &secret).map_err(|e| {
        format!(
            "the admin credential was created but {} could not be written ({e}); \
             `gridsense creds rotate admin` makes a new password",
            file.display()
        )
    })?;
    Ok(Some(file))
}

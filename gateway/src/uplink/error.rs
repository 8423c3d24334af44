//! Why the uplink could not start or stopped.

/// Why the uplink could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The configuration is invalid.
    #[error("invalid [uplink]: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// The outbox could not be read or written.
    #[error("outbox: {0}")]
    Db(#[from] crate::store::StoreError),
}

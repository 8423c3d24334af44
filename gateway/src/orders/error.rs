//! Why the order engine could not start or stopped.

use super::store::StoreError;

/// Why the engine could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// `[orders]` is invalid.
    #[error("invalid [orders]: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The tables could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An order id could not be formed (gateway id too long?).
    #[error("order id {0:?} is not a valid identifier")]
    Id(String),
}

impl From<rusqlite::Error> for OrdersError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

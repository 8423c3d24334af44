//! Why the order engine could not start or stopped.

use crate::store::StoreError;

/// Why the engine could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// `[orders]` is invalid.
    #[error("invalid [orders]: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The tables could not be read or written.
    #[error("orders: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode (written by another version?).
    #[error("order {id}: stored record does not decode: {source}")]
    Decode {
        /// The order.
        id: String,
        /// Why.
        source: serde_json::Error,
    },
    /// An order id could not be formed (gateway id too long?).
    #[error("order id {0:?} is not a valid identifier")]
    Id(String),
}

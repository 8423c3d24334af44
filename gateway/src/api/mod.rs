//! The operators' HTTP API (axum): open alarms and what to do with them,
//! maintenance mode, and the gateway's counters. Bound to the address in
//! `[api]` (loopback by default: put a reverse proxy with TLS and
//! authentication in front of it to reach it from the guard room).

mod config;
mod error;
mod operators;
mod routes;
mod serve;

pub use config::ApiSection;
pub use error::ApiError;
pub use operators::Operators;
pub use routes::{ApiState, router};
pub use serve::Server;

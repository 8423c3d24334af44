//! The operators' HTTP API (axum) and console: alarms and what to do with
//! them, work orders, the site and its devices, KPIs, maintenance, the
//! audit chain, live updates (server-sent events), `/metrics`, the OpenAPI
//! document, and the console's pages embedded in the binary. Every route
//! but `/healthz`, the login and the console's static files needs a
//! session cookie or a bearer token (`docs/api.md`).

mod access;
mod alarms;
mod auth;
pub mod bodies;
mod config;
mod console;
mod devices;
mod error;
mod live;
mod maintenance;
mod metrics;
mod openapi;
mod operators;
mod orders;
mod reports;
mod routes;
mod serve;
mod state;
mod tls;
mod views;

#[cfg(test)]
mod tests;

pub use auth::{COOKIE, Caller, PASSWORD_MIN, check_user};
pub use config::ApiSection;
pub use error::{ApiError, PROBLEM_JSON};
pub use live::{event_of, pump};
pub use openapi::ApiDoc;
pub use operators::Operators;
pub use reports::REPORT_DEVICE;
pub use routes::router;
pub use serve::Server;
pub use state::{ApiState, Console, LiveEvent, Registration};
pub use tls::ApiTls;

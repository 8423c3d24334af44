//! Who may use the HTTP API: roles and what each may do ([`role`]),
//! argon2 password hashes and bearer tokens ([`secret`]), console sessions
//! ([`session`]) and the rate limits of logins and public reports
//! ([`limit`]). The users and tokens live in the store (`api_users`,
//! `api_tokens`); there are none until `gridsense user add` makes one.

pub mod limit;
pub mod role;
pub mod secret;
pub mod session;

pub use limit::Limiter;
pub use role::{Need, Role};
pub use secret::{hash_password, new_token, token_hash, verify_password};
pub use session::{Session, Sessions};

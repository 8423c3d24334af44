//! `[api]`: where the operators' HTTP API listens, and how it guards itself.

use std::net::SocketAddr;

use serde::Deserialize;

/// `[api]`: the operators' HTTP API and console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Listen address; loopback by default (configure `[api.tls]`, or put
    /// a TLS proxy in front and set `secure_cookie`, to reach it from the
    /// guard room).
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (the console is reached over HTTPS).
    #[serde(default)]
    pub secure_cookie: bool,
    /// How long a console login lasts, in hours.
    #[serde(default = "default_session_h")]
    pub session_h: u64,
    /// Login attempts per minute, per user name and per client address.
    #[serde(default = "default_logins_per_min")]
    pub logins_per_min: u32,
    /// Residents' reports per hour, per site form and per client address.
    #[serde(default = "default_reports_per_h")]
    pub reports_per_h: u32,
    /// HTTPS on this listener (`[api.tls]`); the session cookie is then
    /// always `Secure`.
    #[serde(default)]
    pub tls: Option<super::tls::ApiTls>,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: default_api_listen(),
            secure_cookie: false,
            session_h: default_session_h(),
            logins_per_min: default_logins_per_min(),
            reports_per_h: default_reports_per_h(),
            tls: None,
        }
    }
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

const fn default_session_h() -> u64 {
    12
}

const fn default_logins_per_min() -> u32 {
    5
}

const fn default_reports_per_h() -> u32 {
    20
}

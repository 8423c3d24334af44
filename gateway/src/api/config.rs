//! `[api]`: where the operators' HTTP API listens.

use std::net::SocketAddr;

use serde::Deserialize;

/// `[api]`: the operators' HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Listen address; loopback by default (put a TLS proxy in front).
    #[serde(default = "default_api_listen")]
    pub listen: SocketAddr,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: default_api_listen(),
        }
    }
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

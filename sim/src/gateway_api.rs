//! What a scenario asks of the gateway itself, not of a node: revocations
//! (`{ type = "revoke", credential = "card:card-0002" }`), sent to the
//! gateway's HTTP API as an installer would (`POST /api/access/revoke` with
//! a bearer token), at their time in the run.
//!
//! The API is reached over plain HTTP/1.1 (the gateway's LAN listener, or
//! a loopback one in tests); a TLS-only API is not supported here: revoke
//! with `gridsense access revoke` on the gateway instead.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::stats::{Stats, bump};

/// How long one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the gateway's operators' API is, and the token to call it with.
#[derive(Clone)]
pub struct GatewayApi {
    /// `host:port` of the API (plain HTTP).
    pub addr: String,
    /// A bearer token of an installer or admin (`gridsense user token`).
    pub token: String,
}

impl std::fmt::Debug for GatewayApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in logs.
        f.debug_struct("GatewayApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Why a call to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not reachable, or the connection broke.
    #[error("{addr}: {source}")]
    Io {
        /// The API's address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// No answer within [`CALL_TIMEOUT`].
    #[error("{0}: no answer within 10 s")]
    Timeout(String),
    /// The API answered with an error status.
    #[error("{path}: HTTP {status}: {body}")]
    Status {
        /// The request's path.
        path: &'static str,
        /// The status code (0 when the answer was not HTTP).
        status: u16,
        /// The answer's body.
        body: String,
    },
}

impl GatewayApi {
    /// Revokes `credential` (`kind:id`, checked by the scenario).
    ///
    /// # Errors
    /// [`ApiError`]; a 404 when the gateway has no such credential or it is
    /// revoked already.
    pub async fn revoke(&self, credential: &str) -> Result<(), ApiError> {
        // `kind:id` is `[a-z]:[A-Za-z0-9_-]`: nothing to escape in JSON.
        let body = format!(r#"{{"credential":"{credential}"}}"#);
        self.post("/api/access/revoke", &body).await
    }

    async fn post(&self, path: &'static str, body: &str) -> Result<(), ApiError> {
        let io = |source| ApiError::Io {
            addr: self.addr.clone(),
            source,
        };
        let call = async {
            let mut s = TcpStream::connect(&self.addr).await.map_err(io)?;
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                self.addr,
                self.token,
                body.len()
            );
            s.write_all(req.as_bytes()).await.map_err(io)?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await.map_err(io)?;
            Ok::<_, ApiError>(String::from_utf8_lossy(&answer).into_owned())
        };
        let answer = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| ApiError::Timeout(self.addr.clone()))??;
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Err(ApiError::Status {
            path,
            status,
            body: body.chars().take(200).collect(),
        })
    }
}

/// Sends each revocation at its time (`(ms after start, "kind:id")`, in
/// order) until the list ends or `cancel`; counts each into `stats`.
pub async fn run_revocations(
    api: GatewayApi,
    revocations: Vec<(u64, String)>,
    stats: std::sync::Arc<Stats>,
    cancel: CancellationToken,
) {
    let start = tokio::time::Instant::now();
    for (at_ms, credential) in revocations {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(start + Duration::from_millis(at_ms)) => {}
        }
        match api.revoke(&credential).await {
            Ok(()) => {
                bump(&stats.revocations);
                tracing::info!(target: "gridsense_sim", %credential, "revoked at the gateway");
            }
            Err(e) => {
                bump(&stats.revocations_failed);
                tracing::error!(target: "gridsense_sim", %credential, error = %e, "revocation failed");
            }
        }
    }
}

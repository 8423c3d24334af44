//! SOAP 1.2 over HTTP/1.1: one POST per request on its own connection,
//! bounded in time and in the size of the answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Largest answer read from a camera; a longer one is an error.
pub(crate) const MAX_ANSWER: usize = 1 << 20;

/// Where a service is: `http://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Host name or address (IPv6 without brackets).
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// Path and query, from `/`.
    pub(crate) path: String,
    /// `host[:port]` as the `Host` header carries it.
    pub(crate) authority: String,
}

impl Endpoint {
    /// Parses a service address.
    ///
    /// # Errors
    /// A sentence for the operator when it is not an `http://` address.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("not an address ({e}): `{url}`"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "https is not supported; use the camera's http:// service address (the password is sent only as a digest), got `{url}`"
                ));
            }
            _ => return Err(format!("must be an http:// address, got `{url}`")),
        }
        let Some(auth) = uri.authority() else {
            return Err(format!("has no host: `{url}`"));
        };
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("has no host: `{url}`"));
        }
        Ok(Self {
            host: host.to_string(),
            port: auth.port_u16().unwrap_or(80),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), ToString::to_string),
            authority: auth.as_str().to_string(),
        })
    }
}

/// Why a request got no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpError {
    /// No connection, or it broke.
    #[error("transport: {0}")]
    Transport(String),
    /// No complete answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer is larger than [`MAX_ANSWER`].
    #[error("answer over {MAX_ANSWER} bytes")]
    TooLarge,
}

/// POSTs `body` (a SOAP envelope) to `to`; the HTTP status and the answer.
///
/// # Errors
/// [`HttpError`] when there is no answer to read within `limit`.
pub(crate) async fn post(
    to: &Endpoint,
    action: &str,
    body: String,
    limit: Duration,
) -> Result<(u16, String), HttpError> {
    match tokio::time::timeout(limit, exchange(to, action, body)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(limit)),
    }
}

async fn exchange(to: &Endpoint, action: &str, body: String) -> Result<(u16, String), HttpError> {
    let t = |e: &dyn std::fmt::Display| HttpError::Transport(e.to_string());
    let stream = TcpStream::connect((to.host.as_str(), to.port))
        .await
        .map_err(|e| t(&e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| t(&e))?;
    let req = Request::post(to.path.as_str())
        .header(HOST, to.authority.as_str())
        .header(
            CONTENT_TYPE,
            format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        )
        .header(CONNECTION, "close")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| t(&e))?;
    let answer = async {
        let resp = sender.send_request(req).await.map_err(|e| t(&e))?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::TooLarge
                } else {
                    t(&e)
                }
            })?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    let mut answer = std::pin::pin!(answer);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = &mut answer => r,
        c = &mut conn => {
            // The connection ended first (closed after a complete answer,
            // or broken): the answer's future says which.
            if let Err(e) = c {
                tracing::debug!(error = %e, "onvif: connection ended");
            }
            answer.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn service_addresses_parse_with_default_port_and_path() {
        let e = Endpoint::parse("http://192.168.1.64/onvif/device_service").expect("ok");
        assert_eq!((e.host.as_str(), e.port), ("192.168.1.64", 80));
        assert_eq!(e.path, "/onvif/device_service");
        let e = Endpoint::parse("http://cam:8080").expect("ok");
        assert_eq!(
            (e.port, e.path.as_str(), e.authority.as_str()),
            (8080, "/", "cam:8080")
        );
        let e = Endpoint::parse("http://[::1]:81/x?y=1").expect("ok");
        assert_eq!((e.host.as_str(), e.path.as_str()), ("::1", "/x?y=1"));
    }

    #[test]
    fn other_schemes_and_garbage_are_refused_with_a_reason() {
        assert!(
            Endpoint::parse("https://cam/onvif")
                .unwrap_err()
                .contains("https")
        );
        assert!(
            Endpoint::parse("ftp://cam/")
                .unwrap_err()
                .contains("http://")
        );
        assert!(Endpoint::parse("cam/onvif").is_err());
        assert!(Endpoint::parse("").is_err());
    }
}

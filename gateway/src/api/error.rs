//! One error type at the HTTP edge, answered as `application/problem+json`
//! (RFC 9457): `{"type","title","status","detail"}`. Client mistakes say
//! what to change; internal failures are logged and answered generically.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::alarms::{MaintenanceError, OperatorError};
use crate::store::StoreError;

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No session cookie or bearer token, or one that is not valid.
    #[error("log in first: no valid session or bearer token")]
    Unauthorized,
    /// Logged in, but the role may not do this.
    #[error("the role `{role}` may not {what}")]
    Forbidden {
        /// The caller's role.
        role: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// Too many attempts; try again later.
    #[error("too many attempts: {0}")]
    TooMany(&'static str),
    /// Wrong user name or password (one message for both).
    #[error("wrong user name or password")]
    BadLogin,
    /// Nothing by that name.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operator's request does not fit the alarm.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// The action in the path is not one we know.
    #[error("unknown action `{0}`")]
    Action(String),
    /// A work order cannot move that way.
    #[error("{0}")]
    Order(String),
    /// A maintenance request that cannot be honoured.
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    /// The request body or query is not what the route takes.
    #[error("bad request: {0}")]
    Body(String),
    /// The store failed; the details are logged, not sent.
    #[error("internal error: the change was not stored")]
    Store(StoreError),
    /// Something else failed inside; logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// The analysis task is gone (shutting down).
    #[error("the gateway is shutting down")]
    Unavailable,
}

impl ApiError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::BadLogin => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_)
            | Self::Operator(OperatorError::Unknown(_))
            | Self::Maintenance(MaintenanceError::UnknownTarget(_)) => StatusCode::NOT_FOUND,
            Self::Maintenance(MaintenanceError::Invalid(_)) | Self::Body(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Operator(_) | Self::Order(_) | Self::Maintenance(_) => StatusCode::CONFLICT,
            Self::Action(_) => StatusCode::BAD_REQUEST,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Store(e) => tracing::error!(error = %e, "API request failed in the store"),
            Self::Internal(e) => tracing::error!(error = %e, "API request failed"),
            _ => {}
        }
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
            // Kept for clients of the first API, which read `error`.
            "error": self.to_string(),
        });
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gridsense\""),
            );
        }
        r
    }
}

//! One error type at the HTTP edge.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::alarms::{MaintenanceError, OperatorError};
use crate::store::StoreError;

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The operator's request does not fit the alarm.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// The action in the path is not one we know.
    #[error("unknown action `{0}`: use ack, reset or cancel")]
    Action(String),
    /// A maintenance request that cannot be honoured.
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    /// The request body is not the JSON the route takes.
    #[error("bad request body: {0}")]
    Body(String),
    /// The store failed; the details are logged, not sent.
    #[error("internal error: the change was not stored")]
    Store(StoreError),
    /// The analysis task is gone (shutting down).
    #[error("the gateway is shutting down")]
    Unavailable,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Operator(OperatorError::Unknown(_)) => StatusCode::NOT_FOUND,
            Self::Operator(_) => StatusCode::CONFLICT,
            Self::Action(_) => StatusCode::BAD_REQUEST,
            Self::Maintenance(MaintenanceError::UnknownTarget(_)) => StatusCode::NOT_FOUND,
            Self::Maintenance(MaintenanceError::Invalid(_)) | Self::Body(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Maintenance(_) => StatusCode::CONFLICT,
            Self::Store(e) => {
                tracing::error!(error = %e, "API request failed in the store");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

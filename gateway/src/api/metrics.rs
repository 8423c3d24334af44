//! `GET /metrics` for Prometheus (a bearer token of any role: set
//! `authorization` in the scrape job).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::auth::Caller;
use super::{ApiError, ApiState};
use crate::auth::Need;

/// `GET /metrics`: the Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "OpenMetrics text"), (status = 401, description = "No token")))]
pub(super) async fn metrics(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.need(Need::Read, "read metrics")?;
    let body = s.console.metrics.render(s.console.clock.now_ms()).await;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

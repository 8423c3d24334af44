//! The first API's handlers: open alarms and the operators' actions on
//! them, rejection counters, health.

use axum::Json;
use axum::extract::{Path, State};
use protocol::feed::AlarmFeed;
use tokio::sync::oneshot;

use super::auth::Caller;
use super::operators;
use super::{ApiError, ApiState};
use crate::alarms::OperatorAction;
use crate::analysis::Control;
use crate::auth::Need;

/// 200 with the report when every stage runs and moves; 503 with the same
/// report (its `problems` say why) when not.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Every stage runs and moves"), (status = 503, description = "A stage stopped or is stuck")))]
pub(super) async fn healthz(
    State(s): State<ApiState>,
) -> (axum::http::StatusCode, Json<crate::health::Report>) {
    let report = s.health.check().await;
    let code = if report.ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

/// `GET /api/alarms`: the open alarms.
#[utoipa::path(get, path = "/api/alarms", tag = "alarms",
    responses((status = 200, description = "Open alarms"), (status = 401, description = "Not logged in")))]
pub(super) async fn alarms(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<AlarmFeed>>, ApiError> {
    caller.need(Need::Read, "see alarms")?;
    Ok(Json(super::views::open_alarms(&s).await?))
}

/// Acknowledge, reset or cancel; the optional body `{"by","reason"}` goes
/// to the audit chain with the caller and the outcome, refusals included.
#[utoipa::path(post, path = "/api/alarms/{id}/{action}", tag = "alarms",
    params(("id" = String, Path, description = "Alarm id"), ("action" = String, Path, description = "ack, reset or cancel")),
    responses((status = 200, description = "Done"), (status = 403, description = "Not an operator"),
              (status = 404, description = "No such open alarm"),
              (status = 409, description = "Refused by the latch rules (e.g. reset while a detector is still in alarm)")))]
pub(super) async fn act(
    State(s): State<ApiState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Operate, "act on alarms")?;
    let action = match action.as_str() {
        "ack" => OperatorAction::Acknowledge,
        "reset" => OperatorAction::Reset,
        "cancel" => OperatorAction::Cancel,
        other => {
            return Err(ApiError::Action(format!(
                "{other}: use ack, reset or cancel"
            )));
        }
    };
    let who = operators::action_body(&body)?;
    let (reply, rx) = oneshot::channel();
    s.control
        .send(Control::Operator {
            id: id.clone(),
            action,
            reply,
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let outcome = rx.await.map_err(|_| ApiError::Unavailable)?;
    s.operators
        .audit_action(
            &id,
            action,
            &who,
            &caller.name,
            outcome.as_ref().map(|_| ()),
        )
        .await;
    outcome?;
    Ok(Json(
        serde_json::json!({ "alarm": id, "done": format!("{action:?}") }),
    ))
}

/// `GET /api/rejects`: rejected messages counted by reason.
#[utoipa::path(get, path = "/api/rejects", tag = "site",
    responses((status = 200, description = "Counts by reason"), (status = 401, description = "Not logged in")))]
pub(super) async fn rejects(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Read, "see rejects")?;
    let map: serde_json::Map<String, serde_json::Value> = s
        .rejects
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Ok(Json(serde_json::Value::Object(map)))
}

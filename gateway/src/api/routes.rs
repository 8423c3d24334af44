//! Routes and handlers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::feed::AlarmFeed;
use tokio::sync::{mpsc, oneshot};

use super::ApiError;
use super::operators::{self, Operators};
use crate::alarms::OperatorAction;
use crate::analysis::Control;
use crate::ingest::Rejects;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Requests to the analysis task.
    pub control: mpsc::Sender<Control>,
    /// Rejection counters.
    pub rejects: Arc<Rejects>,
    /// Whether the pipeline is moving.
    pub health: crate::health::Health,
    /// Maintenance windows and the audit of operators' actions.
    pub operators: Operators,
}

impl axum::extract::FromRef<ApiState> for Operators {
    fn from_ref(s: &ApiState) -> Self {
        s.operators.clone()
    }
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/alarms", get(alarms))
        .route("/api/alarms/{id}/{action}", post(act))
        .route(
            "/api/maintenance",
            post(operators::set).get(operators::list),
        )
        .route("/api/rejects", get(rejects))
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// 200 with the report when every stage runs and moves; 503 with the same
/// report (its `problems` say why) when not.
async fn healthz(
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

async fn alarms(State(s): State<ApiState>) -> Result<Json<Vec<AlarmFeed>>, ApiError> {
    let (reply, rx) = oneshot::channel();
    s.control
        .send(Control::Alarms { reply })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(rx.await.map_err(|_| ApiError::Unavailable)?))
}

/// Acknowledge, reset or cancel; the optional body `{"by","reason"}` goes
/// to the audit chain with the outcome, refusals included.
async fn act(
    State(s): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let action = match action.as_str() {
        "ack" => OperatorAction::Acknowledge,
        "reset" => OperatorAction::Reset,
        "cancel" => OperatorAction::Cancel,
        other => return Err(ApiError::Action(other.to_string())),
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
        .audit_action(&id, action, &who, outcome.as_ref().map(|_| ()))
        .await;
    outcome?;
    Ok(Json(
        serde_json::json!({ "alarm": id, "done": format!("{action:?}") }),
    ))
}

async fn rejects(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let map: serde_json::Map<String, serde_json::Value> = s
        .rejects
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Json(serde_json::Value::Object(map))
}

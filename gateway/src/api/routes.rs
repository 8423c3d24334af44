//! Routes and handlers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::feed::AlarmFeed;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::ApiError;
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
}

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/alarms", get(alarms))
        .route("/api/alarms/{id}/{action}", post(act))
        .route("/api/maintenance", post(maintenance))
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

async fn act(
    State(s): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let action = match action.as_str() {
        "ack" => OperatorAction::Acknowledge,
        "reset" => OperatorAction::Reset,
        "cancel" => OperatorAction::Cancel,
        other => return Err(ApiError::Action(other.to_string())),
    };
    let (reply, rx) = oneshot::channel();
    s.control
        .send(Control::Operator {
            id: id.clone(),
            action,
            reply,
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    rx.await.map_err(|_| ApiError::Unavailable)??;
    Ok(Json(
        serde_json::json!({ "alarm": id, "done": format!("{action:?}") }),
    ))
}

/// Body of `POST /api/maintenance`.
#[derive(Debug, Deserialize)]
struct Maintenance {
    /// Device id, site node id or fire zone.
    target: String,
    /// In or out of maintenance.
    on: bool,
}

async fn maintenance(
    State(s): State<ApiState>,
    Json(m): Json<Maintenance>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.control
        .send(Control::Maintenance {
            target: m.target.clone(),
            on: m.on,
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(
        serde_json::json!({ "target": m.target, "maintenance": m.on }),
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

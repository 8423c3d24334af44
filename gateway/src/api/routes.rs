//! Routes, and the first API's handlers (alarms, rejects, health).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::feed::AlarmFeed;
use tokio::sync::{mpsc, oneshot};

use super::ApiError;
use super::auth::Caller;
use super::operators::{self, Operators};
use super::state::Console;
use crate::alarms::OperatorAction;
use crate::analysis::Control;
use crate::auth::Need;
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
    /// Users, sessions, live events, the store's views, metrics.
    pub console: Arc<Console>,
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
        .route("/api/login", post(super::auth::login))
        .route("/api/logout", post(super::auth::logout))
        .route("/api/me", get(super::auth::me))
        .route("/api/users", post(super::auth::add_user))
        .route("/api/tokens", post(super::auth::add_token))
        .route(
            "/api/devices",
            get(super::views::devices).post(super::devices::register),
        )
        .route("/api/site", get(super::views::site))
        .route("/api/kpi", get(super::views::kpi))
        .route("/api/audit", get(super::views::audit))
        .route("/api/quarantine", get(super::views::quarantine))
        .route("/api/orders", get(super::orders::list))
        .route("/api/orders/{id}/{action}", post(super::orders::act))
        .route("/api/events", get(super::live::events))
        .route("/api/openapi.json", get(super::openapi::json))
        .route("/api/docs", get(super::openapi::docs))
        .route("/metrics", get(super::metrics::metrics))
        .merge(super::console::routes())
        .merge(super::reports::routes())
        .route("/healthz", get(healthz))
        .with_state(state)
}

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

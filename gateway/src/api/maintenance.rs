//! `GET|POST /api/maintenance`: maintenance windows from the console.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

use super::ApiError;
use super::auth::Caller;
use super::operators::{MaintenanceRequest, Operators, parse};
use crate::alarms::MaintenanceError;
use crate::alarms::Window;
use crate::alarms::maintenance::scope_of;
use crate::auth::Need;
use crate::store::{AuthWrite, Write};

/// `POST /api/maintenance` (operator or installer): starts or ends a
/// window; `by` (the person) and `reason` are required, the logged-in
/// user is audited beside them.
#[utoipa::path(post, path = "/api/maintenance", tag = "maintenance",
    responses((status = 200, description = "The window started or ended"), (status = 403, description = "A viewer"),
              (status = 409, description = "Refused (a real fire is open inside it)"), (status = 422, description = "A bad window")))]
pub(super) async fn set(
    State(ops): State<Operators>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Maintain, "set maintenance windows")?;
    let m: MaintenanceRequest = parse(&body, None)?;

    let scope = scope_of(&ops.registry.get(), &m.target)
        .ok_or_else(|| MaintenanceError::UnknownTarget(m.target.clone()))?;
    let _one = ops.lock.lock().await;
    let out = if m.on {
        let w = ops.window(&m, scope, ops.clock.now_ms())?;
        ops.start(w).await?
    } else {
        ops.end(&m).await?
    };
    let who = Write::Auth(AuthWrite::Action {
        at: ops.clock.now_ms(),
        kind: "api.maintenance".into(),
        subject: m.target.clone(),
        body: serde_json::json!({ "user": caller.name, "by": m.by, "on": m.on }),
    });
    if let Err(e) = ops.store.write(who).await {
        tracing::error!(error = %e, "maintenance caller not audited");
    }
    Ok(Json(out))
}

/// `GET /api/maintenance`: the windows in force, as stored.
#[utoipa::path(get, path = "/api/maintenance", tag = "maintenance",
    responses((status = 200, description = "Windows in force"), (status = 401, description = "Not logged in")))]
pub(super) async fn list(
    State(ops): State<Operators>,
    caller: Caller,
) -> Result<Json<Vec<Window>>, ApiError> {
    caller.need(Need::Read, "see maintenance windows")?;
    let now = ops.clock.now_ms();
    let windows = ops
        .store
        .read(move |st| st.maintenance_in_force(now))
        .await
        .map_err(ApiError::Store)?;
    Ok(Json(windows))
}

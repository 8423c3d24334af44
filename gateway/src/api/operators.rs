//! Operators' actions that touch life safety: maintenance windows (checked
//! against the registry, stored and audited, then put in force) and the
//! audit record of every action on an alarm, done or refused.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::ApiError;
use super::auth::Caller;
use crate::alarms::maintenance::scope_of;
use crate::alarms::windows::Change;
use crate::alarms::{AlarmPolicy, MaintenanceError, OperatorAction, OperatorError, Scope, Window};
use crate::analysis::Control;
use crate::auth::Need;
use crate::clock::SharedClock;
use crate::registry::RegistryCell;
use crate::store::{AuthWrite, Done, MaintenanceWrite, OperatorRecord, StoreHandle, Write};

/// Longest `by` accepted, in characters.
const BY_MAX: usize = 64;
/// Longest `reason` accepted, in characters.
const REASON_MAX: usize = 256;

/// What the operators' handlers need besides the analysis task.
#[derive(Debug, Clone)]
pub struct Operators {
    control: mpsc::Sender<Control>,
    store: StoreHandle,
    registry: Arc<RegistryCell>,
    clock: SharedClock,
    /// Longest window, in ms.
    max_ms: u64,
    /// One maintenance change at a time, so the store and the engine see
    /// them in the same order.
    lock: Arc<Mutex<()>>,
}

impl Operators {
    /// Handlers over the analysis task's control channel, this store,
    /// registry, clock and alarm policy.
    pub fn new(
        control: &mpsc::Sender<Control>,
        store: &StoreHandle,
        registry: &Arc<RegistryCell>,
        clock: &SharedClock,
        policy: &AlarmPolicy,
    ) -> Self {
        Self {
            control: control.clone(),
            store: store.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            max_ms: policy.max_maintenance_h.saturating_mul(3_600_000),
            lock: Arc::new(Mutex::new(())),
        }
    }
}

/// Body of `POST /api/maintenance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaintenanceRequest {
    /// Device id, site node id (covers its subtree) or fire zone.
    target: String,
    /// Start (true) or end the window.
    on: bool,
    /// Who asks.
    #[serde(default)]
    by: String,
    /// Why.
    #[serde(default)]
    reason: String,
    /// When the window ends by itself (ms since the epoch).
    until: Option<u64>,
    /// Or: how long it lasts, in seconds.
    for_s: Option<u64>,
}

/// Optional body of `POST /api/alarms/{id}/{action}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    /// Who acts.
    #[serde(default)]
    by: String,
    /// Why.
    #[serde(default)]
    reason: String,
}

/// Parses a JSON body; an empty body is `T::default()` when `empty` is given.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes, empty: Option<T>) -> Result<T, ApiError> {
    match empty {
        Some(d) if body.iter().all(u8::is_ascii_whitespace) => Ok(d),
        _ => serde_json::from_slice(body).map_err(|e| ApiError::Body(e.to_string())),
    }
}

/// Checks `who` and `why`: both required, both bounded.
fn who_and_why(by: &str, reason: &str) -> Result<(String, String), MaintenanceError> {
    let (by, reason) = (by.trim(), reason.trim());
    let bad = |m: &str| Err(MaintenanceError::Invalid(m.to_string()));
    if by.is_empty() {
        return bad("`by` is required: who sets or ends the window");
    }
    if reason.is_empty() {
        return bad("`reason` is required: why the window is set or ended");
    }
    if by.chars().count() > BY_MAX || reason.chars().count() > REASON_MAX {
        return bad("`by` is at most 64 characters, `reason` at most 256");
    }
    Ok((by.to_string(), reason.to_string()))
}

impl Operators {
    /// The window a start request asks for, checked.
    fn window(&self, m: &MaintenanceRequest, scope: Scope, now: u64) -> Result<Window, ApiError> {
        let (by, reason) = who_and_why(&m.by, &m.reason)?;
        let until = match (m.until, m.for_s) {
            (Some(u), None) => u,
            (None, Some(s)) => now.saturating_add(s.saturating_mul(1000)),
            _ => {
                return Err(MaintenanceError::Invalid(
                    "give exactly one of `until` (ms since the epoch) or `for_s` (seconds)".into(),
                )
                .into());
            }
        };
        if until <= now {
            return Err(MaintenanceError::Invalid(format!(
                "`until` {until} is not in the future (now {now})"
            ))
            .into());
        }
        if until - now > self.max_ms {
            return Err(MaintenanceError::Invalid(format!(
                "a window lasts at most {} h ([alarms] max_maintenance_h)",
                self.max_ms / 3_600_000
            ))
            .into());
        }
        Ok(Window {
            target: m.target.clone(),
            scope,
            since: now,
            until,
            by,
            reason,
        })
    }

    /// Starts a window: in force in the engine first (refused there while a
    /// real fire is open inside it), then stored and audited; undone in the
    /// engine when it cannot be stored.
    async fn start(&self, w: Window) -> Result<serde_json::Value, ApiError> {
        let previous = self.ask(Change::Start(w.clone())).await?;
        let stored = self
            .store
            .write(Write::Maintenance(MaintenanceWrite::Start(w.clone())))
            .await;
        if let Err(e) = stored {
            let undo = Change::Restore {
                target: w.target.clone(),
                previous,
            };
            let _ = self.ask(undo).await;
            return Err(ApiError::Store(e));
        }
        tracing::info!(window = %w.target, scope = w.scope.as_str(), until = w.until, by = %w.by, reason = %w.reason, "maintenance started");
        let mut body = serde_json::to_value(&w).unwrap_or_default();
        body["maintenance"] = true.into();
        body["replaced"] = previous.is_some().into();
        Ok(body)
    }

    /// Ends a window: stored and audited first, then out of force.
    async fn end(&self, m: &MaintenanceRequest) -> Result<serde_json::Value, ApiError> {
        let (by, reason) = who_and_why(&m.by, &m.reason)?;
        let end = MaintenanceWrite::End {
            target: m.target.clone(),
            at: self.clock.now_ms(),
            by: by.clone(),
            reason: reason.clone(),
        };
        let done = self
            .store
            .write(Write::Maintenance(end))
            .await
            .map_err(ApiError::Store)?;
        self.ask(Change::End(m.target.clone())).await?;
        if done == Done::Ended(0) {
            return Err(MaintenanceError::NotInMaintenance(m.target.clone()).into());
        }
        tracing::info!(window = %m.target, by = %by, reason = %reason, "maintenance ended");
        Ok(
            serde_json::json!({ "target": m.target, "maintenance": false, "by": by, "reason": reason }),
        )
    }

    /// Sends a maintenance change to the analysis task and waits for it.
    async fn ask(&self, change: Change) -> Result<Option<Window>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.control
            .send(Control::Maintenance { change, reply })
            .await
            .map_err(|_| ApiError::Unavailable)?;
        Ok(rx.await.map_err(|_| ApiError::Unavailable)??)
    }

    /// Appends an operator's action on an alarm to the audit chain.
    pub(super) async fn audit_action(
        &self,
        id: &str,
        action: OperatorAction,
        body: &ActionBody,
        user: &str,
        outcome: Result<(), &OperatorError>,
    ) {
        let by = match body.by.trim() {
            "" => user,
            by => by,
        };
        let rec = OperatorRecord {
            at: self.clock.now_ms(),
            alarm: id.to_string(),
            action: action_name(action).to_string(),
            by: by.to_string(),
            reason: body.reason.trim().to_string(),
            refused: outcome.err().map(ToString::to_string),
            user: user.to_string(),
        };
        if let Err(e) = self.store.write(Write::Operator(rec)).await {
            tracing::error!(alarm = id, error = %e, "operator action not audited");
        }
    }
}

/// The action as the path names it.
pub(super) const fn action_name(a: OperatorAction) -> &'static str {
    match a {
        OperatorAction::Acknowledge => "ack",
        OperatorAction::Reset => "reset",
        OperatorAction::Cancel => "cancel",
    }
}

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

/// Parses the optional body of an action on an alarm.
pub(super) fn action_body(body: &Bytes) -> Result<ActionBody, ApiError> {
    parse(body, Some(ActionBody::default()))
}

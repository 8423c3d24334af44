//! Operators' actions that touch life safety: maintenance windows (checked
//! against the registry, stored and audited, then put in force) and the
//! audit record of every action on an alarm, done or refused.

use std::sync::Arc;

use axum::body::Bytes;
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::ApiError;
use crate::alarms::windows::Change;
use crate::alarms::{AlarmPolicy, MaintenanceError, OperatorAction, OperatorError, Scope, Window};
use crate::analysis::Control;
use crate::clock::SharedClock;
use crate::registry::RegistryCell;
use crate::store::{Done, MaintenanceWrite, OperatorRecord, StoreHandle, Write};

/// Longest `by` accepted, in characters.
const BY_MAX: usize = 64;
/// Longest `reason` accepted, in characters.
const REASON_MAX: usize = 256;

/// What the operators' handlers need besides the analysis task.
#[derive(Debug, Clone)]
pub struct Operators {
    pub(super) control: mpsc::Sender<Control>,
    pub(super) store: StoreHandle,
    pub(super) registry: Arc<RegistryCell>,
    pub(super) clock: SharedClock,
    /// Longest window, in ms.
    pub(super) max_ms: u64,
    /// One maintenance change at a time, so the store and the engine see
    /// them in the same order.
    pub(super) lock: Arc<Mutex<()>>,
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
pub(super) struct MaintenanceRequest {
    /// Device id, site node id (covers its subtree) or fire zone.
    pub(super) target: String,
    /// Start (true) or end the window.
    pub(super) on: bool,
    /// Who asks.
    #[serde(default)]
    pub(super) by: String,
    /// Why.
    #[serde(default)]
    pub(super) reason: String,
    /// When the window ends by itself (ms since the epoch).
    pub(super) until: Option<u64>,
    /// Or: how long it lasts, in seconds.
    pub(super) for_s: Option<u64>,
}

/// Optional body of `POST /api/alarms/{id}/{action}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    /// Who acts.
    #[serde(default)]
    pub(super) by: String,
    /// Why.
    #[serde(default)]
    pub(super) reason: String,
}

/// Parses a JSON body; an empty body is `T::default()` when `empty` is given.
pub(super) fn parse<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    empty: Option<T>,
) -> Result<T, ApiError> {
    match empty {
        Some(d) if body.iter().all(u8::is_ascii_whitespace) => Ok(d),
        _ => serde_json::from_slice(body).map_err(|e| ApiError::Body(e.to_string())),
    }
}

/// Checks `who` and `why`: both required, both bounded.
pub(super) fn who_and_why(by: &str, reason: &str) -> Result<(String, String), MaintenanceError> {
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
    pub(super) fn window(
        &self,
        m: &MaintenanceRequest,
        scope: Scope,
        now: u64,
    ) -> Result<Window, ApiError> {
        window(m, scope, now, self.max_ms)
    }

    /// Starts a window: in force in the engine first (refused there while a
    /// real fire is open inside it), then stored and audited; undone in the
    /// engine when it cannot be stored.
    pub(super) async fn start(&self, w: Window) -> Result<serde_json::Value, ApiError> {
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
    pub(super) async fn end(&self, m: &MaintenanceRequest) -> Result<serde_json::Value, ApiError> {
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

/// The window a start request asks for at `now`, checked: who and why,
/// exactly one of `until` or `for_s`, in the future, at most `max_ms` long.
pub(super) fn window(
    m: &MaintenanceRequest,
    scope: Scope,
    now: u64,
    max_ms: u64,
) -> Result<Window, ApiError> {
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
    if until - now > max_ms {
        return Err(MaintenanceError::Invalid(format!(
            "a window lasts at most {} h ([alarms] max_maintenance_h)",
            max_ms / 3_600_000
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

/// The action as the path names it.
pub(super) const fn action_name(a: OperatorAction) -> &'static str {
    match a {
        OperatorAction::Acknowledge => "ack",
        OperatorAction::Reset => "reset",
        OperatorAction::Cancel => "cancel",
    }
}

/// Parses the optional body of an action on an alarm.
pub(super) fn action_body(body: &Bytes) -> Result<ActionBody, ApiError> {
    parse(body, Some(ActionBody::default()))
}

//! Work orders in the console: the list with filters, and the moves a
//! grid worker makes locally (accept, dispatch, resolve, close) when the
//! district platform is out of reach. A local move is handed to the order
//! engine as the same status update the platform would send, so it runs
//! through the same state machine, store transaction, audit and feedback.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use protocol::{OrderId, OrderState, StatusUpdate, UpstreamState};
use serde::Deserialize;

use super::auth::{Caller, audit};
use super::{ApiError, ApiState};
use crate::auth::Need;
use crate::orders::OrderRecord;
use crate::store::OrderFilter;

/// Query of `GET /api/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct OrdersQuery {
    /// Only orders not yet closed, cancelled or rejected.
    #[serde(default)]
    open: bool,
    /// Only in this state (`new`, `sent`, `accepted`, `dispatched`, `resolved`, `closed` ...).
    state: Option<String>,
    /// Only of this grid cell.
    cell: Option<String>,
    /// Only opened at or after this time (ms since the epoch).
    since: Option<u64>,
    /// At most this many, newest first (default 200, at most 1000).
    limit: Option<u32>,
}

fn decode(body: &str) -> Option<OrderRecord> {
    serde_json::from_str(body).ok()
}

/// `GET /api/orders`: orders as their feed (the order, its state, times,
/// cards) newest first, with `now` so a screen can count the SLA down.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(OrdersQuery),
    responses((status = 200, description = "Orders, newest first"), (status = 401, description = "Not logged in")))]
pub(super) async fn list(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Read, "see orders")?;
    let state = match q.state.as_deref() {
        Some(st) => {
            Some(OrderState::parse(st).ok_or_else(|| ApiError::Body(format!("state `{st}`")))?)
        }
        None => None,
    };
    let f = OrderFilter {
        open: q.open,
        state,
        cell: q.cell,
        since: q.since,
        limit: q.limit.unwrap_or(200).clamp(1, 1000),
    };
    let bodies = s
        .console
        .store
        .read(move |st| st.orders_list(&f))
        .await
        .map_err(ApiError::Store)?;
    let orders: Vec<_> = bodies
        .iter()
        .filter_map(|b| decode(b))
        .map(|r| r.feed())
        .collect();
    Ok(Json(
        serde_json::json!({ "now": s.console.clock.now_ms(), "orders": orders }),
    ))
}

/// Optional body of `POST /api/orders/{id}/{action}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OrderAction {
    /// Who did it (default: the logged-in user).
    #[serde(default)]
    pub(super) by: String,
    /// What was done, or why.
    #[serde(default)]
    pub(super) note: String,
}

/// Parses the optional body of a move (empty: no `by`, no `note`).
pub(super) fn order_action(body: &[u8]) -> Result<OrderAction, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(OrderAction::default())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::Body(e.to_string()))
    }
}

fn upstream_state(action: &str) -> Result<UpstreamState, ApiError> {
    Ok(match action {
        "accept" => UpstreamState::Accepted,
        "dispatch" => UpstreamState::Dispatched,
        "resolve" => UpstreamState::Resolved,
        "close" => UpstreamState::Closed,
        other => {
            return Err(ApiError::Action(format!(
                "{other}: use accept, dispatch, resolve or close"
            )));
        }
    })
}

async fn load(s: &ApiState, id: &str) -> Result<OrderRecord, ApiError> {
    let key = id.to_string();
    let body = s
        .console
        .store
        .read(move |st| st.order(&key))
        .await
        .map_err(ApiError::Store)?
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))?;
    decode(&body).ok_or_else(|| ApiError::Internal(format!("order {id} does not decode")))
}

/// `POST /api/orders/{id}/{action}` (operator): `accept`, `dispatch`,
/// `resolve` or `close` locally. 409 when the state machine does not allow
/// the move from where the order stands.
#[utoipa::path(post, path = "/api/orders/{id}/{action}", tag = "orders", request_body = OrderAction,
    params(("id" = String, Path, description = "Order id"), ("action" = String, Path, description = "accept, dispatch, resolve or close")),
    responses((status = 200, description = "The order after the move"),
              (status = 403, description = "Not an operator"), (status = 404, description = "No such order"),
              (status = 409, description = "The order cannot move that way")))]
pub(super) async fn act(
    State(s): State<ApiState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Operate, "work orders")?;
    let up = upstream_state(&action)?;
    let b = order_action(&body)?;
    let rec = load(&s, &id).await?;
    let to = up.order_state();
    let by = if b.by.trim().is_empty() {
        caller.name.clone()
    } else {
        b.by.trim().to_string()
    };
    let subject = format!("api.order.{action}");
    if !rec.state.can_move_to(to) {
        let why = format!("order {id} is {}; it cannot move to {to}", rec.state);
        let body =
            serde_json::json!({ "user": caller.name, "by": by, "note": b.note, "refused": why });
        audit(&s, &format!("{subject}.refused"), &id, body).await;
        return Err(ApiError::Order(why));
    }
    let engine = s.console.orders.clone().ok_or(ApiError::Unavailable)?;
    let order_id = OrderId::new(&id).map_err(|_| ApiError::NotFound(format!("order {id}")))?;
    let note = (!b.note.trim().is_empty()).then(|| b.note.trim().to_string());
    let su = StatusUpdate {
        order_id,
        revision: rec.up.revision,
        state: up,
        at: s.console.clock.now_ms(),
        by: Some(by.clone()),
        note: note.clone(),
    };
    audit(
        &s,
        &subject,
        &id,
        serde_json::json!({ "user": caller.name, "by": by, "note": note }),
    )
    .await;
    engine.send(su).await.map_err(|_| ApiError::Unavailable)?;
    // The engine commits it in its own loop; wait (bounded) to answer with the result.
    for _ in 0..40 {
        let now = load(&s, &id).await?;
        if now.state == to {
            return Ok(Json(serde_json::to_value(now.feed()).unwrap_or_default()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Json(
        serde_json::json!({ "order": id, "state": rec.state, "queued": to }),
    ))
}

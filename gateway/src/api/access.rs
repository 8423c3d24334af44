//! Access control over the API: access events per door or credential,
//! each door's list state (any logged-in role); visitor passes and
//! revocations (installers and admins; audited under the caller's name, as
//! `gridsense access` audits `cli`).

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::access::CredKind;
use serde::Deserialize;

use super::auth::Caller;
use super::{ApiError, ApiState};
use crate::access::db::{self, EventFilter, EventRow, ListRow};
use crate::access::{Credential, Grant, import, time};
use crate::auth::Need;
use crate::registry::Registry;
use crate::store::Store;

/// The routes.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/access/events", get(events))
        .route("/api/access/doors", get(doors))
        .route("/api/access/visitors", post(visitor))
        .route("/api/access/revoke", post(revoke))
}

/// Query of `GET /api/access/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct EventsQuery {
    /// Only this door's events.
    door: Option<String>,
    /// Only this credential's (its id as the reader delivers it).
    cred: Option<String>,
    /// Only those received at or after (ms since the epoch).
    since_ms: Option<u64>,
    /// At most this many, newest first (default 100, at most 1000).
    limit: Option<u32>,
}

/// `GET /api/access/events`: stored access events, newest first.
#[utoipa::path(get, path = "/api/access/events", tag = "access", params(EventsQuery),
    responses((status = 200, description = "Access events"), (status = 401, description = "Not logged in")))]
pub(super) async fn events(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<EventRow>>, ApiError> {
    caller.need(Need::Read, "see access events")?;
    let f = EventFilter {
        door: q.door,
        cred: q.cred,
        since_ms: q.since_ms,
        limit: q.limit.unwrap_or(100).clamp(1, 1_000),
    };
    let rows = s.console.store.read(move |st| db::events_in(st, &f)).await;
    Ok(Json(rows.map_err(ApiError::Store)?))
}

/// `GET /api/access/doors`: each door's list: version, entries, the version
/// the door confirmed, and why it cannot take the newest (if so).
#[utoipa::path(get, path = "/api/access/doors", tag = "access",
    responses((status = 200, description = "Door lists"), (status = 401, description = "Not logged in")))]
pub(super) async fn doors(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<ListRow>>, ApiError> {
    caller.need(Need::Read, "see door lists")?;
    let rows = s.console.store.read(db::lists_in).await;
    Ok(Json(rows.map_err(ApiError::Store)?))
}

/// Body of `POST /api/access/visitors`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewVisitor {
    /// Whose visitor (a flat, a name).
    holder: String,
    /// Doors or site nodes it opens.
    opens: Vec<String>,
    /// Start: `2026-12-01T14:00Z` or seconds since 1970.
    from: String,
    /// End (exclusive).
    until: String,
    /// The QR token (default: a random `v-` id).
    #[serde(default)]
    id: Option<String>,
}

pub(super) fn visitor_pass(
    v: NewVisitor,
    reg: &Registry,
    profiles: &crate::registry::Profiles,
) -> Result<Credential, String> {
    let from = time::instant(&v.from).map_err(|e| format!("from: {e}"))?;
    let until = time::instant(&v.until).map_err(|e| format!("until: {e}"))?;
    if until <= from {
        return Err("until: is not after from".into());
    }
    let id = match v.id {
        Some(i) => i,
        None => format!(
            "v-{}",
            &crate::registry::new_secret().map_err(|e| e.to_string())?[..12]
        ),
    };
    import::check_id(CredKind::Qr, &id).map_err(|e| format!("id: {e}"))?;
    if v.opens.is_empty() {
        return Err("opens: name at least one door or site node".into());
    }
    let mut grants = Vec::new();
    for t in v.opens {
        import::check_target(reg, profiles, &t).map_err(|e| format!("opens: {e}"))?;
        grants.push(Grant {
            target: t,
            window: None,
        });
    }
    Ok(Credential {
        kind: CredKind::Qr,
        id,
        holder: v.holder,
        visitor: true,
        valid_from: Some(from),
        valid_until: Some(until),
        revoked_ms: None,
        grants,
    })
}

fn db_path(s: &ApiState) -> Result<crate::api::state::Registration, ApiError> {
    s.console
        .registration
        .clone()
        .ok_or_else(|| ApiError::Action("this gateway takes no changes through the API".into()))
}

/// `POST /api/access/visitors` (installer, admin): issues a visitor pass;
/// answers its `credential` (`qr:ID`: the token to put in the QR code).
#[utoipa::path(post, path = "/api/access/visitors", tag = "access", request_body = NewVisitor,
    responses((status = 200, description = "The pass"), (status = 403, description = "Not an installer"),
              (status = 422, description = "A bad pass")))]
pub(super) async fn visitor(
    State(s): State<ApiState>,
    caller: Caller,
    Json(v): Json<NewVisitor>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Install, "issue visitor passes")?;
    let reg = db_path(&s)?;
    let c = visitor_pass(v, &s.console.registry.get(), &reg.profiles).map_err(ApiError::Body)?;
    let (now, by, pass) = (s.console.clock.now_ms(), caller.name.clone(), c.clone());
    tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&reg.db)?;
        db::save_in(&mut store, std::slice::from_ref(&pass), now, &by)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(ApiError::Store)?;
    Ok(Json(serde_json::json!({
        "credential": c.key(),
        "from": time::format(c.valid_from.unwrap_or(0)),
        "until": time::format(c.valid_until.unwrap_or(0)),
    })))
}

/// Body of `POST /api/access/revoke`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Revoke {
    /// `KIND:ID` (`card:card-0001`, `qr:v-17`).
    credential: String,
}

impl Revoke {
    /// The credential's kind and id, from `KIND:ID`.
    pub(super) fn key(&self) -> Result<(CredKind, &str), ApiError> {
        let (k, id) = self
            .credential
            .split_once(':')
            .ok_or_else(|| ApiError::Body("credential: write KIND:ID".into()))?;
        let kind = CredKind::parse(k)
            .ok_or_else(|| ApiError::Body(format!("credential: {k:?} is not card, pin or qr")))?;
        Ok((kind, id))
    }
}

/// `POST /api/access/revoke` (installer, admin): revokes a credential;
/// doors refuse it from their next sync.
#[utoipa::path(post, path = "/api/access/revoke", tag = "access", request_body = Revoke,
    responses((status = 200, description = "Revoked"), (status = 403, description = "Not an installer"),
              (status = 404, description = "No such credential, or already revoked")))]
pub(super) async fn revoke(
    State(s): State<ApiState>,
    caller: Caller,
    Json(r): Json<Revoke>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Install, "revoke credentials")?;
    let reg = db_path(&s)?;
    let (kind, id) = r.key()?;
    let (now, by, key) = (
        s.console.clock.now_ms(),
        caller.name.clone(),
        id.to_string(),
    );
    let done = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&reg.db)?;
        db::revoke_in(&mut store, kind, &key, now, &by)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(ApiError::Store)?;
    if !done {
        return Err(ApiError::NotFound(format!("credential {}", r.credential)));
    }
    Ok(Json(serde_json::json!({ "revoked": r.credential })))
}

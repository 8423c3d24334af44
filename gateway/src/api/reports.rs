//! Residents' reports (有呼必应: every call gets an answer): a public form
//! per site (`/report/{site}`, linked from a QR code on the notice board),
//! rate-limited per site and per address, with an optional phone number
//! for the call back. Each report becomes a `help-call` alarm handed to the
//! order engine, so it is triaged, timed, carded and escalated like any
//! alarm; the reporter's receipt page shows the order's state and, once it
//! is closed, the completion note.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use protocol::feed::{AlarmFeed, AlarmState};
use protocol::kinds::AlarmKind;
use protocol::{AlarmId, DeviceId};
use serde::Deserialize;

use super::auth::ConnectInfoOpt;
use super::{ApiError, ApiState};
use crate::orders::OrderRecord;
use crate::registry::Registry;
use crate::store::{AuthWrite, ReportRow, Write};

/// The device an order of a resident's report names (there is none).
pub const REPORT_DEVICE: &str = "resident-report";
/// Longest report text, in characters.
const TEXT_MAX: usize = 500;

const PAGE: &str = include_str!("../../console/report.html");

/// The public routes of the form.
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/report/{site}", get(form).post(submit))
        .route("/report/{site}/places", get(places))
        .route("/report/{site}/qr.svg", get(qr))
        .route("/report/{site}/status/{id}", get(status))
}

/// Body of `POST /report/{site}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Report {
    /// The site node it is about (from `/report/{site}/places`).
    place: String,
    /// What is wrong (1 to 500 characters).
    text: String,
    /// A phone number for the call back (optional).
    #[serde(default)]
    phone: Option<String>,
}

fn our_site(s: &ApiState, site: &str) -> Result<(), ApiError> {
    if s.console.site.as_str() == site {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("site {site}")))
    }
}

/// `GET /report/{site}`: the form (Chinese and English).
#[utoipa::path(get, path = "/report/{site}", tag = "reports",
    params(("site" = String, Path, description = "The site")),
    responses((status = 200, description = "The report form (HTML)"), (status = 404, description = "Not this gateway's site")))]
pub(super) async fn form(
    State(s): State<ApiState>,
    Path(site): Path<String>,
) -> Result<Html<&'static str>, ApiError> {
    our_site(&s, &site)?;
    Ok(Html(PAGE))
}

/// `GET /report/{site}/places`: the places a resident can pick (buildings,
/// units, floors and areas; rooms are not listed publicly).
async fn places(
    State(s): State<ApiState>,
    Path(site): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    our_site(&s, &site)?;
    let reg = s.console.registry.get();
    Ok(Json(
        reg.site_nodes()
            .filter(|n| format!("{:?}", n.level) != "Room")
            .map(|n| serde_json::json!({ "id": n.id, "label": n.label }))
            .collect(),
    ))
}

/// `GET /report/{site}/qr.svg`: a QR code of the form's address as this
/// request reached it, for the notice board.
async fn qr(
    State(s): State<ApiState>,
    Path(site): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    our_site(&s, &site)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if s.console.secure_cookie {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{host}/report/{site}");
    let code =
        qrcode::QrCode::new(url.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a report against the registry; returns `(place label, grid,
/// text, phone)`.
pub(super) fn check(
    reg: &Registry,
    r: &Report,
) -> Result<(String, protocol::GridPath, String, Option<String>), ApiError> {
    let node = reg
        .site_node(&r.place)
        .ok_or_else(|| ApiError::Body(format!("place `{}`: pick one from the list", r.place)))?;
    let text = r.text.trim().to_string();
    if text.is_empty() || text.chars().count() > TEXT_MAX {
        return Err(ApiError::Body(format!("text: 1 to {TEXT_MAX} characters")));
    }
    let phone = r.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if let Some(p) = phone
        && (p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)))
    {
        return Err(ApiError::Body("phone: digits, + and - only".into()));
    }
    Ok((
        node.label.clone(),
        node.grid.clone(),
        text,
        phone.map(str::to_string),
    ))
}

/// `POST /report/{site}`: files a report; answers its receipt id and the
/// status page. 429 past `[api] reports_per_h` for the site or the address.
#[utoipa::path(post, path = "/report/{site}", tag = "reports", request_body = Report,
    params(("site" = String, Path, description = "The site")),
    responses((status = 200, description = "Filed: `id` and `status` (the receipt page)"),
              (status = 422, description = "A bad place, text or phone"), (status = 429, description = "Too many reports")))]
pub(super) async fn submit(
    State(s): State<ApiState>,
    Path(site): Path<String>,
    ConnectInfoOpt(addr): ConnectInfoOpt,
    Json(r): Json<Report>,
) -> Result<Json<serde_json::Value>, ApiError> {
    our_site(&s, &site)?;
    let c = &s.console;
    let now = c.clock.now_ms();
    if !(c.reports.hit(&format!("addr:{addr}"), now) && c.reports.hit(&format!("site:{site}"), now))
    {
        return Err(ApiError::TooMany("too many reports; call the guard room"));
    }
    let (label, grid, text, phone) = check(&c.registry.get(), &r)?;
    let mut rand = [0u8; 5];
    getrandom::fill(&mut rand).map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = format!("r{}", hex(&rand));
    let alarm_id = format!("{}-{id}", c.gateway);
    let alarm = AlarmFeed {
        id: AlarmId::new(&alarm_id).map_err(|_| ApiError::Internal(alarm_id.clone()))?,
        kind: AlarmKind::HelpCall,
        severity: AlarmKind::HelpCall.default_severity(),
        state: AlarmState::Active,
        condition: false,
        test: false,
        devices: vec![
            DeviceId::new(REPORT_DEVICE).map_err(|_| ApiError::Internal("device".into()))?,
        ],
        zone: None,
        location: crate::orders::record::clip(format!("{label}: {text}")),
        grid,
        raised_at: now,
        confirmed_at: Some(now),
        confirmed_by: Some("resident".into()),
        ended_at: None,
        snapshot: None,
    };
    let row = ReportRow {
        id: id.clone(),
        alarm_id: alarm_id.clone(),
        site: site.clone(),
        place: r.place.clone(),
        text,
        phone,
        at: now,
    };
    c.store
        .write(Write::Auth(AuthWrite::Report(row)))
        .await
        .map_err(ApiError::Store)?;
    let engine = c.order_alarms.clone().ok_or(ApiError::Unavailable)?;
    engine
        .send(alarm)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(serde_json::json!({
        "id": id,
        "status": format!("/report/{site}/status/{id}"),
    })))
}

/// `GET /report/{site}/status/{id}`: the report's order, where it stands,
/// and the completion note once it is closed.
#[utoipa::path(get, path = "/report/{site}/status/{id}", tag = "reports",
    params(("site" = String, Path, description = "The site"), ("id" = String, Path, description = "The receipt id")),
    responses((status = 200, description = "`state` and, when closed, `notice`"), (status = 404, description = "No such report")))]
pub(super) async fn status(
    State(s): State<ApiState>,
    Path((site, id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    our_site(&s, &site)?;
    let key = id.clone();
    let report = s
        .console
        .store
        .read(move |st| st.report(&key))
        .await
        .map_err(ApiError::Store)?
        .ok_or_else(|| ApiError::NotFound(format!("report {id}")))?;
    let alarm = report.alarm_id.clone();
    let order = s
        .console
        .store
        .read(move |st| st.order_for_alarm(&alarm))
        .await
        .map_err(ApiError::Store)?;
    let order: Option<OrderRecord> = match order {
        Some(oid) => s
            .console
            .store
            .read(move |st| st.order(&oid))
            .await
            .map_err(ApiError::Store)?
            .and_then(|b| serde_json::from_str(&b).ok()),
        None => None,
    };
    let notice = s.console.notices.get(&report.alarm_id);
    Ok(Json(serde_json::json!({
        "id": report.id,
        "place": report.place,
        "text": report.text,
        "at": report.at,
        "order": order.as_ref().map(|o| o.up.order_id.to_string()),
        "state": order.as_ref().map_or("received".to_string(), |o| o.state.to_string()),
        "notice": notice.map(|n| serde_json::json!({ "by": n["by"], "note": n["note"], "closed_at": n["closed_at"] })),
    })))
}

//! What the console and machines read: devices with their live status,
//! the site tree, KPIs per grid cell by period, the audit chain, and the
//! quarantine of rejected messages.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use protocol::feed::AlarmFeed;
use serde::Deserialize;

use super::auth::Caller;
use super::{ApiError, ApiState};
use crate::analysis::Control;
use crate::auth::Need;
use crate::store::KpiRow;

/// The open alarms, from the analysis task.
pub(super) async fn open_alarms(s: &ApiState) -> Result<Vec<AlarmFeed>, ApiError> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    s.control
        .send(Control::Alarms { reply })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    rx.await.map_err(|_| ApiError::Unavailable)
}

/// Open alarms by device id: `(alarm id, kind, state)`.
fn alarms_by_device(alarms: &[AlarmFeed]) -> HashMap<String, Vec<serde_json::Value>> {
    let mut by: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for a in alarms {
        for d in &a.devices {
            by.entry(d.to_string())
                .or_default()
                .push(serde_json::json!({
                    "id": a.id, "kind": a.kind, "state": a.state, "test": a.test,
                }));
        }
    }
    by
}

/// `GET /api/devices`: every registered device with its place, presence
/// (status and since when) and open alarms.
#[utoipa::path(get, path = "/api/devices", tag = "site",
    responses((status = 200, description = "Devices with live status"), (status = 401, description = "Not logged in")))]
pub(super) async fn devices(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    caller.need(Need::Read, "see devices")?;
    let presence: HashMap<String, (protocol::Status, u64)> = s
        .console
        .store
        .read(|st| st.presence_list())
        .await
        .map_err(ApiError::Store)?
        .into_iter()
        .map(|p| (p.device, (p.status, p.at_ms)))
        .collect();
    let alarms = alarms_by_device(&open_alarms(&s).await?);
    let reg = s.console.registry.get();
    let out = reg
        .devices()
        .map(|d| {
            let p = presence.get(d.id.as_str());
            serde_json::json!({
                "id": d.id, "profile": d.profile, "location": d.location,
                "label": &*d.location_label, "cell": d.grid.cell, "fire_zone": d.fire_zone,
                "status": p.map(|p| p.0), "since": p.map(|p| p.1),
                "alarms": alarms.get(d.id.as_str()).cloned().unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(out))
}

/// `GET /api/site`: the site tree's nodes (parent first) with, per node,
/// its devices, how many are online and the open alarms inside it.
#[utoipa::path(get, path = "/api/site", tag = "site",
    responses((status = 200, description = "Site nodes with status"), (status = 401, description = "Not logged in")))]
pub(super) async fn site(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Read, "see the site")?;
    let online: HashMap<String, bool> = s
        .console
        .store
        .read(|st| st.presence_list())
        .await
        .map_err(ApiError::Store)?
        .into_iter()
        .map(|p| (p.device, p.status == protocol::Status::Online))
        .collect();
    let alarms = open_alarms(&s).await?;
    let reg = s.console.registry.get();
    // Per node: (devices, online, open alarm ids) of itself and everything inside.
    let mut tally: BTreeMap<String, (u32, u32, Vec<String>)> = BTreeMap::new();
    for d in reg.devices() {
        let on = online.get(d.id.as_str()).copied().unwrap_or(false);
        let mine: Vec<String> = alarms
            .iter()
            .filter(|a| a.devices.iter().any(|x| x == &d.id))
            .map(|a| a.id.to_string())
            .collect();
        for n in std::iter::once(&d.location).chain(d.ancestors.iter()) {
            let t = tally.entry(n.to_string()).or_default();
            t.0 += 1;
            t.1 += u32::from(on);
            for a in &mine {
                if !t.2.contains(a) {
                    t.2.push(a.clone());
                }
            }
        }
    }
    let nodes: Vec<serde_json::Value> = reg
        .site_nodes()
        .map(|n| {
            let t = tally.get(n.id.as_str()).cloned().unwrap_or_default();
            serde_json::json!({
                "id": n.id, "parent": n.parent, "level": format!("{:?}", n.level).to_lowercase(),
                "name": n.name, "label": n.label, "cell": n.grid.cell, "fire_zone": n.fire_zone,
                "devices": t.0, "online": t.1, "alarms": t.2,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "site": s.console.site, "nodes": nodes }),
    ))
}

/// `(start of this month, start of last month)` in ms, UTC.
pub(super) fn month_starts(now: u64) -> (u64, u64) {
    use protocol::civil::{civil_from_days, days_from_civil};
    let (y, m, _) = civil_from_days(i64::try_from(now / 86_400_000).unwrap_or(0));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let ms = |days: i64| u64::try_from(days).unwrap_or(0) * 86_400_000;
    (ms(days_from_civil(y, m, 1)), ms(days_from_civil(py, pm, 1)))
}

/// `GET /api/kpi`: per grid cell, this month, last month and all time:
/// orders, closure rate, time to accept and to close (mean, p90), cards.
#[utoipa::path(get, path = "/api/kpi", tag = "orders",
    responses((status = 200, description = "KPIs per grid cell and period"), (status = 401, description = "Not logged in")))]
pub(super) async fn kpi(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Read, "see KPIs")?;
    let now = s.console.clock.now_ms();
    let (this, last) = month_starts(now);
    let rows = s
        .console
        .store
        .read(|st| st.kpi_rows_between(0, u64::MAX >> 1))
        .await
        .map_err(ApiError::Store)?;
    let mut cells: BTreeMap<String, Vec<KpiRow>> = BTreeMap::new();
    for (cell, row) in rows {
        cells.entry(cell).or_default().push(row);
    }
    for d in s.console.registry.get().devices() {
        cells.entry(d.grid.cell.to_string()).or_default();
    }
    let period = |cell: &protocol::Name, rows: &[KpiRow], from: u64, to: u64| {
        let r: Vec<KpiRow> = rows
            .iter()
            .filter(|r| r.opened_at >= from && r.opened_at < to)
            .cloned()
            .collect();
        crate::orders::kpi::compute(cell, &r, now)
    };
    let mut out = Vec::new();
    for (cell, rows) in &cells {
        let Ok(name) = protocol::Name::new(cell) else {
            continue;
        };
        out.push(serde_json::json!({
            "cell": cell,
            "this_month": period(&name, rows, this, u64::MAX),
            "last_month": period(&name, rows, last, this),
            "all_time": crate::orders::kpi::compute(&name, rows, now),
        }));
    }
    Ok(Json(
        serde_json::json!({ "at": now, "month_start": this, "cells": out }),
    ))
}

/// Query of `GET /api/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct AuditQuery {
    /// Records after this `seq` (0: from the start).
    #[serde(default)]
    after: i64,
    /// At most this many (default 1000, at most 10000).
    limit: Option<u32>,
}

/// `GET /api/audit` (admin): the audit chain as JSON lines, oldest first,
/// from `after`; page with the last `seq`. `gridsense audit verify` checks
/// the chain's hashes.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "application/x-ndjson, one record per line"),
              (status = 403, description = "Not an admin")))]
pub(super) async fn audit(
    State(s): State<ApiState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.need(Need::Admin, "export the audit chain")?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let after = q.after;
    let rows = s
        .console
        .store
        .read(move |st| st.audit_page(after, limit))
        .await
        .map_err(ApiError::Store)?;
    let mut body = String::new();
    for r in rows {
        body.push_str(&r.to_string());
        body.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body))
}

/// `GET /api/quarantine`: rejected messages by source and reason, last
/// seen first (what an installer needs to fix a device), with the counters
/// of rejections by reason.
#[utoipa::path(get, path = "/api/quarantine", tag = "site",
    responses((status = 200, description = "Quarantine rows and reject counters"), (status = 401, description = "Not logged in")))]
pub(super) async fn quarantine(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Read, "see rejects")?;
    let rows = s
        .console
        .store
        .read(|st| st.quarantine_list())
        .await
        .map_err(ApiError::Store)?;
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .take(500)
        .map(|r| {
            serde_json::json!({
                "source": r.source, "reason": r.reason, "count": r.count,
                "first_seen": r.first_seen_ms, "last_seen": r.last_seen_ms,
                "topic": r.last_topic, "detail": r.last_detail,
            })
        })
        .collect();
    let counts: serde_json::Map<String, serde_json::Value> = s
        .rejects
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    Ok(Json(serde_json::json!({ "rows": rows, "counts": counts })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_starts_are_the_first_of_this_and_last_month() {
        // 2025-11-23T12:00Z
        let (this, last) = month_starts(1_763_899_200_000);
        assert_eq!(crate::clock::date_of(this), "2025-11-01");
        assert_eq!(crate::clock::date_of(last), "2025-10-01");
        assert_eq!(this % 86_400_000, 0);
        // January looks back to December.
        let (this, last) = month_starts(1_736_000_000_000);
        assert_eq!(crate::clock::date_of(this), "2025-01-01");
        assert_eq!(crate::clock::date_of(last), "2024-12-01");
    }
}

//! The month's figures, read from the gateway's database and the district's
//! records after the run (definitions: docs/governance.md, "A simulated
//! month"). Nothing here reads the scenario's intentions except to name
//! which fire zone burned and when the uplink was down.

use std::collections::BTreeMap;
use std::path::Path;

use gateway::orders::OrderRecord;
use serde::{Deserialize, Serialize};

use super::compound::Layout;
use super::district::Ticket;
use super::driver::{RestartRecord, RunLog};
use super::plan::{MonthScenario, Timeline};

/// Tolerance of a card's time after its due time, virtual ms.
pub const CARD_TOLERANCE_MS: u64 = 5_000;
const DAY: u64 = 86_400_000;

/// What the report is built from.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The gateway's database.
    pub db: &'a Path,
    /// Virtual ms of the month's start.
    pub start_ms: u64,
    /// The month's timeline (fire zones, outage).
    pub timeline: &'a Timeline,
    /// The compound.
    pub layout: &'a Layout,
    /// The district's records.
    pub tickets: &'a BTreeMap<String, Ticket>,
    /// The run's own log.
    pub run: &'a RunLog,
    /// Seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: &'a MonthScenario,
    /// Days.
    pub days: f64,
}

/// Figures of one grid cell.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CellFigures {
    /// Orders opened (cancelled ones excluded).
    pub orders: u64,
    /// Of them due by the end.
    pub due: u64,
    /// Of the due ones, closed by the end.
    pub closed_due: u64,
    /// `closed_due / due` (1 when none is due).
    pub closure_rate: f64,
    /// Time to accept, p50, s (nearest rank).
    pub ack_p50_s: f64,
    /// Time to accept, p90, s.
    pub ack_p90_s: f64,
    /// Time to close, p50, s.
    pub close_p50_s: f64,
    /// Time to close, p90, s.
    pub close_p90_s: f64,
    /// Yellow cards.
    pub yellow: u64,
    /// Red cards.
    pub red: u64,
    /// Tier moves (grid → community → street).
    pub escalations: u64,
}

/// One fire, as the store and the district recorded it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FireFigures {
    /// Fire zone.
    pub zone: String,
    /// Alarm id (empty: none found).
    pub alarm: String,
    /// Raised (first detector), virtual ms of the month.
    pub raised_ms: u64,
    /// Confirmed, virtual ms of the month (0: never).
    pub confirmed_ms: u64,
    /// How it was confirmed.
    pub confirmed_by: String,
    /// Confirmation latency: confirmed − raised, ms.
    pub confirmation_ms: u64,
    /// Unlock commands sent − confirmation, ms (the slowest door).
    pub unlock_sent_ms: i64,
    /// Door release (the node's ack) − confirmation, ms (the slowest door).
    pub door_release_ms: i64,
    /// Doors released / escape doors of the zone.
    pub doors: String,
    /// Its order.
    pub order: String,
    /// The order at the district − order opened, ms.
    pub at_district_ms: i64,
    /// Opened while the uplink was down.
    pub during_outage: bool,
    /// Within the outage rules (see docs/governance.md).
    pub within_outage_rules: bool,
    /// Closed by the end.
    pub closed: bool,
    /// The fire's detectors joined an alarm of the zone already open when
    /// the fire broke out (an earlier alarm nobody cancelled and that did
    /// not end, e.g. a chattering detector's, confirmed by the verification
    /// timeout): the figures above are that alarm's.
    #[serde(default)]
    pub joined_open_alarm: bool,
}

/// A due order still open at the end, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpenOrder {
    /// Order id.
    pub order: String,
    /// Kind.
    pub kind: String,
    /// State at the end.
    pub state: String,
    /// Why it is open.
    pub why: String,
}

/// The report (`report.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Days simulated.
    pub days: f64,
    /// Nodes.
    pub nodes: usize,
    /// Buildings.
    pub buildings: usize,
    /// Grid cells.
    pub cells: usize,
    /// Real seconds of the whole run.
    pub wall_s: f64,
    /// Real seconds of the month (after the nodes connected).
    pub month_wall_s: f64,
    /// Node events stored (every kind).
    pub node_events: u64,
    /// Raw alarm-class events: stored node events of kind alarm or pre-alarm.
    pub raw_alarm_events: u64,
    /// Alarms raised, by kind.
    pub alarms_by_kind: BTreeMap<String, u64>,
    /// Orders opened (every state).
    pub orders: u64,
    /// Orders by kind.
    pub orders_by_kind: BTreeMap<String, u64>,
    /// Due orders: not cancelled, close deadline by the end.
    pub due_orders: u64,
    /// Of them closed by the end.
    pub closed_due: u64,
    /// `closed_due / due_orders`.
    pub closure_rate: f64,
    /// Every due order still open, explained.
    pub open_due: Vec<OpenOrder>,
    /// Orders open at the end and not yet due.
    pub open_not_due: u64,
    /// Orders cancelled as false (their alarm cancelled).
    pub false_tickets: u64,
    /// `false_tickets / raw_alarm_events`.
    pub false_ticket_share: f64,
    /// Orders (not cancelled) that missed a deadline by the end.
    pub late_orders: u64,
    /// Late orders whose every card came at its due time (within the tolerance) and none else.
    pub cards_on_time: u64,
    /// Cards given to orders that were not late.
    pub cards_on_non_late: u64,
    /// The latest card after its due time, ms.
    pub card_delay_max_ms: u64,
    /// Why a late order's cards were not on time (first 20).
    pub card_errors: Vec<String>,
    /// Yellow cards in all.
    pub yellow: u64,
    /// Red cards in all.
    pub red: u64,
    /// Tier moves in all.
    pub escalations: u64,
    /// Per grid cell.
    pub per_cell: BTreeMap<String, CellFigures>,
    /// Per fire.
    pub fires: Vec<FireFigures>,
    /// Orders the district received / revisions / redeliveries.
    pub district_tickets: u64,
    /// Distinct revisions the district received.
    pub district_revisions: u64,
    /// Redeliveries of a revision already received.
    pub district_duplicates: u64,
    /// Orders (not cancelled before sending) the district never received.
    pub never_at_district: u64,
    /// The uplink outage, virtual ms of the month.
    pub outage_ms: (u64, u64),
    /// Restarts and kills.
    pub restarts: Vec<RestartRecord>,
    /// Guard-room cancels: done / refused at first (retried) / nothing to cancel.
    pub guard_cancels: (u64, u64, u64),
    /// Residents' reports filed (HTTP 200) / refused.
    pub resident_reports: (u64, u64),
    /// Orders opened per day, by kind.
    pub per_day: Vec<BTreeMap<String, u64>>,
    /// Closed orders: (urgency, time to close s, close SLA s).
    pub close_times: Vec<(String, f64, f64)>,
    /// The targets, checked.
    pub targets: BTreeMap<String, bool>,
}

struct Row {
    id: String,
    alarm: String,
    cell: String,
    state: String,
    rec: OrderRecord,
}

fn sqerr(e: rusqlite::Error) -> String {
    format!("store: {e}")
}

/// Nearest-rank percentile of `v` (sorted here), in s; 0 when empty.
pub fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1] as f64 / 1000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardKind {
    Yellow,
    Red,
}

/// The cards the documented rule gives an order, with their due times:
/// per phase (accept by `ack_by`, then close by `close_by`), yellow at the
/// deadline, red and one tier up at each further interval while a tier is
/// left (street is the top), one red without a tier at the first interval
/// when none is; none after the phase ended (`until`, exclusive) or after the end.
fn expected_cards(rec: &OrderRecord, end: u64) -> Vec<(CardKind, u64)> {
    let mut out = Vec::new();
    let mut tier = 0u32;
    let phases = [
        (rec.up.ack_by, rec.acked_at),
        (
            rec.up.close_by,
            if rec.acked_at.is_some() {
                rec.ended_at
            } else {
                None
            },
        ),
    ];
    for (i, (deadline, ended)) in phases.into_iter().enumerate() {
        if i == 1 && rec.acked_at.is_none() {
            break;
        }
        let interval = deadline.saturating_sub(rec.opened_at).max(1);
        for stage in 0u64.. {
            let due = deadline + interval * stage;
            let open = match ended {
                Some(t) => due < t,
                None => due <= end,
            };
            if !open {
                break;
            }
            // The close phase begins at acceptance: a deadline it passed
            // before then is due at the acceptance.
            let due = if i == 1 {
                due.max(rec.acked_at.unwrap_or(due))
            } else {
                due
            };
            if stage == 0 {
                out.push((CardKind::Yellow, due));
            } else if tier < 2 {
                tier += 1;
                out.push((CardKind::Red, due));
            } else if stage == 1 {
                out.push((CardKind::Red, due));
            } else {
                break;
            }
        }
    }
    out
}

/// Builds the report.
///
/// # Errors
/// The store cannot be read.
pub fn build(i: &Inputs<'_>) -> Result<Report, String> {
    let c = rusqlite::Connection::open_with_flags(i.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqerr)?;
    let start = i.start_ms;
    let end = start + i.timeline.end_ms;
    let mut r = Report {
        seed: i.seed,
        days: i.days,
        nodes: i.layout.nodes.len(),
        buildings: i.layout.buildings.len(),
        cells: {
            let mut v = i.layout.cells.clone();
            v.dedup();
            v.len()
        },
        wall_s: i.run.wall_s,
        month_wall_s: i.run.month_wall_s,
        outage_ms: i.timeline.outage,
        restarts: i.run.restarts.clone(),
        ..Report::default()
    };
    let count = |sql: &str| {
        c.query_row(sql, [], |x| x.get::<_, i64>(0))
            .map(|v| v as u64)
            .map_err(sqerr)
    };
    r.node_events = count("SELECT count(*) FROM events")?;
    r.raw_alarm_events = count("SELECT count(*) FROM events WHERE kind IN ('alarm', 'pre-alarm')")?;
    {
        let mut st = c
            .prepare("SELECT kind, count(*) FROM alarms GROUP BY kind")
            .map_err(sqerr)?;
        let rows = st
            .query_map([], |x| {
                Ok((x.get::<_, String>(0)?, x.get::<_, i64>(1)? as u64))
            })
            .map_err(sqerr)?;
        for row in rows {
            let (k, n) = row.map_err(sqerr)?;
            r.alarms_by_kind.insert(k, n);
        }
    }
    let rows = order_rows(&c)?;
    let cards = audit_cards(&c)?;
    r.orders = rows.len() as u64;
    r.per_day = vec![BTreeMap::new(); i.timeline.end_ms.div_ceil(DAY).max(1) as usize];
    for cell in &i.layout.cells {
        r.per_cell.entry(cell.clone()).or_default();
    }
    let mut acks: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut closes: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for o in &rows {
        let kind = o.rec.up.kind.to_string();
        *r.orders_by_kind.entry(kind.clone()).or_default() += 1;
        let day = (o.rec.opened_at.saturating_sub(start) / DAY) as usize;
        if let Some(d) = r.per_day.get_mut(day) {
            *d.entry(kind.clone()).or_default() += 1;
        }
        let cancelled = o.state == "cancelled";
        if cancelled {
            r.false_tickets += 1;
            continue;
        }
        let cf = r.per_cell.entry(o.cell.clone()).or_default();
        cf.orders += 1;
        cf.yellow += u64::from(o.rec.yellow_cards);
        cf.red += u64::from(o.rec.red_cards);
        let moves = match o.rec.up.tier.to_string().as_str() {
            "community" => 1,
            "street" => 2,
            _ => 0,
        };
        cf.escalations += moves;
        r.yellow += u64::from(o.rec.yellow_cards);
        r.red += u64::from(o.rec.red_cards);
        r.escalations += moves;
        if let Some(a) = o.rec.acked_at.filter(|&a| a <= end) {
            acks.entry(o.cell.clone())
                .or_default()
                .push(a - o.rec.opened_at);
        }
        let closed = o.state == "closed" && o.rec.ended_at.is_some_and(|e| e <= end);
        if closed {
            let t = o.rec.ended_at.unwrap_or(0) - o.rec.opened_at;
            closes.entry(o.cell.clone()).or_default().push(t);
            r.close_times.push((
                o.rec.up.urgency.to_string(),
                t as f64 / 1000.0,
                o.rec.up.close_by.saturating_sub(o.rec.opened_at) as f64 / 1000.0,
            ));
        }
        if o.rec.up.close_by <= end {
            cf.due += 1;
            r.due_orders += 1;
            if closed {
                cf.closed_due += 1;
                r.closed_due += 1;
            } else {
                r.open_due.push(OpenOrder {
                    order: o.id.clone(),
                    kind: kind.clone(),
                    state: o.state.clone(),
                    why: explain(o, i.tickets.get(&o.id), start, end),
                });
            }
        } else if !closed {
            r.open_not_due += 1;
        }
        // Cards.
        let late = o
            .rec
            .acked_at
            .map_or(end > o.rec.up.ack_by, |a| a > o.rec.up.ack_by)
            || o.rec
                .ended_at
                .filter(|_| o.state == "closed")
                .map_or(end > o.rec.up.close_by, |e| e > o.rec.up.close_by);
        let given = cards.get(&o.id).cloned().unwrap_or_default();
        if !late {
            r.cards_on_non_late += given.len() as u64;
            continue;
        }
        r.late_orders += 1;
        let want = expected_cards(&o.rec, end);
        let ok = want.len() == given.len()
            && want
                .iter()
                .zip(&given)
                .all(|(w, g)| w.0 == g.0 && g.1 >= w.1 && g.1 - w.1 <= CARD_TOLERANCE_MS);
        for (w, g) in want.iter().zip(&given) {
            if w.0 == g.0 && g.1 >= w.1 {
                r.card_delay_max_ms = r.card_delay_max_ms.max(g.1 - w.1);
            }
        }
        if ok {
            r.cards_on_time += 1;
        } else if r.card_errors.len() < 20 {
            let show = |v: &[(CardKind, u64)]| {
                v.iter()
                    .map(|(k, t)| {
                        format!(
                            "{k:?}@{:.1}s",
                            (*t as f64 - o.rec.opened_at as f64) / 1000.0
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            r.card_errors.push(format!(
                "{}: due [{}] given [{}] (times after opening)",
                o.id,
                show(&want),
                show(&given)
            ));
        }
    }
    for (cell, cf) in &mut r.per_cell {
        cf.closure_rate = if cf.due == 0 {
            1.0
        } else {
            cf.closed_due as f64 / cf.due as f64
        };
        let a = acks.entry(cell.clone()).or_default();
        cf.ack_p50_s = pct(a, 0.5);
        cf.ack_p90_s = pct(a, 0.9);
        let z = closes.entry(cell.clone()).or_default();
        cf.close_p50_s = pct(z, 0.5);
        cf.close_p90_s = pct(z, 0.9);
    }
    r.closure_rate = if r.due_orders == 0 {
        1.0
    } else {
        r.closed_due as f64 / r.due_orders as f64
    };
    r.false_ticket_share = if r.raw_alarm_events == 0 {
        0.0
    } else {
        r.false_tickets as f64 / r.raw_alarm_events as f64
    };
    r.district_tickets = i.tickets.len() as u64;
    r.district_revisions = i.tickets.values().map(|t| t.received.len() as u64).sum();
    r.district_duplicates = i.tickets.values().map(|t| u64::from(t.duplicates)).sum();
    r.never_at_district = rows
        .iter()
        .filter(|o| o.state != "cancelled" && !i.tickets.contains_key(&o.id))
        .count() as u64;
    r.fires = fires(&c, i, &rows)?;
    for a in &i.run.actions {
        match (a.what.as_str(), a.status) {
            ("cancel", 200) => r.guard_cancels.0 += 1,
            ("cancel", 409) => r.guard_cancels.1 += 1,
            ("cancel", _) => r.guard_cancels.2 += 1,
            ("report", 200) => r.resident_reports.0 += 1,
            ("report", _) => r.resident_reports.1 += 1,
            _ => {}
        }
    }
    let t = &mut r.targets;
    t.insert("closure_rate >= 0.9991".into(), r.closure_rate >= 0.9991);
    t.insert(
        "false_ticket_share <= 0.01".into(),
        r.false_ticket_share <= 0.01,
    );
    t.insert(
        "cards_on_time == late_orders".into(),
        r.cards_on_time == r.late_orders,
    );
    t.insert(
        "every fire confirmed".into(),
        !r.fires.is_empty() && r.fires.iter().all(|f| f.confirmed_ms > 0),
    );
    t.insert(
        "doors released within 10 ms".into(),
        r.fires
            .iter()
            .all(|f| f.door_release_ms >= 0 && f.door_release_ms <= 10),
    );
    t.insert(
        "fire orders within the outage rules".into(),
        r.fires.iter().all(|f| f.within_outage_rules),
    );
    Ok(r)
}

fn order_rows(c: &rusqlite::Connection) -> Result<Vec<Row>, String> {
    let mut st = c
        .prepare(
            "SELECT order_id, alarm_id, cell, state, body FROM orders ORDER BY opened_at, order_id",
        )
        .map_err(sqerr)?;
    let rows = st
        .query_map([], |x| {
            Ok((
                x.get::<_, String>(0)?,
                x.get::<_, String>(1)?,
                x.get::<_, String>(2)?,
                x.get::<_, String>(3)?,
                x.get::<_, String>(4)?,
            ))
        })
        .map_err(sqerr)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, alarm, cell, state, body) = row.map_err(sqerr)?;
        let rec: OrderRecord =
            serde_json::from_str(&body).map_err(|e| format!("order {id}: {e}"))?;
        out.push(Row {
            id,
            alarm,
            cell,
            state,
            rec,
        });
    }
    Ok(out)
}

/// Every card from the audit chain, per order: the cumulative counts of
/// each `order.card`/`order.escalated` record, turned into one entry per card.
fn audit_cards(c: &rusqlite::Connection) -> Result<BTreeMap<String, Vec<(CardKind, u64)>>, String> {
    let mut st = c
        .prepare("SELECT subject, at, body FROM audit WHERE kind IN ('order.card', 'order.escalated') ORDER BY seq")
        .map_err(sqerr)?;
    let rows = st
        .query_map([], |x| {
            Ok((
                x.get::<_, String>(0)?,
                x.get::<_, i64>(1)? as u64,
                x.get::<_, String>(2)?,
            ))
        })
        .map_err(sqerr)?;
    let mut seen: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<(CardKind, u64)>> = BTreeMap::new();
    for row in rows {
        let (subject, at, body) = row.map_err(sqerr)?;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let (y, rd) = (
            v["yellow_cards"].as_u64().unwrap_or(0),
            v["red_cards"].as_u64().unwrap_or(0),
        );
        let (py, pr) = seen.get(&subject).copied().unwrap_or((0, 0));
        let list = out.entry(subject.clone()).or_default();
        for _ in py..y {
            list.push((CardKind::Yellow, at));
        }
        for _ in pr..rd {
            list.push((CardKind::Red, at));
        }
        seen.insert(subject, (y.max(py), rd.max(pr)));
    }
    Ok(out)
}

fn explain(o: &Row, t: Option<&Ticket>, start: u64, end: u64) -> String {
    let day = |ms: u64| (ms.saturating_sub(start)) as f64 / DAY as f64;
    let Some(t) = t else {
        return format!(
            "never reached the district (opened day {:.2}; its outbox row was not receipted)",
            day(o.rec.opened_at)
        );
    };
    match t.planned {
        Some((_, close)) if close > end => format!(
            "the district's responders close it on day {:.2}, after the month's end (close deadline day {:.2}; {} yellow, {} red card(s) given)",
            day(close),
            day(o.rec.up.close_by),
            o.rec.yellow_cards,
            o.rec.red_cards
        ),
        Some((_, close)) if t.answered.iter().any(|a| a.0 == "closed") => format!(
            "the district answered closed on day {:.2} but the gateway did not record it (state {})",
            day(close),
            o.state
        ),
        Some(_) => format!(
            "at the district since day {:.2}, no close answered by the end",
            day(t.received.first().map_or(0, |r| r.at))
        ),
        None => "the district holds it cancelled".into(),
    }
}

fn fires(
    c: &rusqlite::Connection,
    i: &Inputs<'_>,
    rows: &[Row],
) -> Result<Vec<FireFigures>, String> {
    let start = i.start_ms;
    let (o0, o1) = (start + i.timeline.outage.0, start + i.timeline.outage.1);
    let mut st = c
        .prepare("SELECT id, json FROM alarms WHERE kind = 'fire' ORDER BY raised_ms")
        .map_err(sqerr)?;
    let alarms: Vec<(String, serde_json::Value)> = st
        .query_map([], |x| Ok((x.get::<_, String>(0)?, x.get::<_, String>(1)?)))
        .map_err(sqerr)?
        .filter_map(Result::ok)
        .map(|(id, j)| (id, serde_json::from_str(&j).unwrap_or_default()))
        .collect();
    let mut out = Vec::new();
    for f in &i.timeline.fires {
        let at = start + f.at_ms;
        let mut fig = FireFigures {
            zone: f.zone.clone(),
            during_outage: f.during_outage,
            unlock_sent_ms: -1,
            door_release_ms: -1,
            at_district_ms: -1,
            ..FireFigures::default()
        };
        let in_zone = |j: &serde_json::Value| {
            j["zone"].as_str() == Some(f.zone.as_str()) && j["test"] != true
        };
        let raised_then = alarms.iter().find(|(_, j)| {
            in_zone(j)
                && j["raised_at"]
                    .as_u64()
                    .is_some_and(|r| r + 1_000 >= at && r < at + 600_000)
        });
        // Else the zone's alarm that was open when the fire broke out: a
        // fire alarm of the zone stays one alarm while it lasts, so the
        // fire's detectors join it rather than raise another.
        let open_then = || {
            alarms.iter().find(|(_, j)| {
                in_zone(j)
                    && j["kind"] == "fire"
                    && j["raised_at"].as_u64().is_some_and(|r| r < at)
                    && j["ended_at"].as_u64().is_none_or(|e| e >= at)
                    && j["state"] != "cancelled"
            })
        };
        let found = raised_then.or_else(|| {
            let o = open_then();
            fig.joined_open_alarm = o.is_some();
            o
        });
        if let Some((id, j)) = found {
            fig.alarm = id.clone();
            let raised = j["raised_at"].as_u64().unwrap_or(0);
            fig.raised_ms = raised.saturating_sub(start);
            if let Some(conf) = j["confirmed_at"].as_u64() {
                fig.confirmed_ms = conf.saturating_sub(start);
                fig.confirmation_ms = conf.saturating_sub(raised);
                fig.confirmed_by = j["confirmed_by"].as_str().unwrap_or("").to_string();
                let mut st = c
                    .prepare("SELECT sent_ms, acked_ms, ok, device FROM linkage WHERE alarm = ?1")
                    .map_err(sqerr)?;
                let links: Vec<(i64, i64, i64, String)> = st
                    .query_map([id], |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?)))
                    .map_err(sqerr)?
                    .filter_map(Result::ok)
                    .collect();
                let conf = conf as i64;
                // The first command to each door (a restarted gateway
                // repeats the release of an open fire: later rows).
                let mut first: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
                for l in links {
                    let e = first.entry(l.3.clone()).or_insert((l.0, l.1, l.2));
                    if l.0 < e.0 {
                        *e = (l.0, l.1, l.2);
                    }
                }
                fig.unlock_sent_ms = first.values().map(|l| l.0 - conf).max().unwrap_or(-1);
                fig.door_release_ms = first
                    .values()
                    .filter(|l| l.2 != 0)
                    .map(|l| l.1 - conf)
                    .max()
                    .unwrap_or(-1);
                let doors = i
                    .layout
                    .nodes
                    .iter()
                    .filter(|n| n.zone == f.zone && n.profile == "lock")
                    .count();
                fig.doors = format!("{}/{doors}", first.values().filter(|l| l.2 != 0).count());
            }
            if let Some(o) = rows.iter().find(|o| &o.alarm == id) {
                fig.order = o.id.clone();
                fig.closed = o.state == "closed";
                let opened = o.rec.opened_at;
                fig.during_outage = opened >= o0 && opened < o1;
                if let Some(t) = i.tickets.get(&o.id).and_then(|t| t.received.first()) {
                    fig.at_district_ms = t.at as i64 - opened as i64;
                    fig.within_outage_rules = if fig.during_outage {
                        // Sent within 60 s of the uplink's return, before any
                        // order that is not life-safety opened during the outage.
                        let first_other = i
                            .tickets
                            .iter()
                            .filter(|(k, x)| {
                                *k != &o.id
                                    && x.urgency != "immediate"
                                    && x.received.first().is_some_and(|r| r.at >= o1)
                            })
                            .filter_map(|(_, x)| x.received.first().map(|r| r.at))
                            .min();
                        t.at <= o1 + 60_000 && first_other.is_none_or(|f| t.at <= f)
                    } else {
                        t.at <= opened + 10_000
                    };
                }
            }
        }
        out.push(fig);
    }
    Ok(out)
}

/// Writes `report.json` and `report.md`.
///
/// # Errors
/// A file cannot be written.
pub fn write(dir: &Path, r: &Report) -> Result<(), String> {
    let json = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("report.json"), json).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("report.md"), super::report_md::markdown(r)).map_err(|e| e.to_string())
}

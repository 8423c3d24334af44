//! `report.md`: the report for a person (an operator, a street centre).

use std::fmt::Write as _;

use super::report::Report;

fn pc(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

fn day(ms: u64) -> String {
    format!("day {:.2}", ms as f64 / 86_400_000.0)
}

/// The report as Markdown.
pub(super) fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# A simulated month: seed {}, {} days, {} nodes\n",
        r.seed, r.days, r.nodes
    );
    let _ = writeln!(
        s,
        "{} buildings in {} grid cells; the real gateway (`gridsense run`) on a virtual clock, \
         the fleet simulator's firmware nodes and the district simulator. Wall time {:.0} s \
         ({:.0} s for the month itself after the nodes connected). Definitions: docs/governance.md.\n",
        r.buildings, r.cells, r.wall_s, r.month_wall_s
    );
    let _ = writeln!(s, "## Targets\n\n| target | met |\n|---|---|");
    for (k, v) in &r.targets {
        let _ = writeln!(s, "| {k} | {} |", if *v { "yes" } else { "**no**" });
    }
    let _ = writeln!(s, "\n## Figures\n\n| figure | value |\n|---|---|");
    let rows = [
        (
            "closure_rate (closed_due / due_orders)",
            format!(
                "{} ({} of {})",
                pc(r.closure_rate),
                r.closed_due,
                r.due_orders
            ),
        ),
        ("orders opened", r.orders.to_string()),
        ("open, not yet due at the end", r.open_not_due.to_string()),
        ("raw_alarm_events", r.raw_alarm_events.to_string()),
        (
            "false tickets (orders cancelled as false)",
            r.false_tickets.to_string(),
        ),
        ("false_ticket_share", pc(r.false_ticket_share)),
        ("late_orders", r.late_orders.to_string()),
        ("cards_on_time", r.cards_on_time.to_string()),
        ("cards on orders not late", r.cards_on_non_late.to_string()),
        (
            "latest card after its due time",
            format!("{} ms", r.card_delay_max_ms),
        ),
        (
            "yellow / red cards, tier moves",
            format!("{} / {} / {}", r.yellow, r.red, r.escalations),
        ),
        ("node events stored", r.node_events.to_string()),
        (
            "district: tickets / revisions / redeliveries",
            format!(
                "{} / {} / {}",
                r.district_tickets, r.district_revisions, r.district_duplicates
            ),
        ),
        (
            "orders never at the district",
            r.never_at_district.to_string(),
        ),
        (
            "guard cancels: done / refused first / nothing open",
            format!(
                "{} / {} / {}",
                r.guard_cancels.0, r.guard_cancels.1, r.guard_cancels.2
            ),
        ),
        (
            "residents' reports filed / refused",
            format!("{} / {}", r.resident_reports.0, r.resident_reports.1),
        ),
        (
            "uplink outage",
            format!("{} to {}", day(r.outage_ms.0), day(r.outage_ms.1)),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n## Orders by kind\n\n| kind | orders |\n|---|---|");
    for (k, v) in &r.orders_by_kind {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n## Alarms by kind\n\n| kind | alarms |\n|---|---|");
    for (k, v) in &r.alarms_by_kind {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(
        s,
        "\n## Per grid cell\n\n| cell | orders | due | closed | closure | ack p50 / p90 s | close p50 / p90 s | yellow | red | escalations |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for (cell, c) in &r.per_cell {
        let _ = writeln!(
            s,
            "| {cell} | {} | {} | {} | {} | {:.0} / {:.0} | {:.0} / {:.0} | {} | {} | {} |",
            c.orders,
            c.due,
            c.closed_due,
            pc(c.closure_rate),
            c.ack_p50_s,
            c.ack_p90_s,
            c.close_p50_s,
            c.close_p90_s,
            c.yellow,
            c.red,
            c.escalations
        );
    }
    let _ = writeln!(
        s,
        "\n## Fires\n\n| zone | alarm | raised | confirmed by | confirmation | unlock sent | doors released | doors | order | at district | during outage | within rules | closed | joined an open alarm |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for f in &r.fires {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} s | {} ms | {} ms | {} | {} | {:.1} s | {} | {} | {} | {} |",
            f.zone,
            f.alarm,
            day(f.raised_ms),
            f.confirmed_by,
            f.confirmation_ms as f64 / 1000.0,
            f.unlock_sent_ms,
            f.door_release_ms,
            f.doors,
            f.order,
            f.at_district_ms as f64 / 1000.0,
            f.during_outage,
            f.within_outage_rules,
            f.closed,
            f.joined_open_alarm
        );
    }
    let _ = writeln!(
        s,
        "\n## Restarts\n\n| at | how | exit | back in | nodes back |\n|---|---|---|---|---|"
    );
    for x in &r.restarts {
        let _ = writeln!(
            s,
            "| {} | {:?} | {} | {:.1} s | {} |",
            day(x.at_ms),
            x.how,
            x.exit,
            x.back_in_s,
            x.nodes_back
        );
    }
    let _ = writeln!(s, "\n## Due orders open at the end\n");
    if r.open_due.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for o in &r.open_due {
        let _ = writeln!(s, "- `{}` ({}, {}): {}", o.order, o.kind, o.state, o.why);
    }
    if !r.card_errors.is_empty() {
        let _ = writeln!(s, "\n## Late orders whose cards were not on time\n");
        for e in &r.card_errors {
            let _ = writeln!(s, "- {e}");
        }
    }
    let _ = writeln!(
        s,
        "\n## Plots\n\n- `orders_per_day.svg`: orders opened per day, by kind\n- `time_to_close.svg`: time to close against the close SLA\n- `cards_per_cell.svg`: yellow and red cards per grid cell\n- `closure_per_cell.svg`: closure rate per grid cell"
    );
    s
}

//! The month scenario file (`deploy/scenarios/month.toml`) and its
//! expansion, with a seed, into one timeline: the nodes' stimuli (the fleet
//! simulator's plan entries), the guard room's and residents' actions, the
//! gateway restarts and the uplink outage, and where the virtual clock must
//! slow down (hold windows). Same file, layout and seed: same timeline.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use sim::node::Stimulus;
use sim::plan::{Entry, Planned};

use super::compound::Layout;

const DAY_MS: u64 = 86_400_000;
const H_MS: u64 = 3_600_000;

/// The month scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthScenario {
    /// Its name.
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// Days of the month (the command line may shorten it).
    pub days: f64,
    /// The compound.
    pub fleet: FleetSpec,
    /// Real fires.
    pub fires: Fires,
    /// Cooking steam, dust: one detector, no confirmation.
    pub false_smoke: FalseSmoke,
    /// Chattering detectors.
    pub chatter: Chatter,
    /// Batteries dying across one building.
    pub batteries: Batteries,
    /// Flapping links.
    pub flaps: Flaps,
    /// Nodes offline for hours.
    pub offline: Offline,
    /// The uplink to the district down for hours.
    pub uplink_outage: Outage,
    /// Gateway restarts (`graceful`: SIGTERM; `kill`: SIGKILL).
    #[serde(default)]
    pub restart: Vec<Restart>,
    /// The guard room.
    pub guards: Guards,
    /// Residents' reports.
    pub reports: Reports,
    /// The district's responders.
    pub responders: Responders,
    /// How fast the virtual clock may run.
    pub clock: ClockSpec,
}

/// `[fleet]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Nodes.
    pub nodes: usize,
    /// Buildings.
    pub buildings: usize,
    /// Grid cells.
    pub cells: usize,
    /// Heartbeat interval of every node, virtual seconds.
    pub heartbeat_s: u32,
}

/// `[fires]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fires {
    /// How many.
    pub count: usize,
    /// How many of them break out during the uplink outage.
    #[serde(default)]
    pub during_outage: usize,
    /// Seconds from the first detector to the second (same room).
    pub second_after_s: f64,
    /// Seconds from the first detector to the rest of the floor.
    pub floor_after_s: f64,
    /// The smoke clears after this long (detectors restore).
    pub clears_after_s: f64,
}

/// `[false_smoke]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FalseSmoke {
    /// How many events.
    pub count: usize,
    /// Chamber reading (alarm level ≥ 200).
    pub raw: u16,
    /// It lasts between these many seconds.
    pub lasts_s: [f64; 2],
}

/// `[chatter]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chatter {
    /// Detectors.
    pub count: usize,
    /// Seconds between flips.
    pub period_s: f64,
    /// Flips.
    pub times: u32,
}

/// `[batteries]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batteries {
    /// The building (1-based).
    pub building: usize,
    /// Detectors.
    pub count: usize,
    /// Starting on this day.
    pub day: f64,
    /// Spread over this many hours.
    pub over_h: f64,
}

/// `[flaps]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flaps {
    /// Nodes.
    pub count: usize,
    /// Seconds down per drop.
    pub down_s: f64,
    /// Seconds up between drops.
    pub up_s: f64,
    /// Drops.
    pub times: u32,
}

/// `[offline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offline {
    /// Nodes.
    pub count: usize,
    /// Down between these many hours.
    pub hours: [f64; 2],
}

/// `[uplink_outage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// Starts at this fraction of the month (0..1).
    pub at: f64,
    /// Lasts this many hours.
    pub hours: f64,
}

/// `[[restart]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// At this fraction of the month (0..1).
    pub at: f64,
    /// `graceful` or `kill`.
    pub how: RestartHow,
}

/// How the gateway is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartHow {
    /// SIGTERM, then started again.
    Graceful,
    /// SIGKILL, then started again.
    Kill,
}

/// `[guards]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    /// Median seconds from a false pre-alarm to the guard's cancel.
    pub cancel_median_s: f64,
    /// Log-normal spread of that delay.
    pub cancel_sigma: f64,
}

/// `[reports]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// Residents' reports per day.
    pub per_day: f64,
}

/// `[responders]`: when the district accepts and closes an order, as a
/// share of the order's own deadline window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responders {
    /// Median acceptance, share of the ack window.
    pub ack_median: f64,
    /// Median closure after acceptance, share of the close window.
    pub close_median: f64,
    /// Log-normal spread.
    pub sigma: f64,
    /// Share of orders accepted late (after `ack_by`, before the red card).
    pub late_ack: f64,
    /// Share accepted only after the red card (escalated).
    pub very_late_ack: f64,
    /// Share closed late (after `close_by`, before the red card).
    pub late_close: f64,
    /// Share closed only after the red card.
    pub very_late_close: f64,
}

/// `[clock]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// Virtual ms per real ms while nothing is going on.
    pub fast: f64,
    /// While an incident unfolds.
    pub slow: f64,
    /// Around a fire's confirmation (latencies are measured in real time).
    pub fire: f64,
}

impl MonthScenario {
    /// Parses a month scenario.
    ///
    /// # Errors
    /// The file's syntax or values, with the place.
    pub fn parse(origin: &str, text: &str) -> Result<Self, String> {
        let s: Self = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let mut errs = Vec::new();
        if !(s.days > 0.0 && s.days <= 62.0) {
            errs.push(format!("days: 0 < days <= 62, got {}", s.days));
        }
        if s.fleet.nodes < 40 || s.fleet.buildings == 0 || s.fleet.cells == 0 {
            errs.push("fleet: at least 40 nodes, one building and one cell".into());
        }
        if s.fires.during_outage > s.fires.count {
            errs.push("fires.during_outage: at most fires.count".into());
        }
        if !(0.0..1.0).contains(&s.uplink_outage.at)
            || s.restart.iter().any(|r| !(0.0..1.0).contains(&r.at))
        {
            errs.push("uplink_outage.at, restart.at: a fraction of the month in 0..1".into());
        }
        if s.clock.fast < s.clock.slow || s.clock.slow < s.clock.fire || s.clock.fire <= 0.0 {
            errs.push("clock: fast >= slow >= fire > 0".into());
        }
        if errs.is_empty() {
            Ok(s)
        } else {
            Err(format!("{origin}: {}", errs.join("; ")))
        }
    }
}

/// Something the run does at a virtual time (besides the nodes' stimuli).
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// The guard room cancels the open alarm of this device, a false one.
    GuardCancel(String),
    /// A resident files a report about this place.
    Report(String, String),
    /// The uplink goes down (true) or comes back.
    Outage(bool),
    /// The gateway is stopped and started again.
    Restart(RestartHow),
}

/// A window where the clock runs at most at `rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// From (ms of the month).
    pub from: u64,
    /// Until.
    pub until: u64,
    /// Virtual ms per real ms.
    pub rate: f64,
}

/// A planned fire, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FirePlan {
    /// Ms of the month the first detector sees smoke.
    pub at_ms: u64,
    /// Its fire zone.
    pub zone: String,
    /// Whether it breaks out during the uplink outage.
    pub during_outage: bool,
}

/// The expanded month.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The nodes' plan (indices into the layout's nodes), sorted.
    pub entries: Vec<Entry>,
    /// Other actions, sorted.
    pub acts: Vec<(u64, Act)>,
    /// Where the clock slows down.
    pub holds: Vec<Hold>,
    /// The fires.
    pub fires: Vec<FirePlan>,
    /// The uplink outage, ms of the month.
    pub outage: (u64, u64),
    /// Length of the month, ms.
    pub end_ms: u64,
}

fn ms(s: f64) -> u64 {
    // Checked finite and non-negative by the callers' ranges.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let v = (s * 1000.0).round().max(0.0) as u64;
    v
}

/// A log-normal draw with this median and spread.
pub fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Expands `s` over `layout` for `days` with `seed`.
pub fn build(s: &MonthScenario, layout: &Layout, days: f64, seed: u64) -> Timeline {
    let end = ms(days * 86_400.0);
    // Incidents fall between the first hour and the last six hours.
    let lo = H_MS.min(end / 10);
    let hi = end.saturating_sub((6 * H_MS).min(end / 5)).max(lo + 1);
    let mut t = Timeline {
        end_ms: end,
        ..Timeline::default()
    };
    let o_start = lo + ms((hi - lo) as f64 / 1000.0 * s.uplink_outage.at);
    t.outage = (
        o_start,
        (o_start + ms(s.uplink_outage.hours * 3600.0)).min(end),
    );
    t.acts.push((t.outage.0, Act::Outage(true)));
    t.acts.push((t.outage.1, Act::Outage(false)));
    // The uplink's return at a tenth of the slow rate: its reconnection and
    // the outbox's drain take real seconds.
    t.holds.push(Hold {
        from: t.outage.1,
        until: t.outage.1 + 120_000,
        rate: (s.clock.slow / 10.0).max(s.clock.fire),
    });
    for r in &s.restart {
        let at = lo + ms((hi - lo) as f64 / 1000.0 * r.at);
        t.acts.push((at, Act::Restart(r.how)));
    }
    // A shorter run keeps the month's rate of the countable incidents.
    let share = (days / s.days).min(1.0);
    let scaled = |n: usize| ((n as f64 * share).round() as usize).max(n.min(2));
    let mut s = s.clone();
    s.false_smoke.count = scaled(s.false_smoke.count);
    s.flaps.count = scaled(s.flaps.count);
    s.offline.count = scaled(s.offline.count);
    let s = &s;
    let smoke: Vec<usize> = (0..layout.nodes.len())
        .filter(|&i| layout.nodes[i].profile == "smoke")
        .collect();
    let mut busy_zones: Vec<String> = Vec::new();
    fires(s, layout, &smoke, seed, (lo, hi), &mut t, &mut busy_zones);
    false_smoke(s, layout, &smoke, seed, (lo, hi), &mut t, &busy_zones);
    faults(s, layout, &smoke, seed, (lo, hi), &mut t);
    reports(s, layout, seed, (lo, hi), &mut t);
    t.entries.sort_by_key(|e| e.at_ms);
    t.acts.sort_by_key(|a| a.0);
    t.holds.sort_by_key(|h| h.from);
    t
}

fn stim(at_ms: u64, node: usize, s: Stimulus) -> Entry {
    Entry {
        at_ms,
        node,
        what: Planned::Stim(s),
    }
}

fn fires(
    s: &MonthScenario,
    layout: &Layout,
    smoke: &[usize],
    seed: u64,
    (lo, hi): (u64, u64),
    t: &mut Timeline,
    busy: &mut Vec<String>,
) {
    let mut rng = rng_for(seed, 1);
    let mut zones: Vec<String> = smoke
        .iter()
        .map(|&i| layout.nodes[i].zone.clone())
        .collect();
    zones.dedup();
    zones.shuffle(&mut rng);
    #[allow(clippy::needless_range_loop, reason = "k also numbers the fire")]
    for k in 0..s.fires.count.min(zones.len()) {
        let during = k < s.fires.during_outage;
        let at = if during {
            t.outage.0 + (t.outage.1 - t.outage.0) / 3 + rng.random_range(0..H_MS / 2)
        } else {
            // Spread over the month, away from the outage.
            let slot = (hi - lo) / s.fires.count.max(1) as u64;
            lo + slot * k as u64 + rng.random_range(slot / 4..slot / 2 + 1)
        };
        let zone = zones[k].clone();
        let on_floor: Vec<usize> = smoke
            .iter()
            .copied()
            .filter(|&i| layout.nodes[i].zone == zone)
            .collect();
        let room = layout.nodes[on_floor[0]].room.clone();
        let in_room: Vec<usize> = on_floor
            .iter()
            .copied()
            .filter(|&i| layout.nodes[i].room == room)
            .collect();
        let (a, b) = (in_room[0], in_room.get(1).copied().unwrap_or(on_floor[1]));
        let second = at + ms(s.fires.second_after_s);
        t.entries.push(stim(at, a, Stimulus::Chamber(320)));
        t.entries.push(stim(second, b, Stimulus::Chamber(320)));
        let floor_at = at + ms(s.fires.floor_after_s);
        for (j, &n) in on_floor.iter().enumerate() {
            if n != a && n != b {
                t.entries
                    .push(stim(floor_at + 1_000 * j as u64, n, Stimulus::Chamber(450)));
            }
        }
        let clears = at + ms(s.fires.clears_after_s);
        for &n in &on_floor {
            t.entries.push(stim(clears, n, Stimulus::Chamber(40)));
        }
        // The detectors sample every tick (20 ms of real time): a tenth of
        // the slow rate from the first smoke keeps their sampling at ~0.2 s.
        t.holds.push(Hold {
            from: at,
            until: second.saturating_sub(500),
            rate: (s.clock.slow / 10.0).max(s.clock.fire),
        });
        t.holds.push(Hold {
            from: second.saturating_sub(500),
            until: second + 3_000,
            rate: s.clock.fire,
        });
        t.holds.push(Hold {
            from: second + 3_000,
            until: floor_at + 60_000 + 1_000 * on_floor.len() as u64,
            rate: s.clock.slow,
        });
        t.holds.push(Hold {
            from: clears,
            until: clears + 30_000,
            rate: s.clock.slow,
        });
        t.fires.push(FirePlan {
            at_ms: at,
            zone: zone.clone(),
            during_outage: during,
        });
        busy.push(zone);
    }
}

fn false_smoke(
    s: &MonthScenario,
    layout: &Layout,
    smoke: &[usize],
    seed: u64,
    (lo, hi): (u64, u64),
    t: &mut Timeline,
    busy: &[String],
) {
    let mut rng = rng_for(seed, 2);
    let free: Vec<usize> = smoke
        .iter()
        .copied()
        .filter(|&i| !busy.contains(&layout.nodes[i].zone))
        .collect();
    for _ in 0..s.false_smoke.count {
        let n = free[rng.random_range(0..free.len())];
        let at = rng.random_range(lo..hi);
        let [a, b] = s.false_smoke.lasts_s;
        let lasts = ms(rng.random_range(a.min(b)..=a.max(b)));
        t.entries
            .push(stim(at, n, Stimulus::Chamber(s.false_smoke.raw)));
        t.entries.push(stim(at + lasts, n, Stimulus::Chamber(40)));
        let cancel = ms(
            lognormal(&mut rng, s.guards.cancel_median_s, s.guards.cancel_sigma)
                .clamp(5.0, 3_600.0),
        );
        let id = layout.nodes[n].id.clone();
        t.acts.push((at + cancel, Act::GuardCancel(id)));
        t.holds.push(Hold {
            from: at,
            until: at + 150_000.max(cancel + 10_000),
            rate: s.clock.slow,
        });
    }
}

fn faults(
    s: &MonthScenario,
    layout: &Layout,
    smoke: &[usize],
    seed: u64,
    (lo, hi): (u64, u64),
    t: &mut Timeline,
) {
    let mut rng = rng_for(seed, 3);
    let slow = s.clock.slow;
    // Chattering detectors.
    for _ in 0..s.chatter.count {
        let n = smoke[rng.random_range(0..smoke.len())];
        let at = rng.random_range(lo..hi);
        let period = ms(s.chatter.period_s);
        for j in 0..s.chatter.times {
            let v = if j % 2 == 0 { 260 } else { 40 };
            t.entries
                .push(stim(at + period * u64::from(j), n, Stimulus::Chamber(v)));
        }
        // The guard room checks it like any pre-alarm of one detector.
        let cancel = ms(
            lognormal(&mut rng, s.guards.cancel_median_s, s.guards.cancel_sigma)
                .clamp(5.0, 3_600.0),
        );
        t.acts
            .push((at + cancel, Act::GuardCancel(layout.nodes[n].id.clone())));
        t.holds.push(Hold {
            from: at,
            until: at + period * u64::from(s.chatter.times) + 150_000,
            rate: slow,
        });
    }
    // Batteries dying across a building.
    let b = s
        .batteries
        .building
        .saturating_sub(1)
        .min(layout.buildings.len() - 1);
    let mut inb: Vec<usize> = smoke
        .iter()
        .copied()
        .filter(|&i| layout.nodes[i].building == b)
        .collect();
    inb.shuffle(&mut rng);
    inb.truncate(s.batteries.count);
    let from = (ms(s.batteries.day * 86_400.0)).clamp(lo, hi);
    let over = ms(s.batteries.over_h * 3600.0).max(1);
    for n in inb {
        let at = (from + rng.random_range(0..over)).min(hi);
        t.entries.push(stim(at, n, Stimulus::Battery(2_400)));
        t.holds.push(Hold {
            from: at,
            until: at + 60_000,
            rate: slow,
        });
    }
    // Flapping links.
    let all: Vec<usize> = (0..layout.nodes.len()).collect();
    for _ in 0..s.flaps.count {
        let n = all[rng.random_range(0..all.len())];
        let at = rng.random_range(lo..hi);
        let (down, up) = (ms(s.flaps.down_s), ms(s.flaps.up_s));
        for k in 0..u64::from(s.flaps.times) {
            let d = at + k * (down + up);
            t.entries.push(Entry {
                at_ms: d,
                node: n,
                what: Planned::LinkDown,
            });
            t.entries.push(Entry {
                at_ms: d + down,
                node: n,
                what: Planned::LinkUp,
            });
        }
        t.holds.push(Hold {
            from: at,
            until: at + u64::from(s.flaps.times) * (down + up) + 120_000,
            rate: slow,
        });
    }
    // Nodes offline for hours.
    for _ in 0..s.offline.count {
        let n = all[rng.random_range(0..all.len())];
        let at = rng.random_range(lo..hi);
        let [a, b] = s.offline.hours;
        let back = at + ms(rng.random_range(a.min(b)..=a.max(b)) * 3600.0);
        t.entries.push(Entry {
            at_ms: at,
            node: n,
            what: Planned::LinkDown,
        });
        t.entries.push(Entry {
            at_ms: back,
            node: n,
            what: Planned::LinkUp,
        });
        t.holds.push(Hold {
            from: at,
            until: at + 60_000,
            rate: slow,
        });
        t.holds.push(Hold {
            from: back,
            until: back + 60_000,
            rate: slow,
        });
    }
}

fn reports(s: &MonthScenario, layout: &Layout, seed: u64, (lo, hi): (u64, u64), t: &mut Timeline) {
    let mut rng = rng_for(seed, 4);
    let texts = [
        "water leaking from the ceiling in the stairwell",
        "the corridor light is out",
        "a bicycle is blocking the fire exit",
        "strange smell near the bins",
        "the lift stops between floors",
        "neighbours' dog barking all night",
    ];
    let n = ((hi - lo) as f64 / DAY_MS as f64 * s.reports.per_day).round() as usize;
    for _ in 0..n {
        let at = rng.random_range(lo..hi);
        let b = rng.random_range(0..layout.buildings.len());
        let f = rng.random_range(0..layout.floors[b].max(1));
        let place = format!("{}-f{:02}", layout.buildings[b], f + 1);
        let text = texts[rng.random_range(0..texts.len())].to_string();
        t.acts.push((at, Act::Report(place, text)));
        t.holds.push(Hold {
            from: at,
            until: at + 20_000,
            rate: s.clock.slow,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../../deploy/scenarios/month.toml");

    #[test]
    fn the_shipped_month_parses_and_expands_the_same_for_a_seed() {
        let s = MonthScenario::parse("month.toml", FILE).expect("parse");
        let l = super::super::compound::layout(s.fleet.nodes, s.fleet.buildings, s.fleet.cells);
        let a = build(&s, &l, s.days, 7);
        let b = build(&s, &l, s.days, 7);
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.acts, b.acts);
        assert_eq!(a.fires.len(), 3);
        let cancels = a
            .acts
            .iter()
            .filter(|x| matches!(x.1, Act::GuardCancel(_)))
            .count();
        assert_eq!(cancels, s.false_smoke.count + s.chatter.count);
        assert!(a.fires.iter().filter(|f| f.during_outage).count() == 1);
        assert!(a.entries.iter().all(|e| e.at_ms < a.end_ms));
        assert_ne!(
            build(&s, &l, s.days, 8).entries,
            a.entries,
            "another seed, another month"
        );
    }
}

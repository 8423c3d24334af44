//! A scenario and a fleet, expanded with a seed into one sorted timeline of
//! what happens to which node. Same scenario, fleet and seed: same plan.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::devices::DeviceSpec;
use crate::node::{SimKind, Stimulus};
use crate::scenario::{Action, ChatterInput, Scenario, Select, Step};

/// What happens to a node at a planned time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Something its hardware senses.
    Stim(Stimulus),
    /// Its network link drops.
    LinkDown,
    /// Its network link comes back.
    LinkUp,
    /// Its firmware restarts (RAM state gone, boot counter advanced).
    Reboot,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Ms after the start of the run.
    pub at_ms: u64,
    /// Index of the node in the fleet.
    pub node: usize,
    /// What happens.
    pub what: Planned,
}

/// A fleet member as the planner sees it.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    /// The device.
    pub spec: &'a DeviceSpec,
    /// Its firmware.
    pub kind: SimKind,
}

fn ms(s: f64) -> u64 {
    // Validated finite and non-negative; whole ms are plenty.
    (s * 1_000.0).round() as u64
}

/// Expands `scenario` over `fleet` with `seed`, sorted by time (ties keep step order).
///
/// # Errors
/// One message per step that selects no device or names one not in the fleet.
pub fn build(
    scenario: &Scenario,
    fleet: &[Member<'_>],
    seed: u64,
) -> Result<Vec<Entry>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        if matches!(step.action, Action::Revoke { .. }) {
            continue; // acts at the gateway: see `revocations`
        }
        // One stream per step, so editing one step leaves the others' draws alone.
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        match select(&step.select, fleet, &mut rng) {
            Ok(nodes) if nodes.is_empty() => {
                errs.push(format!("step[{i}].select: selects no device of this fleet"))
            }
            Ok(nodes) => expand(step, &nodes, &mut rng, &mut out),
            Err(e) => errs.push(format!("step[{i}].select.devices: {e}")),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    out.sort_by_key(|e| e.at_ms);
    Ok(out)
}

/// The scenario's revocations: `(ms after the start, "kind:id")`, in time order.
pub fn revocations(scenario: &Scenario) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = scenario
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Revoke { credential } => Some((ms(st.at_s), credential.clone())),
            _ => None,
        })
        .collect();
    out.sort_by_key(|(at, _)| *at);
    out
}

fn select(sel: &Select, fleet: &[Member<'_>], rng: &mut ChaCha8Rng) -> Result<Vec<usize>, String> {
    for id in &sel.devices {
        if !fleet.iter().any(|m| m.spec.id.as_str() == id) {
            return Err(format!("{id} is not in the fleet"));
        }
    }
    let keep = |m: &Member<'_>| {
        (sel.devices.is_empty() || sel.devices.iter().any(|d| d == m.spec.id.as_str()))
            && sel.kind.is_none_or(|k| k == m.kind)
            && sel
                .zone
                .as_ref()
                .is_none_or(|z| m.spec.fire_zone.as_deref() == Some(z.as_str()))
            && sel.location.as_ref().is_none_or(|l| {
                m.spec
                    .location
                    .as_ref()
                    .is_some_and(|x| x.starts_with(l.as_str()))
            })
    };
    let mut nodes: Vec<usize> = (0..fleet.len()).filter(|&i| keep(&fleet[i])).collect();
    let want = match (sel.pick, sel.fraction) {
        (Some(n), _) => n,
        // A share of a count below 2^52 is exact enough in f64.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        (None, Some(f)) => (nodes.len() as f64 * f).round() as usize,
        (None, None) => return Ok(nodes),
    };
    nodes.shuffle(rng);
    nodes.truncate(want);
    nodes.sort_unstable();
    Ok(nodes)
}

fn expand(step: &Step, nodes: &[usize], rng: &mut ChaCha8Rng, out: &mut Vec<Entry>) {
    let (at, over) = (ms(step.at_s), ms(step.over_s));
    let when = |rng: &mut ChaCha8Rng| {
        at + if over == 0 {
            0
        } else {
            rng.random_range(0..over)
        }
    };
    for &node in nodes {
        let t = when(rng);
        let stim = |s| Planned::Stim(s);
        let timeline = match &step.action {
            Action::Smoke { raw } => vec![(t, stim(Stimulus::Chamber(*raw)))],
            Action::Gas { raw } => vec![(t, stim(Stimulus::Gas(*raw)))],
            Action::Battery { raw } => vec![(t, stim(Stimulus::Battery(*raw)))],
            Action::Tamper { on } => vec![(t, stim(Stimulus::Tamper(*on)))],
            Action::Intrusion => vec![(t, stim(Stimulus::Intrusion))],
            Action::FireLane { blocked } => vec![(t, stim(Stimulus::FireLane(*blocked)))],
            Action::TestButton => vec![
                (t, stim(Stimulus::TestButton(true))),
                (t + 1_000, stim(Stimulus::TestButton(false))),
            ],
            Action::DoorOpen { open_s } => vec![
                (t, stim(Stimulus::DoorOpen(true))),
                (t + ms(*open_s), stim(Stimulus::DoorOpen(false))),
            ],
            Action::Disconnect { duration_s } => {
                vec![
                    (t, Planned::LinkDown),
                    (t + ms(*duration_s), Planned::LinkUp),
                ]
            }
            Action::Flap {
                down_s,
                up_s,
                times,
            } => (0..u64::from(*times))
                .flat_map(|k| {
                    let down = t + k * (ms(*down_s) + ms(*up_s));
                    [
                        (down, Planned::LinkDown),
                        (down + ms(*down_s), Planned::LinkUp),
                    ]
                })
                .collect(),
            Action::Reboot { down_s } => vec![
                (t, Planned::LinkDown),
                (t, Planned::Reboot),
                (t + ms(*down_s), Planned::LinkUp),
            ],
            Action::Card { id, open_s } => vec![
                (t, stim(Stimulus::Card(id.clone()))),
                (t + 1_000, stim(Stimulus::Pass)),
                (t + 1_000 + ms(*open_s), stim(Stimulus::DoorOpen(false))),
            ],
            Action::Revoke { .. } => Vec::new(),
            Action::Chatter { .. } => chatter(&step.action, t),
            Action::Cards { .. } => swipes(&step.action, rng, &when),
        };
        out.extend(
            timeline
                .into_iter()
                .map(|(at_ms, what)| Entry { at_ms, node, what }),
        );
    }
}

/// The flips of a [`Action::Chatter`] starting at `t`.
fn chatter(action: &Action, t: u64) -> Vec<(u64, Planned)> {
    let Action::Chatter {
        input,
        high,
        low,
        period_s,
        times,
    } = action
    else {
        return Vec::new();
    };
    (0..*times)
        .map(|j| {
            let on = j % 2 == 0;
            let v = if on { *high } else { *low };
            let s = match input {
                ChatterInput::Chamber => Stimulus::Chamber(v),
                ChatterInput::Gas => Stimulus::Gas(v),
                ChatterInput::Tamper => Stimulus::Tamper(on),
                ChatterInput::Door => Stimulus::DoorOpen(on),
            };
            (t + u64::from(j) * ms(*period_s), Planned::Stim(s))
        })
        .collect()
}

/// The card swipes of a [`Action::Cards`] at one door, each at `when(rng)`.
fn swipes(
    action: &Action,
    rng: &mut ChaCha8Rng,
    when: &impl Fn(&mut ChaCha8Rng) -> u64,
) -> Vec<(u64, Planned)> {
    let Action::Cards {
        count,
        allowed_pct,
        open_s,
    } = action
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for _ in 0..*count {
        let tk = when(rng);
        let allowed = rng.random_range(0..100u8) < *allowed_pct;
        let card = if allowed {
            Stimulus::SyncedCard(rng.random())
        } else {
            Stimulus::Card(format!("visitor-{:04}", rng.random_range(0..10_000u32)))
        };
        out.push((tk, Planned::Stim(card)));
        if allowed {
            out.push((tk + 1_000, Planned::Stim(Stimulus::Pass)));
            out.push((
                tk + 1_000 + ms(*open_s),
                Planned::Stim(Stimulus::DoorOpen(false)),
            ));
        }
    }
    out
}

/// Checks one step's values; appends a message per problem.
pub(crate) fn check_step(i: usize, st: &Step, errs: &mut Vec<String>) {
    let mut bad = |field: &str, why: String| errs.push(format!("step[{i}].{field}: {why}"));
    let secs = |x: f64| x.is_finite() && (0.0..=7.0 * 86_400.0).contains(&x);
    if !secs(st.at_s) {
        bad(
            "at_s",
            format!("must be 0 to a week in seconds, got {}", st.at_s),
        );
    }
    if !secs(st.over_s) {
        bad(
            "over_s",
            format!("must be 0 to a week in seconds, got {}", st.over_s),
        );
    }
    if st.select.pick.is_some() && st.select.fraction.is_some() {
        bad("select", "give pick or fraction, not both".into());
    }
    if let Some(f) = st.select.fraction.filter(|f| !(0.0..=1.0).contains(f)) {
        bad("select.fraction", format!("must be 0 to 1, got {f}"));
    }
    let positive = |x: f64| x.is_finite() && x > 0.0 && x <= 7.0 * 86_400.0;
    match &st.action {
        Action::DoorOpen { open_s }
        | Action::Cards { open_s, .. }
        | Action::Card { open_s, .. }
            if !positive(*open_s) =>
        {
            bad("action.open_s", format!("must be above 0 s, got {open_s}"));
        }
        Action::Reboot { down_s } if !positive(*down_s) => {
            bad("action.down_s", format!("must be above 0 s, got {down_s}"));
        }
        Action::Disconnect { duration_s } if !positive(*duration_s) => {
            bad(
                "action.duration_s",
                format!("must be above 0 s, got {duration_s}"),
            );
        }
        Action::Flap {
            down_s,
            up_s,
            times,
        } if !positive(*down_s) || !positive(*up_s) || *times == 0 => {
            bad(
                "action",
                format!(
                    "flap: down_s and up_s must be above 0 s and times above 0, got {down_s}, {up_s}, {times}"
                ),
            );
        }
        Action::Card { id, .. } if !reader_line(id) => {
            bad(
                "action.id",
                format!(
                    "{id:?} is not a reader line: a card id, P:PIN or Q:TOKEN ([A-Za-z0-9_-], at most 20)"
                ),
            );
        }
        Action::Revoke { credential } => {
            if !credential_key(credential) {
                bad(
                    "action.credential",
                    format!(
                        "{credential:?}: write kind:id, e.g. card:card-0002 (kinds card, pin, qr)"
                    ),
                );
            }
            if !select_is_empty(&st.select) {
                bad(
                    "select",
                    "a revocation acts at the gateway: select no device".into(),
                );
            }
        }
        Action::Cards { allowed_pct, .. } if *allowed_pct > 100 => {
            bad(
                "action.allowed_pct",
                format!("must be 0 to 100, got {allowed_pct}"),
            );
        }
        Action::Chatter {
            period_s, times, ..
        } if !positive(*period_s) || *times == 0 => {
            bad(
                "action",
                format!(
                    "chatter needs period_s above 0 and times above 0, got {period_s} and {times}"
                ),
            );
        }
        _ => {}
    }
}

/// Whether `line` is what a reader delivers: a card id, `P:` + a PIN, `Q:` + a QR token.
fn reader_line(line: &str) -> bool {
    let id = line
        .strip_prefix("P:")
        .or_else(|| line.strip_prefix("Q:"))
        .unwrap_or(line);
    protocol::access::CredId::new(id).is_ok()
}

/// Whether `key` names a credential as the gateway's API does: `kind:id`.
fn credential_key(key: &str) -> bool {
    key.split_once(':').is_some_and(|(kind, id)| {
        protocol::access::CredKind::parse(kind).is_some()
            && protocol::access::CredId::new(id).is_ok()
    })
}

fn select_is_empty(s: &Select) -> bool {
    s.devices.is_empty()
        && s.kind.is_none()
        && s.zone.is_none()
        && s.location.is_none()
        && s.pick.is_none()
        && s.fraction.is_none()
}

#[cfg(test)]
mod tests;

//! The scenario file: which fleet, for how long, and what happens when.
//!
//! ```toml
//! name = "fire-floor"
//! duration_s = 90
//! tick_ms = 500                 # how often every node is ticked (default 500)
//!
//! [fleet]                       # used when the command line names no fleet
//! generate = 120                # smoke-0001 ... (see devices::generate)
//!
//! [[step]]
//! at_s = 10                     # seconds after the start
//! over_s = 0                    # spread over a window (each device at a seeded time)
//! select = { location = "b01-f02-r01", kind = "smoke", pick = 2 }
//! action = { type = "smoke", raw = 320 }
//! ```
//!
//! `select` filters (all given ones apply): `devices` (ids), `kind`
//! (`smoke`, `door`, `gas`, `camera`), `zone` (fire zone), `location` (prefix),
//! then `pick` (N at random) or `fraction` (0..=1 at random). Actions are
//! listed in [`Action`]; `{ type = "reboot", down_s = 2 }` restarts a node
//! (its `seq` from 1, its boot counter one up); `{ type = "revoke",
//! credential = "card:card-0002" }` has the gateway revoke a credential
//! (through its API) and selects nothing.

use serde::Deserialize;

use crate::node::SimKind;

/// A parsed scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, shown in progress lines.
    pub name: String,
    /// What it shows, for people.
    #[serde(default)]
    pub description: String,
    /// How long the run lasts, in seconds.
    pub duration_s: f64,
    /// Tick period of every node, in ms.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u32,
    /// The fleet when the command line does not give one.
    #[serde(default)]
    pub fleet: FleetSpec,
    /// What happens, in any order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

const fn default_tick_ms() -> u32 {
    500
}

/// `[fleet]`: where the devices come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Generate this many nodes (`smoke-0001` ...).
    pub generate: Option<usize>,
    /// A device list CSV, relative to the scenario file.
    pub devices: Option<std::path::PathBuf>,
}

/// One `[[step]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When it starts, in seconds after the run starts.
    pub at_s: f64,
    /// Window over which the selected devices are hit, each at a seeded time.
    #[serde(default)]
    pub over_s: f64,
    /// Which devices.
    #[serde(default)]
    pub select: Select,
    /// What happens to them.
    pub action: Action,
}

/// Device selection; every given filter applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// These ids (each must be in the fleet).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Only this firmware kind.
    pub kind: Option<SimKind>,
    /// Only this fire zone.
    pub zone: Option<String>,
    /// Only locations starting with this.
    pub location: Option<String>,
    /// Then N of them at random.
    pub pick: Option<usize>,
    /// Then this share of them at random (0..=1).
    pub fraction: Option<f64>,
}

/// What a step does to each selected device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Smoke chamber reads `raw` (normal 40, alarm at 200, dense at 400).
    Smoke {
        /// Raw reading.
        raw: u16,
    },
    /// Gas cell reads `raw` (40 per %LEL: pre-alarm 400, alarm 1000).
    Gas {
        /// Raw reading.
        raw: u16,
    },
    /// Battery divider reads `raw` (2300 empty, 3300 full, low below 2450).
    Battery {
        /// Raw reading.
        raw: u16,
    },
    /// Lifted off the base (`on = true`) or put back.
    Tamper {
        /// Off the base.
        on: bool,
    },
    /// Test button pressed for one second.
    TestButton,
    /// Door opened for `open_s` seconds (forced entry if it was locked).
    DoorOpen {
        /// How long it stays open.
        open_s: f64,
    },
    /// `count` cards presented at each door within the window; an allowed
    /// card (`allowed_pct` % of them) is followed by the door opening.
    Cards {
        /// Swipes per door.
        count: u32,
        /// Share of swipes with an allowed card, in percent.
        #[serde(default = "default_allowed_pct")]
        allowed_pct: u8,
        /// How long the door stays open after an allowed card, in s.
        #[serde(default = "default_open_s")]
        open_s: f64,
    },
    /// One named credential presented at each selected door (the reader
    /// line: a card's number, `P:` + a PIN, `Q:` + a QR token); someone
    /// pulls the door 1 s later (it opens only if the lock released) and it
    /// closes after `open_s`.
    Card {
        /// The reader line.
        id: String,
        /// How long the door stays open if it released, in s.
        #[serde(default = "default_open_s")]
        open_s: f64,
    },
    /// The gateway revokes a credential (`kind:id`, e.g. `card:card-0002`)
    /// through its HTTP API (`POST /api/access/revoke`; `--api` and
    /// `--api-token-file` of `gridsense-sim`), as an installer would
    /// mid-run; the doors refuse it once their next sync arrived. Acts at
    /// the gateway, so the step selects no device.
    Revoke {
        /// `card:ID`, `pin:ID` or `qr:ID`.
        credential: String,
    },
    /// The camera's analytics report an intruder.
    Intrusion,
    /// The camera sees the fire lane blocked or clear.
    FireLane {
        /// Blocked.
        blocked: bool,
    },
    /// An input flips between `high` and `low` every `period_s`, `times` times.
    Chatter {
        /// Which input.
        input: ChatterInput,
        /// Raw reading when high (chamber, gas).
        #[serde(default)]
        high: u16,
        /// Raw reading when low (chamber, gas).
        #[serde(default)]
        low: u16,
        /// Time between flips, in s.
        period_s: f64,
        /// Number of flips.
        times: u32,
    },
    /// The node's network link drops for `duration_s`; it reconnects after.
    Disconnect {
        /// How long the link stays down.
        duration_s: f64,
    },
    /// The node's link drops `times` times: down for `down_s`, then up for
    /// `up_s` before the next drop (a loose connector, a weak Wi-Fi cell).
    Flap {
        /// How long each drop lasts, in s.
        down_s: f64,
        /// How long the link holds between drops, in s.
        up_s: f64,
        /// Number of drops.
        times: u32,
    },
    /// The node restarts (watchdog, battery change): its link drops, its
    /// firmware starts again with nothing in RAM (outbox, latches, `seq`
    /// from 1 again) on the same sensors, and its boot counter advances in
    /// its non-volatile storage. It is back on the network after `down_s`.
    Reboot {
        /// How long the node is off the network while it starts, in s.
        #[serde(default = "default_down_s")]
        down_s: f64,
    },
}

const fn default_down_s() -> f64 {
    2.0
}

const fn default_allowed_pct() -> u8 {
    90
}
const fn default_open_s() -> f64 {
    3.0
}

/// Inputs a [`Action::Chatter`] can flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatterInput {
    /// Smoke chamber reading.
    Chamber,
    /// Gas cell reading.
    Gas,
    /// Smoke detector base switch.
    Tamper,
    /// Door contact.
    Door,
}

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not readable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or an unknown or mistyped key.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Values that parse but cannot be run; every problem found.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Scenario {
    /// Reads and validates a scenario file.
    ///
    /// # Errors
    /// [`ScenarioError`] with the file position or every invalid value.
    pub fn load(path: &std::path::Path) -> Result<Self, ScenarioError> {
        let p = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: p.clone(),
            source,
        })?;
        let mut s = Self::parse(&p, &src)?;
        if let (Some(csv), Some(dir)) = (&s.fleet.devices, path.parent()) {
            s.fleet.devices = Some(dir.join(csv));
        }
        Ok(s)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ScenarioError::Syntax`] or [`ScenarioError::Invalid`].
    pub fn parse(origin: &str, src: &str) -> Result<Self, ScenarioError> {
        let s: Self = toml::from_str(src).map_err(|e| {
            let at = e.span().map_or(0, |r| r.start);
            let (line, column) = protocol::profile::line_col(src, at);
            ScenarioError::Syntax {
                path: origin.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        s.validate().map_err(ScenarioError::Invalid)?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        if !(self.duration_s > 0.0 && self.duration_s <= 7.0 * 86_400.0) {
            errs.push(format!(
                "duration_s: must be above 0 and at most a week, got {}",
                self.duration_s
            ));
        }
        if !(10..=60_000).contains(&self.tick_ms) {
            errs.push(format!(
                "tick_ms: must be 10 to 60000, got {}",
                self.tick_ms
            ));
        }
        for (i, st) in self.steps.iter().enumerate() {
            crate::plan::check_step(i, st, &mut errs);
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests;

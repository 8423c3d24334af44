//! The device list: the gateway registry's credentials export (CSV), or a
//! generated fleet for load runs.
//!
//! # CSV columns
//! A header line is required; columns may come in any order; unknown columns
//! are ignored.
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `device` | yes | device id, `[A-Za-z0-9_-]`, at most 32 bytes |
//! | `profile` | yes | device profile name (`smoke`, `gas`, `lock`, `camera` ...) |
//! | `secret` | yes | the device's MQTT password, 8 to 64 printable ASCII characters, no spaces |
//! | `fire_zone` | no | fire zone (compartment), an identifier; empty = none |
//! | `location` | no | where the node is (`b01-f03-r02`), at most 48 bytes; empty = none |

use std::collections::HashMap;
use std::path::Path;

use protocol::{DeviceId, KindName, Name};
use rand::{Rng, SeedableRng};

use crate::provision::SECRET_LEN;

/// Longest `location` accepted, in bytes.
pub const LOCATION_LEN: usize = 48;

/// One node to flash or simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Identity, MQTT client id and username.
    pub id: DeviceId,
    /// Device profile name.
    pub profile: KindName,
    /// MQTT password.
    pub secret: String,
    /// Fire zone, if known.
    pub fire_zone: Option<Name>,
    /// Location in the site tree, if known.
    pub location: Option<String>,
}

/// Why a device list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceListError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not well-formed CSV.
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line.
        line: u64,
        /// The CSV reader's message.
        message: String,
    },
    /// A required column is not in the header.
    #[error(
        "line 1: missing required column `{0}` (the header must name device, profile and secret)"
    )]
    MissingColumn(&'static str),
    /// A field is missing or invalid.
    #[error("line {line}, column `{column}`: {message}")]
    Field {
        /// 1-based line.
        line: u64,
        /// Column name.
        column: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The same device id twice.
    #[error("line {line}, column `device`: {id} is already listed on line {first}")]
    Duplicate {
        /// 1-based line of the repeat.
        line: u64,
        /// Line of the first occurrence.
        first: u64,
        /// The id.
        id: String,
    },
}

/// Reads the device list CSV at `path`.
///
/// # Errors
/// [`DeviceListError`] naming the line and column of the first problem.
pub fn read_csv_file(path: &Path) -> Result<Vec<DeviceSpec>, DeviceListError> {
    let text = std::fs::read_to_string(path).map_err(|source| DeviceListError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_csv(&text)
}

/// Column positions in the header.
struct Columns {
    device: usize,
    profile: usize,
    secret: usize,
    fire_zone: Option<usize>,
    location: Option<usize>,
}

impl Columns {
    fn find(header: &csv::StringRecord) -> Result<Self, DeviceListError> {
        let pos = |name: &str| header.iter().position(|h| h.trim() == name);
        let need = |name: &'static str| pos(name).ok_or(DeviceListError::MissingColumn(name));
        Ok(Self {
            device: need("device")?,
            profile: need("profile")?,
            secret: need("secret")?,
            fire_zone: pos("fire_zone"),
            location: pos("location"),
        })
    }
}

/// Parses a device list from CSV text; see the module docs for the columns.
///
/// # Errors
/// [`DeviceListError`] naming the line and column of the first problem.
pub fn read_csv(text: &str) -> Result<Vec<DeviceSpec>, DeviceListError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = rdr.headers().map_err(csv_err)?.clone();
    let cols = Columns::find(&header)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map_or(0, csv::Position::line);
        let spec = row(&rec, &cols, line)?;
        if let Some(&first) = seen.get(spec.id.as_str()) {
            let id = spec.id.to_string();
            return Err(DeviceListError::Duplicate { line, first, id });
        }
        seen.insert(spec.id.to_string(), line);
        out.push(spec);
    }
    Ok(out)
}

fn csv_err(e: csv::Error) -> DeviceListError {
    let line = e.position().map_or(0, csv::Position::line);
    DeviceListError::Csv {
        line,
        message: e.to_string(),
    }
}

fn row(rec: &csv::StringRecord, cols: &Columns, line: u64) -> Result<DeviceSpec, DeviceListError> {
    let field = |column: &'static str, message: String| DeviceListError::Field {
        line,
        column,
        message,
    };
    let get = |i: usize| rec.get(i).map(str::trim).unwrap_or("");
    let opt = |i: Option<usize>| i.map(get).filter(|s| !s.is_empty());
    let id = DeviceId::new(get(cols.device)).map_err(|e| field("device", e.to_string()))?;
    let profile = KindName::new(get(cols.profile)).map_err(|e| field("profile", e.to_string()))?;
    let secret = check_secret(get(cols.secret)).map_err(|m| field("secret", m))?;
    let fire_zone = opt(cols.fire_zone)
        .map(Name::new)
        .transpose()
        .map_err(|e| field("fire_zone", e.to_string()))?;
    let location = opt(cols.location).map(str::to_owned);
    if let Some(l) = &location
        && l.len() > LOCATION_LEN
    {
        let msg = format!("is {} bytes long, the limit is {LOCATION_LEN}", l.len());
        return Err(field("location", msg));
    }
    Ok(DeviceSpec {
        id,
        profile,
        secret,
        fire_zone,
        location,
    })
}

fn check_secret(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("is empty; every device needs its own secret".into());
    }
    if !(8..=SECRET_LEN).contains(&s.len()) {
        return Err(format!(
            "is {} bytes; it must be 8 to {SECRET_LEN}",
            s.len()
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(s.to_owned())
}

/// Devices on one generated floor, and their kinds in order.
const FLOOR_MIX: [(&str, &str); 20] = {
    const S: (&str, &str) = ("smoke", "smoke");
    const D: (&str, &str) = ("door", "lock");
    const G: (&str, &str) = ("gas", "gas");
    const C: (&str, &str) = ("camera", "camera");
    [S, S, S, S, D, S, S, S, S, G, S, S, S, D, S, S, S, G, D, C]
};
/// Floors per generated building.
const FLOORS_PER_BUILDING: usize = 6;

/// A fleet of `n` nodes: per floor of 20, 14 smoke detectors, 3 doors, 2 gas
/// detectors and a camera, in 4 rooms of 5. Ids count per kind
/// (`smoke-0001`, `door-0001` ...), locations are `b01-f02-r03`, fire zones
/// `b01-f02`, secrets derive from `seed`.
pub fn generate(n: usize, seed: u64) -> Vec<DeviceSpec> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f1ee7);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    (0..n)
        .map(|i| {
            let (prefix, profile) = FLOOR_MIX[i % FLOOR_MIX.len()];
            let k = counts.entry(prefix).or_default();
            *k += 1;
            let floor = i / FLOOR_MIX.len();
            let room = (i % FLOOR_MIX.len()) / 5 + 1;
            let (b, f) = (
                floor / FLOORS_PER_BUILDING + 1,
                floor % FLOORS_PER_BUILDING + 1,
            );
            let zone = format!("b{b:02}-f{f:02}");
            DeviceSpec {
                // Ids are `[a-z]+-[0-9]+`, short enough for any n below 10^26.
                id: DeviceId::new(&format!("{prefix}-{k:04}")).expect("generated id"),
                profile: KindName::new(profile).expect("builtin profile name"),
                secret: format!("sim-{:016x}", rng.random::<u64>()),
                location: Some(format!("{zone}-r{room:02}")),
                fire_zone: Some(Name::new(&zone).expect("generated zone")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

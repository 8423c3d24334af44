//! Registering devices: `gridsense device import FILE.csv` (all or nothing)
//! and `gridsense device add`. Each device gets its own secret, written once
//! to a credentials file (mode 0600) or printed once, never logged.
//!
//! Columns: `id, profile, location, fire_zone, escape_route, installed`,
//! and the optional GB/T 26875.3 names (`gbt_system_type`, `gbt_system_addr`,
//! `gbt_component_type`, `gbt_component_addr`, see [`super::gbt`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;

use protocol::{DeviceId, Name};
use rusqlite::Connection;

use super::creds::{self, Credential, Role};
use super::csvfile::{Errors, ImportError, Table};
use super::profiles::Profiles;
use crate::store::{Store, StoreError};

const COLUMNS: &[&str] = &[
    "id",
    "profile",
    "location",
    "fire_zone",
    "escape_route",
    "installed",
    "gbt_system_type",
    "gbt_system_addr",
    "gbt_component_type",
    "gbt_component_addr",
];
const REQUIRED: &[&str] = &["id", "profile", "location"];

/// A device to register, as typed by the installer (strings, unchecked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFields {
    /// Device id (its MQTT username).
    pub id: String,
    /// Profile name.
    pub profile: String,
    /// Site node id.
    pub location: String,
    /// Fire zone; empty: the location's.
    pub fire_zone: String,
    /// `true`/`false`/`yes`/`no`/`1`/`0`; empty: the profile's default.
    pub escape_route: String,
    /// `YYYY-MM-DD`; empty: today.
    pub installed: String,
    /// The GB/T 26875.3 columns as typed (system type, system address,
    /// component type, component address); empty: defaults.
    pub gbt: [String; 4],
}

/// A checked device row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewDevice {
    id: DeviceId,
    profile: String,
    location: Name,
    fire_zone: Option<Name>,
    escape_route: bool,
    installed: String,
    gbt: super::gbt::GbtAddress,
}

/// What the checks need from the database.
struct Context<'a> {
    profiles: &'a Profiles,
    nodes: HashSet<String>,
    taken: HashSet<String>,
    today: String,
}

impl<'a> Context<'a> {
    fn load(conn: &Connection, profiles: &'a Profiles, now_ms: u64) -> Result<Self, StoreError> {
        let strings = |sql: &str| -> Result<HashSet<String>, StoreError> {
            let mut st = conn.prepare(sql)?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok(Self {
            profiles,
            nodes: strings("SELECT id FROM site_nodes")?,
            taken: strings("SELECT id FROM devices UNION SELECT username FROM credentials")?,
            today: crate::clock::date_of(now_ms),
        })
    }

    /// Checks one device; pushes every problem to `errors`.
    fn check(&self, f: &DeviceFields, line: u64, errors: &mut Errors) -> Option<NewDevice> {
        let mut ok = true;
        let mut fail = |column: &str, msg: String| {
            errors.push(line, column, msg);
            ok = false;
        };
        let id = DeviceId::new(&f.id)
            .map_err(|e| fail("id", format!("bad identifier {:?}: {e}", f.id)))
            .ok();
        if self.taken.contains(&f.id) {
            fail(
                "id",
                format!("duplicate id {}: already in the database", f.id),
            );
        }
        let profile = self.profiles.get(&f.profile);
        if profile.is_none() {
            let known: Vec<_> = self.profiles.names().collect();
            fail(
                "profile",
                format!(
                    "unknown profile {:?}; known: {}",
                    f.profile,
                    known.join(", ")
                ),
            );
        }
        let location = Name::new(&f.location)
            .ok()
            .filter(|n| self.nodes.contains(n.as_str()));
        if location.is_none() {
            fail(
                "location",
                format!("unknown site node {:?} (import the site first)", f.location),
            );
        }
        let fire_zone = if f.fire_zone.is_empty() {
            None
        } else {
            Name::new(&f.fire_zone)
                .map_err(|e| {
                    fail(
                        "fire_zone",
                        format!("bad identifier {:?}: {e}", f.fire_zone),
                    )
                })
                .ok()
        };
        let escape_route = match f.escape_route.to_ascii_lowercase().as_str() {
            "" => profile.is_some_and(|p| p.escape_route),
            "true" | "yes" | "1" => true,
            "false" | "no" | "0" => false,
            other => {
                fail(
                    "escape_route",
                    format!("{other:?} is not true/false/yes/no/1/0"),
                );
                false
            }
        };
        let installed = if f.installed.is_empty() {
            self.today.clone()
        } else {
            f.installed.clone()
        };
        if !is_date(&installed) {
            fail(
                "installed",
                format!("{installed:?} is not a date YYYY-MM-DD"),
            );
        }
        let gbt =
            super::gbt::GbtAddress::parse([&f.gbt[0], &f.gbt[1], &f.gbt[2], &f.gbt[3]], &mut fail);
        let new = NewDevice {
            gbt,
            id: id?,
            profile: f.profile.clone(),
            location: location?,
            fire_zone,
            escape_route,
            installed,
        };
        ok.then_some(new)
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
}

/// Imports devices from `path` in one transaction, generating a secret per
/// device and writing `device,profile,secret,fire_zone,location` lines to `creds_out` (created new,
/// mode 0600) before committing. Returns how many were added.
///
/// # Errors
/// [`ImportError::Invalid`] with every problem in the file (nothing written),
/// or an I/O or database error (nothing registered, the credentials file removed).
pub fn import_devices(
    store: &mut Store,
    path: &Path,
    profiles: &Profiles,
    creds_out: &Path,
    now_ms: u64,
) -> Result<usize, ImportError> {
    let table = Table::read(path, COLUMNS, REQUIRED)?;
    let ctx = Context::load(store.conn(), profiles, now_ms)?;
    let mut errors = Errors::new(&table.file);
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut devices = Vec::new();
    for (line, rec) in &table.rows {
        let get = |c: &str| table.get(rec, c).to_string();
        let fields = DeviceFields {
            id: get("id"),
            profile: get("profile"),
            location: get("location"),
            fire_zone: get("fire_zone"),
            escape_route: get("escape_route"),
            installed: get("installed"),
            gbt: super::gbt::COLUMNS.map(get),
        };
        if let Some(first) = first_line.insert(fields.id.clone(), *line) {
            errors.push(
                *line,
                "id",
                format!("duplicate id {}, first on line {first}", fields.id),
            );
        }
        if let Some(d) = ctx.check(&fields, *line, &mut errors) {
            devices.push(d);
        }
    }
    errors.finish()?;
    let secrets = secrets_for(&devices)?;
    write_creds_file(creds_out, &devices, &secrets)?;
    if let Err(e) = register(store, &devices, &secrets, now_ms) {
        let _ = std::fs::remove_file(creds_out);
        return Err(e.into());
    }
    tracing::info!(file = %table.file, added = devices.len(), creds = %creds_out.display(), "devices imported");
    Ok(devices.len())
}

/// Registers one device; returns its secret, to be shown once.
///
/// # Errors
/// [`ImportError::Invalid`] naming each bad field, or a database error.
pub fn add_device(
    store: &mut Store,
    fields: &DeviceFields,
    profiles: &Profiles,
    now_ms: u64,
) -> Result<String, ImportError> {
    let devices: Vec<_> = checked(store, fields, profiles, now_ms)?
        .into_iter()
        .collect();
    let secrets = secrets_for(&devices)?;
    register(store, &devices, &secrets, now_ms)?;
    tracing::info!(device = %fields.id, "device added");
    Ok(secrets.into_values().next().unwrap_or_default())
}

/// Checks one device as [`add_device`] does, writing nothing (the API's
/// body checks).
///
/// # Errors
/// [`ImportError::Invalid`] naming each bad field, or a database error.
pub fn check_device(
    store: &Store,
    fields: &DeviceFields,
    profiles: &Profiles,
    now_ms: u64,
) -> Result<(), ImportError> {
    checked(store, fields, profiles, now_ms).map(drop)
}

fn checked(
    store: &Store,
    fields: &DeviceFields,
    profiles: &Profiles,
    now_ms: u64,
) -> Result<Option<NewDevice>, ImportError> {
    let ctx = Context::load(store.conn(), profiles, now_ms)?;
    let mut errors = Errors::new("device add");
    let device = ctx.check(fields, 0, &mut errors);
    errors.finish()?;
    Ok(device)
}

fn secrets_for(devices: &[NewDevice]) -> Result<BTreeMap<String, String>, StoreError> {
    devices
        .iter()
        .map(|d| Ok((d.id.to_string(), creds::new_secret()?)))
        .collect()
}

/// Writes `device,profile,secret,fire_zone,location` lines: what a node
/// flasher needs (`gridsense-flash` reads this file).
fn write_creds_file(
    path: &Path,
    devices: &[NewDevice],
    secrets: &BTreeMap<String, String>,
) -> Result<(), ImportError> {
    let io = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io)?;
    let mut text = String::from("device,profile,secret,fire_zone,location\n");
    for d in devices {
        let secret = secrets.get(d.id.as_str()).map_or("", String::as_str);
        let zone = d.fire_zone.as_ref().map_or("", Name::as_str);
        text.push_str(&format!(
            "{},{},{secret},{zone},{}\n",
            d.id, d.profile, d.location
        ));
    }
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            let _ = std::fs::remove_file(path);
            io(e)
        })
}

fn register(
    store: &mut Store,
    devices: &[NewDevice],
    secrets: &BTreeMap<String, String>,
    now_ms: u64,
) -> Result<(), StoreError> {
    let tx = store.conn_mut().transaction()?;
    for d in devices {
        tx.execute(
            "INSERT INTO devices (id, profile, location, fire_zone, escape_route, installed, gbt_system_type, gbt_system_addr, gbt_component_type, gbt_component_addr) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![d.id.as_str(), &d.profile, d.location.as_str(), d.fire_zone.as_ref().map(Name::as_str), d.escape_route, &d.installed, d.gbt.system_type, d.gbt.system_addr, d.gbt.component_type, d.gbt.component_addr],
        )?;
        let secret = secrets.get(d.id.as_str()).map_or("", String::as_str);
        Credential::new(Role::Device, secret)?.insert(&tx, &d.id, now_ms)?;
    }
    tx.commit()?;
    Ok(())
}

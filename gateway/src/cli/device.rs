//! `gridsense device import|add|remove|list`: register devices (their secrets go
//! to a 0600 file or are printed once) and list them with their presence.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::db::{DbArgs, finish, import_failed, profiles};
use crate::clock::{Clock as _, SystemClock, date_of};
use crate::registry::{DeviceFields, Registry};
use crate::store::Store;

/// `gridsense device ...`
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Register devices from a CSV file; writes their secrets to a 0600 file.
    Import {
        /// The CSV file (columns in docs/site-and-devices.md).
        file: PathBuf,
        /// Where to write `device,profile,secret,fire_zone,location` lines [default: FILE with `.creds.csv`].
        #[arg(long)]
        creds_out: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Register one device; prints its secret once.
    Add {
        /// Device id (its MQTT username).
        #[arg(long)]
        id: String,
        /// Profile name (`gridsense profiles` lists them).
        #[arg(long)]
        profile: String,
        /// Site node id where it is installed.
        #[arg(long)]
        location: String,
        /// Fire zone [default: the location's].
        #[arg(long)]
        fire_zone: Option<String>,
        /// On an escape route [default: the profile's].
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        escape_route: Option<bool>,
        /// Installation date YYYY-MM-DD [default: today].
        #[arg(long)]
        installed: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove a device: its registration and credential (its history
    /// stays). The running gateway refuses it at connect within 5 s.
    Remove {
        /// Device id.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List devices with their presence.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs `device ...`.
pub fn main(cmd: DeviceCmd) -> ExitCode {
    finish(match cmd {
        DeviceCmd::Import {
            file,
            creds_out,
            db,
        } => device_import(&file, creds_out, &db),
        DeviceCmd::Add {
            id,
            profile,
            location,
            fire_zone,
            escape_route,
            installed,
            db,
        } => {
            let fields = DeviceFields {
                id,
                profile,
                location,
                fire_zone: fire_zone.unwrap_or_default(),
                escape_route: escape_route.map(|b| b.to_string()).unwrap_or_default(),
                installed: installed.unwrap_or_default(),
                gbt: Default::default(),
            };
            device_add(&fields, &db)
        }
        DeviceCmd::List { db } => device_list(&db),
        DeviceCmd::Remove { id, db } => db.open().and_then(|(mut store, _)| {
            crate::registry::remove_device(&mut store, &id, SystemClock.now_ms())
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "device {id} removed; the running gateway refuses it at connect within 5 s"
            ))
        }),
    })
}

fn device_import(file: &Path, creds_out: Option<PathBuf>, db: &DbArgs) -> Result<String, String> {
    let (mut store, dir) = db.open()?;
    let profiles = profiles(dir.as_deref())?;
    let out = creds_out.unwrap_or_else(|| file.with_extension("creds.csv"));
    let n =
        crate::registry::import_devices(&mut store, file, &profiles, &out, SystemClock.now_ms())
            .map_err(|e| import_failed(&e))?;
    Ok(format!(
        "{}: {n} devices added; their secrets are in {} (mode 0600): flash them, then delete the file",
        file.display(),
        out.display()
    ))
}

fn device_add(fields: &DeviceFields, db: &DbArgs) -> Result<String, String> {
    let (mut store, dir) = db.open()?;
    let profiles = profiles(dir.as_deref())?;
    let secret = crate::registry::add_device(&mut store, fields, &profiles, SystemClock.now_ms())
        .map_err(|e| import_failed(&e))?;
    Ok(format!(
        "device {} added\nsecret: {secret}\n(shown once; it is not stored)",
        fields.id
    ))
}

fn device_list(db: &DbArgs) -> Result<String, String> {
    let (path, _) = db.resolve()?;
    let store = Store::open_read_only(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reg = Registry::load(&store).map_err(|e| e.to_string())?;
    let presence: std::collections::HashMap<_, _> = store
        .presence_list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|p| (p.device, p.status))
        .collect();
    let mut out = format!(
        "{:<24} {:<18} {:<40} {:<8} LAST SEEN",
        "ID", "PROFILE", "LOCATION", "STATUS"
    );
    for d in reg.devices() {
        let status = presence.get(d.id.as_str()).map_or("never", |s| s.as_str());
        let seen = store.last_seen(&d.id).map_err(|e| e.to_string())?;
        let seen = seen.map_or_else(
            || "-".to_string(),
            |ms| format!("{} {}", date_of(ms), time_of(ms)),
        );
        out.push_str(&format!(
            "\n{:<24} {:<18} {:<40} {status:<8} {seen}",
            d.id.as_str(),
            d.profile.as_str(),
            d.location_label
        ));
    }
    out.push_str(&format!("\n{} devices", reg.devices().count()));
    Ok(out)
}

/// `HH:MM:SSZ` of a time in ms since the epoch.
pub(super) fn time_of(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

//! The registry's subcommands: `site import`, `device import|add|list`,
//! `creds add-integrator`. Secrets are printed to stdout or written to a
//! 0600 file, never logged.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::Write as _;

use clap::{Args, Subcommand};

use super::{DeviceFields, ImportError, Profiles, Registry};
use crate::clock::{Clock as _, SystemClock, date_of};
use crate::config::Config;
use crate::store::Store;

/// Where the database and profiles are.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// SQLite database [default: the config's store path, else gridsense.db].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Gateway configuration: supplies the database path and profiles directory.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// `gridsense site ...`
#[derive(Debug, Subcommand)]
pub enum SiteCmd {
    /// Add site nodes (buildings, units, floors, rooms, areas) from a CSV file.
    Import {
        /// The CSV file (columns in docs/site-and-devices.md).
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

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
    /// List devices with their presence.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `gridsense creds ...`
#[derive(Debug, Subcommand)]
pub enum CredsCmd {
    /// Create read-only integrator credentials; prints the secret once.
    AddIntegrator {
        /// Integrator name (its MQTT username).
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

impl DbArgs {
    /// The database path and profiles directory.
    fn resolve(&self) -> Result<(PathBuf, Option<PathBuf>), String> {
        let Some(path) = &self.config else {
            return Ok((
                self.db.clone().unwrap_or_else(|| "gridsense.db".into()),
                None,
            ));
        };
        let cfg = Config::load(path).map_err(|e| e.to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        let db = self
            .db
            .clone()
            .unwrap_or_else(|| base.join(&cfg.store.path));
        Ok((db, cfg.gateway.profiles_dir.map(|d| base.join(d))))
    }

    fn open(&self) -> Result<(Store, Option<PathBuf>), String> {
        let (db, profiles) = self.resolve()?;
        let store = Store::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
        Ok((store, profiles))
    }
}

fn profiles(dir: Option<&Path>) -> Result<Profiles, String> {
    Profiles::load(dir).map_err(|e| e.join("\n"))
}

fn import_failed(e: &ImportError) -> String {
    match e {
        ImportError::Invalid(list) => format!("{e}\n{} error(s); nothing was written", list.len()),
        _ => e.to_string(),
    }
}

/// Prints the outcome and maps it to an exit code.
fn finish(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(out) => {
            // A closed pipe (`| head`) is not an error of ours.
            let _ = writeln!(std::io::stdout(), "{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// Runs `site ...`.
pub fn site(cmd: SiteCmd) -> ExitCode {
    let SiteCmd::Import { file, db } = cmd;
    finish(db.open().and_then(|(mut store, _)| {
        let n = super::import_sites(&mut store, &file).map_err(|e| import_failed(&e))?;
        Ok(format!("{}: {n} site nodes added", file.display()))
    }))
}

/// Runs `device ...`.
pub fn device(cmd: DeviceCmd) -> ExitCode {
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
            };
            device_add(&fields, &db)
        }
        DeviceCmd::List { db } => device_list(&db),
    })
}

fn device_import(file: &Path, creds_out: Option<PathBuf>, db: &DbArgs) -> Result<String, String> {
    let (mut store, dir) = db.open()?;
    let profiles = profiles(dir.as_deref())?;
    let out = creds_out.unwrap_or_else(|| file.with_extension("creds.csv"));
    let n = super::import_devices(&mut store, file, &profiles, &out, SystemClock.now_ms())
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
    let secret = super::add_device(&mut store, fields, &profiles, SystemClock.now_ms())
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
fn time_of(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Runs `creds ...`.
pub fn creds(cmd: CredsCmd) -> ExitCode {
    let CredsCmd::AddIntegrator { name, db } = cmd;
    finish(db.open().and_then(|(mut store, _)| {
        let secret = super::add_integrator(&mut store, &name, SystemClock.now_ms())
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "integrator {name} added (read-only)\nsecret: {secret}\n(shown once; it is not stored)"
        ))
    }))
}

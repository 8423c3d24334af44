//! `gridsense creds add-integrator|rotate|admin`: read-only credentials for
//! an integrator (the secret printed once), a new secret for any user (the
//! old one refused from then on), the admin's first password into a 0600
//! file (what the Debian package's postinst runs).

use std::process::ExitCode;

use clap::Subcommand;

use super::db::{DbArgs, finish};
use crate::clock::{Clock as _, SystemClock};

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
    /// Replace the secret of a device, an integrator or `admin`; prints the
    /// new one once (or writes it to `--out`, mode 0600). The old secret is
    /// refused at connect once the running gateway reloads its registry
    /// (within 5 s).
    Rotate {
        /// The username: a device id, an integrator name or `admin`.
        username: String,
        /// Write the new secret to this file (mode 0600) instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create the admin credential if there is none; its password goes to
    /// `<store>.admin-password` (mode 0600) beside the database, never to
    /// stdout or a log.
    Admin {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs `creds ...`.
pub fn main(cmd: CredsCmd) -> ExitCode {
    finish(match cmd {
        CredsCmd::AddIntegrator { name, db } => db.open().and_then(|(mut store, _)| {
            let secret = crate::registry::add_integrator(&mut store, &name, SystemClock.now_ms())
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "integrator {name} added (read-only)\nsecret: {secret}\n(shown once; it is not stored)"
            ))
        }),
        CredsCmd::Rotate { username, out, db } => rotate(&username, out.as_deref(), &db),
        CredsCmd::Admin { db } => admin(&db),
    })
}

fn rotate(username: &str, out: Option<&std::path::Path>, db: &DbArgs) -> Result<String, String> {
    let (mut store, _) = db.open()?;
    let (role, secret) = crate::registry::rotate(&mut store, username, SystemClock.now_ms())
        .map_err(|e| e.to_string())?;
    let role = role.as_str();
    let reload = "the running gateway refuses the old one within 5 s";
    match out {
        Some(path) => {
            crate::registry::write_secret_file(path, &secret)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(format!(
                "{role} {username}: new secret in {} (mode 0600); {reload}",
                path.display()
            ))
        }
        None => Ok(format!(
            "{role} {username}: new secret: {secret}\n(shown once; it is not stored; {reload})"
        )),
    }
}

fn admin(db: &DbArgs) -> Result<String, String> {
    let (path, _) = db.resolve()?;
    let (store, _) = db.open()?;
    match crate::registry::ensure_admin_file(&store, &path)? {
        Some(file) => Ok(format!(
            "admin credential created: user `admin`, password in {} (mode 0600); read it, then delete it",
            file.display()
        )),
        None => Ok(format!(
            "{}: an admin credential exists already (`gridsense creds rotate admin` replaces it)",
            path.display()
        )),
    }
}

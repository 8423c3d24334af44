//! `gridsense creds add-integrator`: read-only credentials for an
//! integrator; the secret is printed once.

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
}

/// Runs `creds ...`.
pub fn main(cmd: CredsCmd) -> ExitCode {
    let CredsCmd::AddIntegrator { name, db } = cmd;
    finish(db.open().and_then(|(mut store, _)| {
        let secret = crate::registry::add_integrator(&mut store, &name, SystemClock.now_ms())
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "integrator {name} added (read-only)\nsecret: {secret}\n(shown once; it is not stored)"
        ))
    }))
}

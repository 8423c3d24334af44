//! `gridsense site import`: the compound's site tree from a CSV file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::db::{DbArgs, finish, import_failed};

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

/// Runs `site ...`.
pub fn main(cmd: SiteCmd) -> ExitCode {
    let SiteCmd::Import { file, db } = cmd;
    finish(db.open().and_then(|(mut store, _)| {
        let n = crate::registry::import_sites(&mut store, &file).map_err(|e| import_failed(&e))?;
        Ok(format!("{}: {n} site nodes added", file.display()))
    }))
}

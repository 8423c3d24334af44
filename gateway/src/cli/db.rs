//! What the registry's subcommands share: where the database is (`--db`
//! or `--config`), and how outcomes are printed. Secrets are printed to
//! stdout or written to a 0600 file, never logged.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::config::Config;
use crate::registry::{ImportError, Profiles};
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

impl DbArgs {
    /// The database path and profiles directory.
    pub fn resolve(&self) -> Result<(PathBuf, Option<PathBuf>), String> {
        let Some(path) = &self.config else {
            return Ok((
                self.db.clone().unwrap_or_else(|| "gridsense.db".into()),
                None,
            ));
        };
        // `Config::load` has made the file's paths relative to the file.
        let cfg = Config::load(path).map_err(|e| e.to_string())?;
        let db = self.db.clone().unwrap_or(cfg.store.path);
        Ok((db, cfg.gateway.profiles_dir))
    }

    /// Opens the database for writing, with the profiles directory.
    pub fn open(&self) -> Result<(Store, Option<PathBuf>), String> {
        let (db, profiles) = self.resolve()?;
        let store = Store::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
        Ok((store, profiles))
    }
}

/// The profiles: built-in plus those in `dir`.
pub fn profiles(dir: Option<&Path>) -> Result<Profiles, String> {
    Profiles::load(dir).map_err(|e| e.join("\n"))
}

/// How an import failure is told.
pub fn import_failed(e: &ImportError) -> String {
    match e {
        ImportError::Invalid(list) => format!("{e}\n{} error(s); nothing was written", list.len()),
        _ => e.to_string(),
    }
}

/// Prints the outcome and maps it to an exit code.
pub fn finish(r: Result<String, String>) -> ExitCode {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_config_are_relative_to_it_once() {
        let dir = tempfile::tempdir().expect("dir");
        let sub = dir.path().join("deploy");
        std::fs::create_dir(&sub).expect("mkdir");
        let path = sub.join("gw.toml");
        let src = "[gateway]\nid = \"gw01\"\nsite = \"x\"\nprofiles_dir = \"profiles\"\n\n[store]\npath = \"gw.db\"\n";
        std::fs::write(&path, src).expect("write");
        let args = DbArgs {
            db: None,
            config: Some(path),
        };
        let (db, profiles) = args.resolve().expect("resolved");
        assert_eq!(db, sub.join("gw.db"));
        assert_eq!(profiles, Some(sub.join("profiles")));
    }
}

//! The sample compound (deploy/site.csv, and deploy/devices.csv) in a real
//! SQLite store on tmpfs, built once per process, with its registry and the
//! built-in profiles; and a way back to exactly that store after an input
//! wrote to it, so every input meets the same database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gateway::registry::{Profiles, Registry, import_devices, import_sites};
use gateway::store::Store;

/// 2025-12-01T00:00:00Z, the time imports and checks run at.
pub const NOW_MS: u64 = 1_764_547_200_000;

/// The sample compound's store, registry and profiles.
pub struct Compound {
    /// A scratch directory of this process (`gridsense-fuzz-PID-NAME` on
    /// /dev/shm where there is one; scripts/fuzz.sh removes it).
    pub dir: PathBuf,
    /// The store: the migrated schema, the sample site and its devices.
    pub store: Store,
    /// The registry loaded from it.
    pub registry: Registry,
    /// The built-in profiles.
    pub profiles: Profiles,
    /// A second connection to the store's file, for [`Compound::reset`].
    side: rusqlite::Connection,
    /// Per table: its row count and highest rowid as built.
    pristine: BTreeMap<String, (i64, i64)>,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

impl Compound {
    /// Builds the compound in a fresh scratch directory named after `name`:
    /// the sample site, and its devices when `devices`.
    ///
    /// # Panics
    /// When the sample files do not import (a broken checkout).
    pub fn new(name: &str, devices: bool) -> Self {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("gridsense-fuzz-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let db = dir.join("compound.db");
        let mut store = Store::open(&db).expect("a store");
        let profiles = Profiles::builtin();
        import_sites(&mut store, &repo("deploy/site.csv")).expect("the sample site imports");
        if devices {
            import_devices(
                &mut store,
                &repo("deploy/devices.csv"),
                &profiles,
                &dir.join("devices.creds.csv"),
                NOW_MS,
            )
            .expect("the sample devices import");
        }
        let registry = Registry::load(&store).expect("the registry loads");
        let side = rusqlite::Connection::open(&db).expect("a second connection");
        let mut c = Self {
            dir,
            store,
            registry,
            profiles,
            side,
            pristine: BTreeMap::new(),
        };
        c.pristine = c.tables();
        c
    }

    fn tables(&self) -> BTreeMap<String, (i64, i64)> {
        let mut st = self
            .side
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .expect("the schema");
        let names: Vec<String> = st
            .query_map([], |r| r.get(0))
            .expect("the schema")
            .collect::<Result<_, _>>()
            .expect("table names");
        names
            .into_iter()
            .map(|t| {
                let row = self
                    .side
                    .query_row(
                        &format!("SELECT count(*), coalesce(max(rowid), 0) FROM \"{t}\""),
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .expect("a count");
                (t, row)
            })
            .collect()
    }

    /// Brings the store back to how it was built: every row added since
    /// is deleted (imports only insert; the row counts are checked).
    ///
    /// # Panics
    /// When the store cannot be brought back.
    pub fn reset(&mut self) {
        let tx = self.side.transaction().expect("a transaction");
        for (t, (_, max)) in &self.pristine {
            tx.execute(&format!("DELETE FROM \"{t}\" WHERE rowid > ?1"), [max])
                .expect("delete the new rows");
        }
        tx.commit().expect("commit the reset");
        let now = self.tables();
        for (t, (count, _)) in &self.pristine {
            assert_eq!(
                now.get(t).map(|c| c.0),
                Some(*count),
                "table {t} changed other than by inserts"
            );
        }
    }
}

impl Drop for Compound {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

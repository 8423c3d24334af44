//! The installer's CSV imports (gateway/src/registry): `gridsense site
//! import` and `gridsense device import`, against a real SQLite store that
//! already holds the sample compound (deploy/site.csv). The first byte picks
//! the import; the rest is the file. An import either writes everything or
//! nothing, and refuses with one message per problem.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gateway::registry::{ImportError, Profiles, import_devices, import_sites};
use gateway::store::Store;
use libfuzzer_sys::fuzz_target;

/// Imports that wrote rows before the store is made anew (it grows).
const WRITES_PER_STORE: u32 = 256;

struct World {
    dir: PathBuf,
    store: Store,
    profiles: Profiles,
    writes: u32,
}

impl World {
    fn new() -> Self {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("gridsense-fuzz-csv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let store = Self::fresh_store(&dir);
        Self {
            dir,
            store,
            profiles: Profiles::builtin(),
            writes: 0,
        }
    }

    fn fresh_store(dir: &Path) -> Store {
        for f in ["registry.db", "registry.db-wal", "registry.db-shm"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let mut store = Store::open(&dir.join("registry.db")).expect("a store");
        let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/site.csv");
        import_sites(&mut store, &site).expect("the sample site imports");
        store
    }

    fn run(&mut self, devices: bool, file: &[u8]) {
        let input = self.dir.join("input.csv");
        let creds = self.dir.join("input.creds.csv");
        std::fs::write(&input, file).expect("write the input");
        let _ = std::fs::remove_file(&creds);
        let result = if devices {
            import_devices(
                &mut self.store,
                &input,
                &self.profiles,
                &creds,
                1_764_547_200_000,
            )
        } else {
            import_sites(&mut self.store, &input)
        };
        match result {
            Ok(0) => {}
            Ok(_) => {
                self.writes += 1;
                if self.writes >= WRITES_PER_STORE {
                    self.store = Self::fresh_store(&self.dir);
                    self.writes = 0;
                }
            }
            Err(ImportError::Invalid(problems)) => {
                assert!(!problems.is_empty(), "refused without a reason");
                assert!(!creds.exists(), "a refused import left a credentials file");
            }
            Err(e) => panic!("import failed other than by refusing the file: {e}"),
        }
    }
}

static WORLD: Mutex<Option<World>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let mut world = WORLD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    world
        .get_or_insert_with(World::new)
        .run(which & 1 == 1, file);
});

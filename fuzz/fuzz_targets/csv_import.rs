//! The installer's CSV imports: `gridsense site import` and `gridsense
//! device import` (gateway/src/registry) against a real SQLite store that
//! holds the sample compound's site (deploy/site.csv), and `gridsense
//! access import` (gateway/src/access/import.rs) against one that also
//! holds its devices (the doors a credential opens). The first byte picks
//! the import; the rest is the file. An import either writes everything
//! or nothing, and refuses with one message per problem. Every input meets
//! the same store: one per process, brought back after each import that
//! wrote (src/compound.rs).
#![no_main]

use std::sync::Mutex;

use gateway::registry::{ImportError, import_devices, import_sites};
use gridsense_fuzz::compound::{Compound, NOW_MS};
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy)]
enum Import {
    Sites,
    Devices,
    Access,
}

fn run(c: &mut Compound, which: Import, file: &[u8]) {
    let input = c.dir.join("input.csv");
    let creds = c.dir.join("input.creds.csv");
    std::fs::write(&input, file).expect("write the input");
    let _ = std::fs::remove_file(&creds);
    let result = match which {
        Import::Sites => import_sites(&mut c.store, &input),
        Import::Devices => import_devices(&mut c.store, &input, &c.profiles, &creds, NOW_MS),
        Import::Access => gateway::access::import::import(
            &mut c.store,
            &input,
            &c.registry,
            &c.profiles,
            NOW_MS,
            "fuzz",
        ),
    };
    match result {
        Ok(0) => {}
        Ok(_) => c.reset(),
        Err(ImportError::Invalid(problems)) => {
            assert!(!problems.is_empty(), "refused without a reason");
            assert!(!creds.exists(), "a refused import left a credentials file");
        }
        Err(e) => panic!("import failed other than by refusing the file: {e}"),
    }
}

/// The site only (device imports of the sample devices succeed), and the
/// site with its devices (for access imports).
static STORES: Mutex<[Option<Compound>; 2]> = Mutex::new([None, None]);

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    let which = [Import::Sites, Import::Devices, Import::Access][usize::from(which) % 3];
    let mut stores = STORES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = match which {
        Import::Sites | Import::Devices => {
            stores[0].get_or_insert_with(|| Compound::new("csv", false))
        }
        Import::Access => stores[1].get_or_insert_with(|| Compound::new("csv-access", true)),
    };
    run(c, which, file);
});

//! The configuration file and its rules (gateway/src/config): parsed,
//! validated by the one validation `gridsense check`, `run` and a SIGHUP
//! reload use, each problem placed at its line and column, and the rules of
//! a valid file built into the running rule set. The built-in profiles the
//! validation checks against are loaded once per process (the `profile`
//! target fuzzes the profile parser): `validate::sections` is what
//! `validate::config` runs after loading them.
#![no_main]

use std::sync::{Arc, OnceLock};

use gateway::config::Config;
use gateway::config::locate::Locator;
use gateway::config::validate;
use gateway::registry::Profiles;
use gateway::rules::Rules;
use libfuzzer_sys::fuzz_target;

fn profiles() -> &'static Arc<Profiles> {
    static P: OnceLock<Arc<Profiles>> = OnceLock::new();
    P.get_or_init(|| Arc::new(Profiles::builtin()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut cfg) = Config::parse(src, "fuzz.toml") else {
        return;
    };
    // The built-in profiles only: a fuzzed file must not point the loader
    // at directories of this machine.
    cfg.gateway.profiles_dir = None;
    match validate::sections(&cfg, profiles()) {
        Ok(()) => {
            let _ = Rules::new(Arc::clone(profiles()), cfg.rules, 0);
        }
        Err(problems) => {
            let spans = Locator::new(src);
            for p in problems {
                let _ = spans.locate(&p.path);
            }
        }
    }
});

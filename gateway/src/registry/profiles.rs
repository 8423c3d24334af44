//! The device profiles a gateway knows: the built-in ones plus `*.toml`
//! files in the configured profiles directory (a file may replace a
//! built-in profile of the same name).

use std::collections::BTreeMap;
use std::path::Path;

use protocol::profile::{BUILTIN, Profile};

/// Known profiles by name.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// Profile name → profile.
    by_name: BTreeMap<String, Profile>,
}

impl Profiles {
    /// The built-in profiles, plus those in `dir` when given.
    ///
    /// # Errors
    /// Every unreadable or invalid profile file, as `FILE:LINE:COL: message`.
    pub fn load(dir: Option<&Path>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut by_name = BTreeMap::new();
        for (file, src) in BUILTIN {
            match Profile::from_toml(src) {
                Ok(p) => {
                    by_name.insert(p.name.to_string(), p);
                }
                Err(e) => errors.push(format!("built-in {file}: {e}")),
            }
        }
        if let Some(dir) = dir {
            let entries =
                std::fs::read_dir(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
            let mut files: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                match std::fs::read_to_string(&f) {
                    Err(e) => errors.push(format!("{}: {e}", f.display())),
                    Ok(src) => match Profile::from_toml(&src) {
                        Ok(p) => {
                            by_name.insert(p.name.to_string(), p);
                        }
                        Err(e) => errors.push(format!(
                            "{}:{}:{}: {}",
                            f.display(),
                            e.line,
                            e.column,
                            e.message
                        )),
                    },
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { by_name })
        } else {
            Err(errors)
        }
    }

    /// The profile with this name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.by_name.get(name)
    }

    /// Every profile name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The built-in profiles only.
    pub fn builtin() -> Self {
        Self::load(None).unwrap_or_default()
    }

    /// How many profiles there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every profile, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Profile)> {
        self.by_name.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The heartbeat interval of profile `name` in ms (60 s when unknown).
    pub fn heartbeat_ms(&self, name: &str) -> u64 {
        u64::from(self.get(name).map_or(60, |p| p.heartbeat_s)) * 1000
    }
}

/// Reads and validates one profile file.
///
/// # Errors
/// `FILE:LINE:COLUMN: message`.
pub fn load_file(f: &Path) -> Result<Profile, String> {
    let src = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
    Profile::from_toml(&src)
        .map_err(|e| format!("{}:{}:{}: {}", f.display(), e.line, e.column, e.message))
}

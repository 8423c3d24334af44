//! The one validation of a configuration. `gridsense check`, `gridsense run`
//! (before anything starts) and a reload on SIGHUP all call [`file`]; the
//! gateway's own start calls [`config`], the same checks without a file.
//! Every problem is collected, none stops the others, and each points at
//! its file, line and column (`toml::Spanned`, through [`Locator`]); they
//! are reported in file order.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use protocol::profile::Profile;

use super::Config;
use super::locate::Locator;
use crate::registry::Profiles;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The configuration file, when the configuration came from one.
    pub file: Option<String>,
    /// 1-based line and column in `file`, when known.
    pub at: Option<(usize, usize)>,
    /// What is wrong, starting with the field's path
    /// (`rules.thresholds[0]: profile `x` has no field `y``).
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.at) {
            (Some(file), Some((line, column))) => {
                write!(f, "{file}:{line}:{column}: {}", self.message)
            }
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

/// A problem of one field, before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's path (`orders.sla[0].ack_secs`); empty when the problem
    /// is not in the configuration file (a profile file, say).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldProblem {
    /// A problem of the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A stage's `path: message` line (the form every stage's `validate`
    /// returns; a line without a path is kept whole).
    fn from_line(line: String) -> Self {
        match line.split_once(": ") {
            Some((path, message)) if !path.contains(' ') || path.contains(", ") => {
                Self::new(path, message)
            }
            _ => Self::new("", line),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A configuration that passed validation, with the profiles it names.
#[derive(Debug)]
pub struct Valid {
    /// The configuration.
    pub config: Config,
    /// The built-in profiles and those of `gateway.profiles_dir`.
    pub profiles: Profiles,
}

/// Reads, parses and validates the configuration file at `path`.
///
/// # Errors
/// Every problem found, each with the file, line and column where known.
pub fn file(path: &Path) -> Result<Valid, Vec<Problem>> {
    let origin = path.display().to_string();
    let src = super::read(path).map_err(|e| vec![parse_problem(&e)])?;
    let config = Config::from_file(&src, path).map_err(|e| vec![parse_problem(&e)])?;
    match self::config(&config) {
        Ok(profiles) => Ok(Valid { config, profiles }),
        Err(problems) => {
            let spans = Locator::new(&src);
            let mut placed: Vec<Problem> = problems
                .into_iter()
                .map(|p| place(&spans, &origin, p))
                .collect();
            // In file order; those outside the file (profiles) last.
            placed.sort_by_key(|p| p.at.map_or((usize::MAX, 0), |a| a));
            Err(placed)
        }
    }
}

/// Validates a parsed configuration: its profiles load, and every stage's
/// section fits them and its own limits.
///
/// # Errors
/// Every problem found, each naming its field.
pub fn config(cfg: &Config) -> Result<Profiles, Vec<FieldProblem>> {
    let profiles = Profiles::load(cfg.gateway.profiles_dir.as_deref()).map_err(|e| {
        e.into_iter()
            .map(|m| FieldProblem::new("", m))
            .collect::<Vec<_>>()
    })?;
    sections(cfg, &profiles)?;
    Ok(profiles)
}

/// Validates every stage's section of `cfg` against `profiles` (those its
/// `profiles_dir` gives, already loaded).
///
/// # Errors
/// Every problem found, each naming its field.
pub fn sections(cfg: &Config, profiles: &Profiles) -> Result<(), Vec<FieldProblem>> {
    let mut problems = rule_problems(cfg, profiles);
    if let Some(m) = &cfg.modbus
        && let Err(e) = modbus::ModbusSource::build(m, &by_name(profiles))
    {
        problems.extend(e.problems.into_iter().map(FieldProblem::from_line));
    }
    if cfg.outbox.is_some() {
        problems.push(FieldProblem::new(
            "outbox",
            "not read: the outbox's disk bound is `[uplink.outbox] max_mib`; move `max_mib` there (without an `[uplink]` the default, 2048 MiB, applies)",
        ));
    }
    if let Some(Err(e)) = cfg.api.tls.as_ref().map(crate::api::ApiTls::server_config) {
        problems.push(FieldProblem::new("api.tls", e.to_string()));
    }
    let mut lines = Vec::new();
    lines.extend(cfg.orders.validate().err().unwrap_or_default());
    lines.extend(cfg.presence.validate().err().unwrap_or_default());
    lines.extend(cfg.mqtt.validate().err().unwrap_or_default());
    lines.extend(cfg.access.problems());
    if let Some(u) = &cfg.uplink {
        lines.extend(u.validate().err().unwrap_or_default());
    }
    if let Some(w) = &cfg.webhook {
        lines.extend(w.validate().err().unwrap_or_default());
    }
    if let Some(f) = &cfg.fire_centre {
        lines.extend(f.validate().err().unwrap_or_default());
    }
    lines.extend(
        crate::onvif::validate(&cfg.cameras)
            .err()
            .unwrap_or_default(),
    );
    lines.extend(cfg.reports.validate().err().unwrap_or_default());
    problems.extend(lines.into_iter().map(FieldProblem::from_line));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The profiles by name, as the Modbus source takes them.
pub fn by_name(profiles: &Profiles) -> HashMap<String, Profile> {
    profiles
        .iter()
        .map(|(k, p)| (k.to_string(), p.clone()))
        .collect()
}

/// Every configured threshold that does not fit the profiles.
fn rule_problems(cfg: &Config, profiles: &Profiles) -> Vec<FieldProblem> {
    cfg.rules
        .thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let e = t.validate(profiles).err()?;
            Some(FieldProblem::new(format!("rules.thresholds[{i}]"), e))
        })
        .collect()
}

/// A read or parse error, at the place it names.
fn parse_problem(e: &super::ConfigError) -> Problem {
    match e {
        super::ConfigError::Invalid {
            path,
            line,
            column,
            message,
        } => Problem {
            file: Some(path.clone()),
            at: Some((*line, *column)),
            message: message.clone(),
        },
        super::ConfigError::Read { path, source } => Problem {
            file: Some(path.clone()),
            at: None,
            message: source.to_string(),
        },
    }
}

/// Puts a field's problem at its line in the file; one not in the file
/// (a profile's) keeps its own place.
fn place(spans: &Locator<'_>, origin: &str, p: FieldProblem) -> Problem {
    if p.path.is_empty() {
        return Problem {
            file: None,
            at: None,
            message: p.message,
        };
    }
    Problem {
        file: Some(origin.to_string()),
        at: spans.locate(&p.path),
        message: p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(src: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("gw.toml");
        std::fs::write(&path, src).expect("write");
        (dir, path)
    }

    #[test]
    fn every_problem_of_every_section_is_reported_at_its_line() {
        let src = "[gateway]\nid = \"gw01\"\nsite = \"x\"\n\n\
                   [[rules.thresholds]]\nprofile = \"temp-humidity\"\nfield = \"tmp\"\nabove = 1.0\n\n\
                   [orders]\nsupervise_every_ms = 0\n\n\
                   [webhook]\nurl = \"ftp://x\"\n\n\
                   [[modbus.lines]]\ntcp = { addr = \"127.0.0.1:1502\" }\n[[modbus.lines.devices]]\ndevice = \"gas-1\"\nunit_id = 1\nprofile = \"nope\"\n";
        let (_dir, path) = write(src);
        let problems: Vec<String> = file(&path)
            .expect_err("invalid")
            .iter()
            .map(ToString::to_string)
            .collect();
        let f = path.display();
        let expect = [
            format!("{f}:5:1: rules.thresholds[0]: profile `temp-humidity` has no field `tmp`"),
            format!("{f}:11:22: orders.supervise_every_ms: must be at least 1"),
            format!("{f}:14:7: webhook.url: must start with http://"),
            format!("{f}:21:11: modbus.lines[0].devices[0].profile: "),
        ];
        assert_eq!(problems.len(), expect.len(), "{problems:#?}");
        for (p, e) in problems.iter().zip(&expect) {
            assert!(p.starts_with(e.as_str()), "{p} does not start with {e}");
        }
    }

    #[test]
    fn the_outbox_bound_is_read_under_uplink_and_the_old_section_refused_at_its_line() {
        let base = "[gateway]\nid = \"gw01\"\nsite = \"x\"\n";
        let (_dir, path) = write(&format!(
            "{base}[uplink]\nhost = \"127.0.0.1\"\n[uplink.outbox]\nmax_mib = 3\n"
        ));
        let v = file(&path).expect("valid");
        assert_eq!(v.config.outbox_max_bytes(), 3 << 20);
        let (_dir, path) = write(&format!("{base}\n[outbox]\nmax_mib = 1\n"));
        let p = file(&path).expect_err("old section");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].at.map(|a| a.0), Some(5), "{}", p[0]);
        assert!(p[0].message.contains("[uplink.outbox] max_mib"), "{}", p[0]);
        let (_dir, path) = write(base);
        assert_eq!(
            file(&path).expect("valid").config.outbox_max_bytes(),
            2048 << 20
        );
    }

    #[test]
    fn a_parse_error_is_one_problem_with_line_and_column() {
        let (_dir, path) = write("[gateway]\nid = \"gw01\"\nsite = \"x\"\ncolour = 1\n");
        let p = file(&path).expect_err("unknown key");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].at.map(|a| a.0), Some(4));
        assert!(
            p[0].to_string()
                .starts_with(&format!("{}:4:", path.display())),
            "{}",
            p[0]
        );
    }

    #[test]
    fn a_valid_file_comes_back_with_its_profiles() {
        let (_dir, path) = write("[gateway]\nid = \"gw01\"\nsite = \"x\"\n");
        let v = file(&path).expect("valid");
        assert_eq!(v.config.gateway.id.as_str(), "gw01");
        assert!(!v.profiles.is_empty());
    }

    #[test]
    fn stage_lines_keep_their_path_apart_from_their_message() {
        let p = FieldProblem::from_line(
            "uplink.username, uplink.password: give both or neither".into(),
        );
        assert_eq!(p.path, "uplink.username, uplink.password");
        let p = FieldProblem::from_line("built-in smoke.toml: bad".into());
        assert_eq!(p.path, "");
    }
}

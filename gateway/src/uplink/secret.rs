//! The uplink's MQTT password: from the configuration file, from a file
//! (`password_file`), or from a systemd credential (`password_credential`,
//! read from `$CREDENTIALS_DIRECTORY`). Read when the uplink starts; never
//! logged.

use std::path::{Path, PathBuf};

/// The environment variable systemd sets for a unit with `LoadCredential=`.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The password in the file at `path` (its first line); `key` names the
/// configuration key in errors.
///
/// # Errors
/// A line naming the key and why (missing or empty file); never the secret.
pub fn from_file(key: &str, path: &Path) -> Result<String, String> {
    read(key, path)
}

/// The systemd credential `name`, from `$CREDENTIALS_DIRECTORY`.
///
/// # Errors
/// A line naming `uplink.password_credential` and why; never the secret.
pub fn from_credential(name: &str) -> Result<String, String> {
    let path = credential_path(name, std::env::var_os(CREDENTIALS_DIRECTORY))?;
    read("uplink.password_credential", &path)
}

/// Where systemd put the credential `name`.
fn credential_path(name: &str, dir: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    if name.is_empty() || name.contains('/') {
        return Err(format!(
            "uplink.password_credential: {name:?} is not a credential name (no '/', not empty)"
        ));
    }
    let dir = dir.ok_or_else(|| {
        format!(
            "uplink.password_credential: ${CREDENTIALS_DIRECTORY} is not set (give the unit \
             LoadCredential={name}:/path/to/secret, or use uplink.password_file)"
        )
    })?;
    Ok(Path::new(&dir).join(name))
}

/// The first line of `path`, trimmed.
fn read(key: &str, path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(format!("{key}: {} is empty", path.display()));
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplink::UplinkConfig;

    fn cfg(extra: &str) -> UplinkConfig {
        toml::from_str(&format!("host = \"h\"\nusername = \"gw01\"\n{extra}")).expect("parse")
    }

    #[test]
    fn a_password_file_gives_its_first_line_and_is_validated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").expect("write");
        let c = cfg(&format!("password_file = {:?}\n", f.display().to_string()));
        assert_eq!(c.password().expect("read"), Some("s3cret".into()));
        assert!(c.validate().is_ok());
        std::fs::write(&f, "\n").expect("write");
        let e = c.validate().expect_err("empty");
        assert!(e[0].starts_with("uplink.password_file:"), "{e:?}");
        assert!(e[0].contains("is empty"), "{e:?}");
        let c = cfg("password_file = \"/nonexistent/pw\"\n");
        assert!(c.validate().expect_err("missing")[0].contains("cannot read"));
    }

    #[test]
    fn a_credential_is_read_from_the_credentials_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("uplink"), "from-systemd").expect("write");
        let p = credential_path("uplink", Some(dir.path().into())).expect("path");
        assert_eq!(read("k", &p).expect("read"), "from-systemd");
        let e = credential_path("uplink", None).expect_err("no directory");
        assert!(e.contains("LoadCredential=uplink:"), "{e}");
        assert!(credential_path("../x", Some(dir.path().into())).is_err());
    }

    #[test]
    fn two_sources_or_a_source_without_username_are_refused() {
        let c = cfg("password = \"a\"\npassword_file = \"b\"\n");
        assert!(c.validate().expect_err("two")[0].contains("give one of them"));
        let c: UplinkConfig =
            toml::from_str("host = \"h\"\npassword_credential = \"x\"\n").expect("parse");
        assert!(c.validate().expect_err("no username")[0].contains("give both"));
    }
}

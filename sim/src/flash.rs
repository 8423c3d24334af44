//! `gridsense-flash`: one provisioning blob per device in the list, and
//! reading a blob back.

use std::path::{Path, PathBuf};

use crate::devices::DeviceSpec;
use crate::provision::{BlobError, FORMAT_VERSION, GATEWAY_LEN, MAX_BLOB_LEN, ProvisionBlob};

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    /// The gateway address is not `host:port`.
    #[error("--gateway {addr:?}: {why}")]
    Gateway {
        /// What was given.
        addr: String,
        /// What is wrong.
        why: String,
    },
    /// The heartbeat interval is out of range.
    #[error("--heartbeat-s {0}: must be 1 to 86400 seconds")]
    Heartbeat(u32),
    /// A field does not fit its blob capacity.
    #[error("device {device}: {field} does not fit the blob ({len} bytes, limit {max})")]
    TooLong {
        /// The device.
        device: String,
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The capacity.
        max: usize,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A blob read back is not valid.
    #[error("{path}: {source}")]
    Blob {
        /// The file.
        path: PathBuf,
        /// Why.
        source: BlobError,
    },
}

/// The heartbeat interval of a built-in profile, in seconds (60 if unknown).
pub fn profile_heartbeat_s(profile: &str) -> u32 {
    protocol::profile::BUILTIN
        .iter()
        .filter_map(|(_, src)| protocol::profile::Profile::from_toml(src).ok())
        .find(|p| p.name.as_str() == profile)
        .map_or(60, |p| p.heartbeat_s)
}

/// Checks a `host:port` gateway address (`[v6]:port` for IPv6 literals).
///
/// # Errors
/// [`FlashError::Gateway`] saying what is wrong.
pub fn check_gateway(addr: &str) -> Result<(), FlashError> {
    let bad = |why: &str| FlashError::Gateway {
        addr: addr.to_owned(),
        why: why.to_owned(),
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port, e.g. 192.168.1.10:1883"))?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad("the port must be 1 to 65535")),
    }
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(bad("the host is empty or holds spaces or '/'"));
    }
    if addr.len() > GATEWAY_LEN {
        return Err(bad(&format!("longer than {GATEWAY_LEN} bytes")));
    }
    Ok(())
}

fn fit<const N: usize>(
    device: &str,
    field: &'static str,
    s: &str,
) -> Result<heapless::String<N>, FlashError> {
    heapless::String::try_from(s).map_err(|()| FlashError::TooLong {
        device: device.to_owned(),
        field,
        len: s.len(),
        max: N,
    })
}

/// The blob of one device: its own identity and secret, nothing of any other.
///
/// # Errors
/// [`FlashError::TooLong`] if a field exceeds its capacity.
pub fn blob_for(
    spec: &DeviceSpec,
    gateway: &str,
    heartbeat_s: u32,
) -> Result<ProvisionBlob, FlashError> {
    let id = spec.id.as_str();
    Ok(ProvisionBlob {
        version: FORMAT_VERSION,
        device: fit(id, "device", id)?,
        profile: fit(id, "profile", spec.profile.as_str())?,
        secret: fit(id, "secret", &spec.secret)?,
        gateway: fit(id, "gateway", gateway)?,
        fire_zone: spec
            .fire_zone
            .as_ref()
            .map(|z| fit(id, "fire_zone", z.as_str()))
            .transpose()?,
        heartbeat_s,
    })
}

/// Writes `OUT_DIR/{device}.bin` for every device; returns the paths.
///
/// Every address and interval is checked before the first file is written.
/// `heartbeat_s` overrides each profile's own interval.
///
/// # Errors
/// The first [`FlashError`].
pub fn flash_all(
    devices: &[DeviceSpec],
    gateway: &str,
    heartbeat_s: Option<u32>,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, FlashError> {
    check_gateway(gateway)?;
    if let Some(h) = heartbeat_s.filter(|h| !(1..=86_400).contains(h)) {
        return Err(FlashError::Heartbeat(h));
    }
    let blobs = devices
        .iter()
        .map(|d| {
            let hb = heartbeat_s.unwrap_or_else(|| profile_heartbeat_s(d.profile.as_str()));
            blob_for(d, gateway, hb)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| FlashError::Io { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut paths = Vec::with_capacity(blobs.len());
    for blob in &blobs {
        let mut buf = [0u8; MAX_BLOB_LEN];
        let path = out_dir.join(format!("{}.bin", blob.device));
        let n = blob.encode(&mut buf).map_err(|source| FlashError::Blob {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, &buf[..n]).map_err(io(&path))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Reads and checks one blob file.
///
/// # Errors
/// [`FlashError::Io`] or [`FlashError::Blob`].
pub fn verify(path: &Path) -> Result<ProvisionBlob, FlashError> {
    let bytes = std::fs::read(path).map_err(|source| FlashError::Io {
        path: path.to_owned(),
        source,
    })?;
    ProvisionBlob::decode(&bytes).map_err(|source| FlashError::Blob {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::read_csv;

    const CSV: &str = "device,profile,secret,fire_zone\n\
        smoke-1,smoke,alpha-secret-111,b01-f01\n\
        gas-1,gas,bravo-secret-222,\n\
        lock-1,lock,charlie-secret-333,b01-f01\n";

    fn out_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gs-flash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_blob_never_holds_another_nodes_secret() {
        let devices = read_csv(CSV).unwrap();
        let dir = out_dir("secrets");
        let paths = flash_all(&devices, "10.0.0.2:1883", None, &dir).unwrap();
        assert_eq!(paths.len(), 3);
        for (d, path) in devices.iter().zip(&paths) {
            let bytes = std::fs::read(path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for other in devices.iter().filter(|o| o.id != d.id) {
                assert!(!text.contains(&other.secret), "{path:?} holds {}", other.id);
            }
            let blob = verify(path).unwrap();
            assert_eq!(
                (blob.device.as_str(), blob.secret.as_str()),
                (d.id.as_str(), d.secret.as_str())
            );
        }
        assert_eq!(verify(&paths[0]).unwrap().heartbeat_s, 60, "smoke profile");
        assert_eq!(verify(&paths[1]).unwrap().fire_zone, None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_gateway_addresses_and_heartbeats_are_refused_before_writing() {
        let devices = read_csv(CSV).unwrap();
        let dir = out_dir("bad");
        for addr in [
            "gw.local",
            "gw.local:0",
            ":1883",
            "gw local:1883",
            "gw:http",
        ] {
            let e = flash_all(&devices, addr, None, &dir).expect_err(addr);
            assert!(matches!(e, FlashError::Gateway { .. }), "{addr}: {e}");
        }
        let e = flash_all(&devices, "gw:1883", Some(0), &dir).expect_err("0 s");
        assert!(matches!(e, FlashError::Heartbeat(0)));
        assert!(!dir.exists(), "nothing written");
        assert!(check_gateway("[::1]:1883").is_ok());
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let dir = out_dir("corrupt");
        let devices = read_csv(CSV).unwrap();
        let paths = flash_all(&devices, "gw:1883", Some(30), &dir).unwrap();
        let mut bytes = std::fs::read(&paths[0]).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&paths[0], bytes).unwrap();
        let e = verify(&paths[0]).expect_err("corrupt");
        assert!(
            e.to_string().contains("smoke-1.bin") && e.to_string().contains("CRC"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

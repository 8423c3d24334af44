//! Which credentials open which door: each door's list, computed from the
//! credentials and their grants (pure; the stage stores and syncs it).
//!
//! A grant opens a door when its target is the door itself, the site node
//! the door is installed in, or any node above it (its unit, building, the
//! car park area). A credential with several grants at one door gets the
//! least restrictive: no window if any grant has none, else the first
//! grant's window. Revoked credentials and passes past their period stay on
//! the list, marked, for `tombstone_days`, so the door refuses them by name
//! (`revoked`, `expired`) instead of `unknown`; after that they leave it.

use std::sync::Arc;

use protocol::access::{CredId, Entry};

use super::model::Credential;
use crate::registry::{DeviceInfo, Profiles, Registry};

/// A door that takes a synced list: its device and its list capacity.
#[derive(Debug, Clone)]
pub struct Door {
    /// The device.
    pub info: Arc<DeviceInfo>,
    /// Most entries it holds (its profile's `[access] capacity`).
    pub capacity: u32,
}

/// Every device whose profile has an `[access]` section.
pub fn doors(reg: &Registry, profiles: &Profiles) -> Vec<Door> {
    reg.devices()
        .filter_map(|d| {
            let caps = profiles.get(d.profile.as_str())?.access.as_ref()?;
            Some(Door {
                info: d.clone(),
                capacity: caps.capacity,
            })
        })
        .collect()
}

/// Whether a grant on `target` covers `door`.
pub fn covers(target: &str, door: &DeviceInfo) -> bool {
    target == door.id.as_str()
        || target == door.location.as_str()
        || door.ancestors.iter().any(|a| a.as_str() == target)
}

/// The list for `door` at `now_s`, sorted by kind and id.
pub fn compute(
    creds: &[Credential],
    door: &DeviceInfo,
    now_s: u64,
    tombstone_s: u64,
) -> Vec<Entry> {
    let mut out: Vec<Entry> = creds
        .iter()
        .filter_map(|c| entry(c, door, now_s, tombstone_s))
        .collect();
    out.sort_by(|a, b| (a.kind, a.id.as_str()).cmp(&(b.kind, b.id.as_str())));
    out
}

fn entry(c: &Credential, door: &DeviceInfo, now_s: u64, tombstone_s: u64) -> Option<Entry> {
    let mut grants = c.grants.iter().filter(|g| covers(&g.target, door));
    let first = grants.next()?;
    let open_all_day = first.window.is_none() || grants.any(|g| g.window.is_none());
    let revoked = c.revoked_ms.map(|ms| ms / 1_000);
    if revoked.is_some_and(|r| r + tombstone_s < now_s) {
        return None;
    }
    if c.valid_until
        .is_some_and(|u| u64::from(u) + tombstone_s < now_s)
    {
        return None;
    }
    Some(Entry {
        id: CredId::new(&c.id).ok()?,
        kind: c.kind,
        from: c.valid_from,
        until: c.valid_until,
        win: if open_all_day { None } else { first.window },
        revoked: revoked.is_some(),
    })
}

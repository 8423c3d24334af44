//! [`Registry`]: an immutable in-memory snapshot of the site tree, the
//! devices and the credentials, read once for the hot path.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use protocol::{DeviceId, GridPath, KindName, Name};

use super::creds::{Credential, Role};
use super::site::{self, SiteNode};
use crate::store::{Store, StoreError};

/// A registered device with its place resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's id, also its MQTT username.
    pub id: DeviceId,
    /// Its profile (what kind of device it is).
    pub profile: KindName,
    /// The site node it is installed in.
    pub location: Name,
    /// The site nodes enclosing that node, nearest first (`b3-u2-f7`,
    /// `b3-u2`, `b3`): what a maintenance window on a building or floor covers.
    /// Shared by the devices of one node (as are the label and the grid
    /// path): a compound has thousands of devices and a few hundred places.
    pub ancestors: Arc<[Name]>,
    /// That node's names from the top: `Building 3 / Unit 2 / Floor 7 / Room 702`.
    pub location_label: Arc<str>,
    /// The grid cell responsible for it.
    pub grid: Arc<GridPath>,
    /// Its fire zone: its own, or its location's (own or inherited).
    pub fire_zone: Option<Name>,
    /// Whether it is on an escape route (locks released in a fire).
    pub escape_route: bool,
    /// Installation date (`YYYY-MM-DD`).
    pub installed: String,
    /// Its GB/T 26875.3 names, when the device list gives them.
    pub gbt: Option<super::GbtAddress>,
}

/// What the devices of one site node share.
#[derive(Clone)]
struct Place {
    ancestors: Arc<[Name]>,
    label: Arc<str>,
    grid: Arc<GridPath>,
}

/// The registry as loaded; reload to see changes.
#[derive(Debug, Default)]
pub struct Registry {
    /// Site nodes by id.
    nodes: BTreeMap<String, SiteNode>,
    /// Devices by id.
    devices: BTreeMap<String, Arc<DeviceInfo>>,
    /// Devices by fire zone.
    zones: HashMap<String, Vec<Arc<DeviceInfo>>>,
    /// Credentials by username.
    creds: HashMap<String, Credential>,
    /// Compared against when the username is unknown, so a miss costs as
    /// much as a wrong password.
    decoy: Option<Credential>,
    /// The store's registry change counter when this snapshot was read
    /// ([`stored_version`]); `None` when the store has none.
    version: Option<i64>,
}

impl Registry {
    /// Reads the site tree, devices and credentials.
    ///
    /// # Errors
    /// SQLite errors; [`StoreError::Invalid`] when a stored row makes no sense.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        // Read first: a change committed while the tables are read moves
        // the counter past this value, and the next check reloads.
        let version = stored_version(store);
        let rows = site::load_rows(store.conn())?;
        let (nodes, errors) = site::resolve_all(&rows);
        if let Some(e) = errors.first() {
            return Err(StoreError::Invalid(format!(
                "site node {}: {}: {}",
                e.at, e.column, e.message
            )));
        }
        let mut reg = Self {
            nodes: nodes.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            decoy: Credential::new(Role::Device, "decoy").ok(),
            version,
            ..Self::default()
        };
        reg.load_devices(store)?;
        reg.load_creds(store)?;
        Ok(reg)
    }

    fn load_devices(&mut self, store: &Store) -> Result<(), StoreError> {
        let mut st = store.conn().prepare(
            "SELECT id, profile, location, fire_zone, escape_route, installed, gbt_system_type, gbt_system_addr, gbt_component_type, gbt_component_addr FROM devices ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, String>(5)?,
                super::GbtAddress {
                    system_type: r.get(6)?,
                    system_addr: r.get(7)?,
                    component_type: r.get(8)?,
                    component_addr: r.get(9)?,
                },
            ))
        })?;
        // What the devices of one site node share, made once per node.
        let mut places: HashMap<String, Place> = HashMap::new();
        for row in rows {
            let (id, profile, location, zone, escape_route, installed, gbt) = row?;
            let bad = |what: &str| StoreError::Invalid(format!("device {id}: {what}"));
            let node = self
                .nodes
                .get(location.as_str())
                .ok_or_else(|| bad("unknown location"))?;
            let fire_zone = match zone {
                Some(z) => Some(Name::new(&z).map_err(|_| bad("bad fire zone"))?),
                None => node.fire_zone.clone(),
            };
            let place = match places.get(location.as_str()) {
                Some(p) => p.clone(),
                None => {
                    let p = Place {
                        ancestors: self.ancestors(node).into(),
                        label: node.label.as_str().into(),
                        grid: Arc::new(node.grid.clone()),
                    };
                    places.insert(location.clone(), p.clone());
                    p
                }
            };
            let info = Arc::new(DeviceInfo {
                id: DeviceId::new(&id).map_err(|_| bad("bad id"))?,
                profile: KindName::new(&profile).map_err(|_| bad("bad profile"))?,
                location: node.id.clone(),
                ancestors: place.ancestors,
                location_label: place.label,
                grid: place.grid,
                fire_zone,
                escape_route,
                installed,
                gbt: gbt.is_set().then_some(gbt),
            });
            if let Some(z) = &info.fire_zone {
                self.zones
                    .entry(z.to_string())
                    .or_default()
                    .push(info.clone());
            }
            self.devices.insert(id, info);
        }
        Ok(())
    }

    /// The nodes enclosing `node`, nearest first (the tree is resolved, so
    /// it has no cycle; the bound is a guard all the same).
    fn ancestors(&self, node: &SiteNode) -> Vec<Name> {
        let mut out = Vec::new();
        let mut at = node;
        while let Some(parent) = at.parent.as_ref().and_then(|p| self.nodes.get(p.as_str())) {
            if out.len() > self.nodes.len() {
                break;
            }
            out.push(parent.id.clone());
            at = parent;
        }
        out
    }

    fn load_creds(&mut self, store: &Store) -> Result<(), StoreError> {
        let mut st = store
            .conn()
            .prepare("SELECT username, role, salt, hash FROM credentials")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })?;
        for row in rows {
            let (user, role, salt, hash) = row?;
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Invalid(format!("credential {user}: role {role:?}")))?;
            self.creds.insert(user, Credential { role, salt, hash });
        }
        Ok(())
    }

    /// The registry change counter this snapshot was read at.
    pub fn version(&self) -> Option<i64> {
        self.version
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&Arc<DeviceInfo>> {
        self.devices.get(id)
    }

    /// Every device, by id.
    pub fn devices(&self) -> impl Iterator<Item = &Arc<DeviceInfo>> {
        self.devices.values()
    }

    /// Devices in a fire zone.
    pub fn in_fire_zone(&self, zone: &str) -> impl Iterator<Item = &Arc<DeviceInfo>> {
        self.zones.get(zone).into_iter().flatten()
    }

    /// The building a device is in: the nearest ancestor of its location
    /// (itself included) at the building level.
    pub fn building_of(&self, device: &str) -> Option<Name> {
        let mut node = self
            .nodes
            .get(self.devices.get(device)?.location.as_str())?;
        for _ in 0..16 {
            if node.level == super::Level::Building {
                return Some(node.id.clone());
            }
            node = self.nodes.get(node.parent.as_ref()?.as_str())?;
        }
        None
    }

    /// The site node with this id.
    pub fn site_node(&self, id: &str) -> Option<&SiteNode> {
        self.nodes.get(id)
    }

    /// Every site node, by id.
    pub fn site_nodes(&self) -> impl Iterator<Item = &SiteNode> {
        self.nodes.values()
    }

    /// The role of `username` when `password` is its secret. The hash is
    /// compared in constant time, and an unknown username costs the same
    /// hash as a known one.
    pub fn verify(&self, username: &str, password: &str) -> Option<Role> {
        match self.creds.get(username) {
            Some(c) => c.matches(password).then_some(c.role),
            None => {
                if let Some(d) = &self.decoy {
                    let _ = d.matches(password);
                }
                None
            }
        }
    }
}

/// The store's registry change counter (migration 13: bumped by triggers on
/// every write to site nodes, devices and credentials); `None` when the
/// store has none or it cannot be read (then every check reloads).
pub(crate) fn stored_version(store: &Store) -> Option<i64> {
    store
        .conn()
        .query_row("SELECT n FROM registry_version WHERE id = 1", [], |r| {
            r.get(0)
        })
        .ok()
}

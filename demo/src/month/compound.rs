//! The simulated month's compound: buildings, floors and rooms in grid
//! cells, a fleet of nodes on them, the gateway's configuration, and the
//! registry (site, devices, credentials, an API user for the guard room)
//! written into the gateway's database before it first starts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gateway::auth::{hash_password, new_token, token_hash};
use gateway::registry::{self, Profiles};
use gateway::store::{AuthWrite, Store, UserRow};

/// The compound's site id.
pub const SITE: &str = "month-garden";
/// The gateway's id.
pub const GATEWAY: &str = "gw01";
/// Nodes per floor: 14 smoke detectors, 3 escape doors, 2 gas detectors, a camera.
pub const PER_FLOOR: usize = 20;

/// One node of the fleet as the month planner sees it.
#[derive(Debug, Clone)]
pub struct Node {
    /// Device id.
    pub id: String,
    /// Profile (`smoke`, `lock`, `gas`, `camera`).
    pub profile: &'static str,
    /// Building, 0-based.
    pub building: usize,
    /// Floor in its building, 0-based.
    pub floor: usize,
    /// Room id (site node).
    pub room: String,
    /// Fire zone (its floor).
    pub zone: String,
}

/// The compound's layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Every node, in fleet order.
    pub nodes: Vec<Node>,
    /// Grid cell of each building.
    pub cells: Vec<String>,
    /// Building ids.
    pub buildings: Vec<String>,
    /// Floors per building.
    pub floors: Vec<usize>,
}

fn profile_at(i: usize) -> &'static str {
    match i {
        0..14 => "smoke",
        14..17 => "lock",
        17..19 => "gas",
        _ => "camera",
    }
}

/// `nodes` nodes over `buildings` buildings (floors shared out evenly, 20
/// nodes a floor, rooms of 5) and `cells` grid cells (consecutive buildings
/// share a cell).
pub fn layout(nodes: usize, buildings: usize, cells: usize) -> Layout {
    let buildings = buildings.max(1);
    let cells = cells.clamp(1, buildings);
    let total_floors = nodes.div_ceil(PER_FLOOR).max(1);
    let floors: Vec<usize> = (0..buildings)
        .map(|b| total_floors / buildings + usize::from(b < total_floors % buildings))
        .collect();
    let bid = |b: usize| format!("b{:02}", b + 1);
    let mut out = Vec::with_capacity(nodes);
    'all: for f in 0..floors.iter().copied().max().unwrap_or(0) {
        for (b, &nf) in floors.iter().enumerate() {
            if f >= nf {
                continue;
            }
            for i in 0..PER_FLOOR {
                if out.len() == nodes {
                    break 'all;
                }
                let profile = profile_at(i);
                let zone = format!("{}-f{:02}", bid(b), f + 1);
                out.push(Node {
                    id: format!("{profile}-{:02}{:02}{:02}", b + 1, f + 1, i + 1),
                    profile,
                    building: b,
                    floor: f,
                    room: format!("{zone}-r{:02}", i / 5 + 1),
                    zone,
                });
            }
        }
    }
    out.sort_by_key(|n| (n.building, n.floor, n.id.clone()));
    Layout {
        nodes: out,
        cells: (0..buildings)
            .map(|b| format!("month-g{:02}", b * cells / buildings + 1))
            .collect(),
        buildings: (0..buildings).map(bid).collect(),
        floors,
    }
}

impl Layout {
    /// The site CSV (`gridsense site import`).
    pub fn site_csv(&self) -> String {
        let mut s =
            String::from("id,parent,level,name,city,district,street,community,cell,fire_zone\n");
        for (b, id) in self.buildings.iter().enumerate() {
            let _ = writeln!(
                s,
                "{id},,building,Building {},foshan,chancheng,zumiao,month,{},",
                b + 1,
                self.cells[b]
            );
            for f in 0..self.floors[b] {
                let fid = format!("{id}-f{:02}", f + 1);
                let _ = writeln!(s, "{fid},{id},floor,Floor {},,,,,,{fid}", f + 1);
                for r in 0..PER_FLOOR / 5 {
                    let _ = writeln!(
                        s,
                        "{fid}-r{:02},{fid},room,Room {}{:02},,,,,,",
                        r + 1,
                        f + 1,
                        r + 1
                    );
                }
            }
        }
        s
    }

    /// The device CSV (`gridsense device import`).
    pub fn devices_csv(&self) -> String {
        let mut s = String::from("id,profile,location,fire_zone,escape_route,installed\n");
        for n in &self.nodes {
            let _ = writeln!(s, "{},{},{},,,2025-03-01", n.id, n.profile, n.room);
        }
        s
    }

    /// The grid cell of a node.
    pub fn cell_of(&self, n: &Node) -> &str {
        &self.cells[n.building]
    }
}

/// Where the run keeps its files.
#[derive(Debug, Clone)]
pub struct Files {
    /// The output directory.
    pub dir: PathBuf,
    /// The gateway's configuration.
    pub config: PathBuf,
    /// The gateway's database.
    pub db: PathBuf,
    /// The nodes' credentials export.
    pub creds: PathBuf,
    /// The virtual clock file.
    pub clock: PathBuf,
    /// The gateway's log.
    pub log: PathBuf,
}

impl Files {
    /// The files under `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            config: dir.join("gridsense.toml"),
            db: dir.join("gridsense.db"),
            creds: dir.join("devices.creds.csv"),
            clock: dir.join("clock"),
            log: dir.join("gateway.log"),
        }
    }
}

/// Ports the gateway listens on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// MQTT (the nodes).
    pub mqtt: u16,
    /// HTTP API.
    pub api: u16,
    /// The uplink's way to the district (the outage proxy).
    pub uplink: u16,
}

/// The built-in profiles of the simulated firmware, as files.
const PROFILES: [(&str, &str); 4] = [
    (
        "smoke",
        include_str!("../../../protocol/profiles/smoke.toml"),
    ),
    ("lock", include_str!("../../../protocol/profiles/lock.toml")),
    ("gas", include_str!("../../../protocol/profiles/gas.toml")),
    (
        "camera",
        include_str!("../../../protocol/profiles/camera.toml"),
    ),
];

/// Writes the profiles of the fleet's kinds into `dir` with the month's
/// heartbeat interval (the gateway supervises each device's heartbeat by
/// its profile's interval).
fn write_profiles(dir: &Path, heartbeat_s: u32) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, src) in PROFILES {
        let text: String = src
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("heartbeat_s") {
                    format!("heartbeat_s = {heartbeat_s}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(dir.join(format!("{name}.toml")), text).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes the configuration and the registry; returns the guard room's API token.
///
/// # Errors
/// A message naming what failed.
pub fn write(
    files: &Files,
    layout: &Layout,
    ports: Ports,
    heartbeat_s: u32,
    now: u64,
) -> Result<String, String> {
    for f in [
        "gridsense.db",
        "gridsense.db-wal",
        "gridsense.db-shm",
        "devices.creds.csv",
    ] {
        let _ = std::fs::remove_file(files.dir.join(f));
    }
    let profiles_dir = files.dir.join("profiles");
    write_profiles(&profiles_dir, heartbeat_s)?;
    let text = format!(
        "[gateway]\nid = \"{GATEWAY}\"\nsite = \"{SITE}\"\nprofiles_dir = \"{}\"\n\
         [mqtt]\nlisten = \"127.0.0.1:{}\"\nmax_connections = 5000\n\
         [store]\npath = \"{}\"\n\
         [api]\nlisten = \"127.0.0.1:{}\"\nreports_per_h = 1000\n\
         [alarms]\nconfirm_timeout_s = 120\n\
         [orders]\nsupervise_every_ms = 20\n\
         [uplink]\nhost = \"127.0.0.1\"\nport = {}\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\nresend_after_ms = 5000\n",
        profiles_dir.display(),
        ports.mqtt,
        files.db.display(),
        ports.api,
        ports.uplink
    );
    std::fs::write(&files.config, text).map_err(|e| format!("{}: {e}", files.config.display()))?;
    let (site, devices) = (files.dir.join("site.csv"), files.dir.join("devices.csv"));
    std::fs::write(&site, layout.site_csv()).map_err(|e| e.to_string())?;
    std::fs::write(&devices, layout.devices_csv()).map_err(|e| e.to_string())?;
    let mut store = Store::open(&files.db).map_err(|e| e.to_string())?;
    registry::import_sites(&mut store, &site).map_err(|e| format!("site: {e}"))?;
    let profiles = Profiles::load(Some(&profiles_dir)).map_err(|e| e.join("; "))?;
    registry::import_devices(&mut store, &devices, &profiles, &files.creds, now)
        .map_err(|e| format!("devices: {e}"))?;
    let hash = hash_password("guard-room-month").map_err(|e| e.to_string())?;
    store
        .write_auth(&AuthWrite::User {
            user: UserRow {
                name: "guard".into(),
                role: "operator".into(),
                hash,
                created_ms: now,
                disabled: false,
            },
            by: "simulate".into(),
        })
        .map_err(|e| e.to_string())?;
    let (id, token) = new_token().map_err(|e| e.to_string())?;
    store
        .write_auth(&AuthWrite::Token {
            id,
            user: "guard".into(),
            hash: token_hash(&token),
            at: now,
            by: "simulate".into(),
        })
        .map_err(|e| e.to_string())?;
    Ok(token)
}

/// A free port on the loopback (bound, then let go).
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_nodes_in_six_buildings_and_four_cells() {
        let l = layout(1000, 6, 4);
        assert_eq!(l.nodes.len(), 1000);
        assert_eq!(l.floors.iter().sum::<usize>(), 50);
        let mut cells = l.cells.clone();
        cells.dedup();
        assert_eq!(cells.len(), 4);
        let mut ids: Vec<&str> = l.nodes.iter().map(|n| n.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1000, "ids are unique");
        assert!(l.site_csv().lines().count() > 6 + 50);
    }
}

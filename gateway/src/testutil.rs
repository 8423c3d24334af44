//! Builders shared by unit tests.

use std::sync::Arc;

use protocol::{DeviceId, GridPath, Ident, Name};

use crate::registry::DeviceInfo;

/// A name that must be valid.
pub(crate) fn name(s: &str) -> Name {
    Ident::new(s).expect("name")
}

/// A device in building 1 of grid cell g07.
pub(crate) fn device(id: &str, profile: &str, room: &str, zone: Option<&str>) -> Arc<DeviceInfo> {
    Arc::new(DeviceInfo {
        id: DeviceId::new(id).expect("id"),
        profile: Ident::new(profile).expect("profile"),
        location: name(room),
        ancestors: vec![name("b1")].into(),
        location_label: format!("Building 1 / {room}").into(),
        grid: Arc::new(GridPath {
            city: name("foshan"),
            district: name("chancheng"),
            street: name("zumiao"),
            community: name("lianhua"),
            cell: name("g07"),
        }),
        fire_zone: zone.map(name),
        escape_route: profile == "lock",
        installed: "2026-11-01".into(),
        gbt: None,
    })
}

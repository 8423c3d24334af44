//! What the centre is told: committed alarm changes of fire facilities
//! become component states (type 2), fire first; the transmission
//! device's own state (type 21) sums them up. Pure: no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use protocol::feed::{AlarmFeed, AlarmState};
use protocol::gbt26875::TimeTag;
use protocol::gbt26875::unit::{self, Object, component, device, encode_unit};
use protocol::{AlarmKind, DeviceId};

use std::sync::Arc;

use crate::registry::DeviceInfo;

/// A device as the centre knows it: GB/T system and component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// System type (1: fire alarm system).
    pub system_type: u8,
    /// System address.
    pub system_addr: u8,
    /// Component type (40: smoke detector …).
    pub component_type: u8,
    /// Component address.
    pub component_addr: u32,
}

/// The GB/T component type of a profile (table 6), 0 (general) when none fits.
fn component_type(profile: &str) -> u8 {
    match profile {
        "smoke" => 40,
        "heat" => 30,
        "manual-call-point" => 23,
        "gas" | "gas-modbus" => 11,
        "fire-panel-modbus" => 1,
        _ => 0,
    }
}

/// A stable 32-bit component address from the device id (FNV-1a), for
/// devices without one in the device list.
fn hashed_addr(id: &str) -> u32 {
    id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Whether the centre hears about alarms of this kind: fire, and the
/// faults of fire-facility devices.
fn reported(kind: AlarmKind, profile: &str) -> bool {
    kind == AlarmKind::Fire
        || (kind.is_fault() || kind == AlarmKind::Tamper) && component_type(profile) != 0
}

/// A data unit to queue: its class (0 fire) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// 0: fire; 1: anything else.
    pub class: u8,
    /// The application data unit.
    pub data: Vec<u8>,
}

/// Turns alarm changes into data units, remembering what the centre was
/// told so that each device's change is sent once.
#[derive(Debug, Default)]
pub struct Frames {
    /// Per alarm: the devices reported in it.
    told: HashMap<String, HashSet<DeviceId>>,
    /// Components not in their normal state now, and their status bits.
    open: BTreeMap<String, (Component, u16, String)>,
    /// Fallback system type and address.
    system: (u8, u8),
}

impl Frames {
    /// Frames for a gateway whose fire alarm system is `system` (type, address).
    pub fn new(system: (u8, u8)) -> Self {
        Self {
            system,
            ..Self::default()
        }
    }

    /// The component a device is, from the device list or by default.
    pub fn component(&self, dev: &DeviceInfo) -> Component {
        let g = dev.gbt.unwrap_or_default();
        Component {
            system_type: g.system_type.unwrap_or(self.system.0),
            system_addr: g.system_addr.unwrap_or(self.system.1),
            component_type: g
                .component_type
                .unwrap_or_else(|| component_type(dev.profile.as_str())),
            component_addr: g
                .component_addr
                .unwrap_or_else(|| hashed_addr(dev.id.as_str())),
        }
    }

    /// The data units an alarm change produces (none for most changes).
    pub fn on_alarm(
        &mut self,
        a: &AlarmFeed,
        device: &dyn Fn(&str) -> Option<Arc<DeviceInfo>>,
        now_ms: u64,
    ) -> Vec<Unit> {
        let at = TimeTag::from_unix_ms(a.confirmed_at.or(a.ended_at).unwrap_or(now_ms));
        let fire = a.kind == AlarmKind::Fire;
        let mut objects = Vec::new();
        if a.state.is_final() {
            // Back to normal: every device it reported.
            for d in self.told.remove(a.id.as_str()).unwrap_or_default() {
                if let Some((c, _, desc)) = self.open.remove(d.as_str()) {
                    objects.push(object(c, component::NORMAL, &desc, at));
                }
            }
        } else if a.test || a.state == AlarmState::PreAlarm {
            // Unconfirmed, or raised in maintenance: not the centre's business.
            return Vec::new();
        } else {
            let fresh: Vec<(DeviceId, Component)> = a
                .devices
                .iter()
                .filter_map(|d| device(d.as_str()).map(|dev| (d, dev)))
                .filter(|(d, dev)| {
                    reported(a.kind, dev.profile.as_str())
                        && !self.told.get(a.id.as_str()).is_some_and(|t| t.contains(*d))
                })
                .map(|(d, dev)| (d.clone(), self.component(&dev)))
                .collect();
            let told = self.told.entry(a.id.to_string()).or_default();
            for (d, c) in fresh {
                told.insert(d.clone());
                let bit = if fire {
                    component::FIRE
                } else {
                    component::FAULT
                };
                let status = component::NORMAL | bit;
                self.open.insert(d.to_string(), (c, status, d.to_string()));
                objects.push(object(c, status, d.as_str(), at));
            }
        }
        objects
            .chunks(unit::max_objects(unit::kind::COMPONENT_STATE))
            .filter_map(|chunk| {
                let mut buf = [0u8; 2 + 22 * 46];
                encode_unit(chunk, &mut buf).ok().map(|n| Unit {
                    class: u8::from(!fire || a.state.is_final()),
                    data: buf[..n].to_vec(),
                })
            })
            .collect()
    }

    /// The transmission device's state bits now: normal, fire and fault
    /// as the open components say, and `link_fault` for the centre channel.
    pub fn device_status(&self, link_fault: bool) -> u8 {
        let mut s = device::NORMAL;
        for (_, st, _) in self.open.values() {
            if st & component::FIRE != 0 {
                s |= device::FIRE;
            }
            if st & component::FAULT != 0 {
                s |= device::FAULT;
            }
        }
        if link_fault {
            s |= device::CENTRE_LINK_FAULT;
        }
        s
    }

    /// The data unit of the device state (type 21) at `now_ms`.
    pub fn device_state(&self, link_fault: bool, now_ms: u64) -> Vec<u8> {
        let o = Object::DeviceState {
            status: self.device_status(link_fault),
            time: TimeTag::from_unix_ms(now_ms),
        };
        let mut buf = [0u8; 16];
        encode_unit(&[o], &mut buf).map_or_else(|_| Vec::new(), |n| buf[..n].to_vec())
    }

    /// The components not in their normal state, up to one data unit's worth.
    pub fn open_components(&self, now_ms: u64) -> Vec<u8> {
        let at = TimeTag::from_unix_ms(now_ms);
        let objs: Vec<Object> = self
            .open
            .values()
            .take(22)
            .map(|(c, st, d)| object(*c, *st, d, at))
            .collect();
        let mut buf = [0u8; 2 + 22 * 46];
        if objs.is_empty() {
            return vec![unit::kind::COMPONENT_STATE, 0];
        }
        encode_unit(&objs, &mut buf).map_or_else(|_| Vec::new(), |n| buf[..n].to_vec())
    }

    /// The system state (type 1) of the gateway's fire alarm system.
    pub fn system_state(&self, now_ms: u64) -> Vec<u8> {
        let mut status = component::NORMAL;
        for (_, st, _) in self.open.values() {
            status |= st & (component::FIRE | component::FAULT);
        }
        let o = Object::SystemState {
            system_type: self.system.0,
            system_addr: self.system.1,
            status,
            time: TimeTag::from_unix_ms(now_ms),
        };
        let mut buf = [0u8; 16];
        encode_unit(&[o], &mut buf).map_or_else(|_| Vec::new(), |n| buf[..n].to_vec())
    }
}

fn object(c: Component, status: u16, desc: &str, time: TimeTag) -> Object {
    Object::ComponentState {
        system_type: c.system_type,
        system_addr: c.system_addr,
        component_type: c.component_type,
        component_addr: c.component_addr,
        status,
        description: Object::description(desc),
        time,
    }
}

//! What ingest hands to the stages after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use protocol::{CommandAck, DeviceId, DeviceState, NodeEvent, Telemetry};

use crate::registry::{DeviceInfo, Registry};

/// A validated message from a known device.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The device, with its profile, location and grid cell.
    pub device: Arc<DeviceInfo>,
    /// When the gateway received it (the gateway's clock), ms since the epoch.
    pub at_ms: u64,
    /// What it said.
    pub body: Body,
}

/// The typed content of an [`Ingested`] message.
#[derive(Debug, Clone)]
pub enum Body {
    /// An event, forwarded before it is stored.
    Event(NodeEvent),
    /// The event with this `seq` is now committed (and acknowledged).
    Committed {
        /// The event's sequence number.
        seq: u32,
    },
    /// Telemetry (boxed: it is the largest message).
    Telemetry(Box<Telemetry>),
    /// The node's own presence report (retained state or last will).
    State(DeviceState),
    /// A node's answer to a command.
    CommandAck(CommandAck),
}

/// The registry snapshot in force; replaced whole when devices change.
#[derive(Debug)]
pub struct RegistryCell(RwLock<Arc<Registry>>);

impl RegistryCell {
    /// Wraps a loaded registry.
    pub fn new(registry: Registry) -> Self {
        Self(RwLock::new(Arc::new(registry)))
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<Registry> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the snapshot.
    pub fn replace(&self, registry: Registry) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
    }
}

/// When each device was last heard from (any message), for presence.
#[derive(Debug, Default)]
pub struct LastSeen(Mutex<HashMap<DeviceId, u64>>);

impl LastSeen {
    /// Records traffic from `device` at `at_ms`.
    pub fn touch(&self, device: &DeviceId, at_ms: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(device) {
            Some(t) => *t = (*t).max(at_ms),
            None => {
                map.insert(device.clone(), at_ms);
            }
        }
    }

    /// A copy of every entry.
    pub fn snapshot(&self) -> HashMap<DeviceId, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

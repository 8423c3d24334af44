//! The registry snapshot in force, shared by every stage that looks devices
//! up; replaced whole when devices change.

use std::sync::{Arc, RwLock};

use super::Registry;

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

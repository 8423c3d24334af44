//! The broker checks credentials against the registry in force.

use super::{RegistryCell, Role};
use crate::bus;

impl bus::Authenticator for RegistryCell {
    fn authenticate(&self, username: &str, password: &str) -> Option<bus::Role> {
        self.get()
            .verify(username, password)
            .map(|role| match role {
                Role::Device => bus::Role::Device,
                Role::Integrator => bus::Role::Integrator,
                Role::Admin => bus::Role::Admin,
            })
    }
}

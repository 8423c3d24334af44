//! The device registry: the compound's site tree, its devices and their
//! credentials; CSV import for installers; an immutable [`Registry`]
//! snapshot for the hot path (lookups and MQTT authentication).

mod auth;
mod cell;
mod creds;
mod csvfile;
mod gbt;
mod import_devices;
mod import_site;
mod profiles;
mod reload;
mod revoke;
mod site;
mod snapshot;

#[cfg(test)]
mod tests;

pub use cell::RegistryCell;
pub use creds::{ADMIN_USER, CredsError, Role, add_integrator, ensure_admin, new_secret};
pub(crate) use csvfile::{Errors, Table};
pub use csvfile::{ImportError, RowError};
pub use gbt::GbtAddress;
pub use import_devices::{DeviceFields, add_device, check_device, import_devices};
pub use import_site::import_sites;
pub use profiles::{Profiles, load_file};
pub use reload::reload;
pub use revoke::{
    RevokeError, admin_password_file, ensure_admin_file, remove_device, rotate, write_secret_file,
};
pub use site::{Level, SiteNode};
pub use snapshot::{DeviceInfo, Registry};

//! Topic authorization. rumqttd authenticates clients but does not authorize
//! topics; the gateway's patch of it (vendor/rumqttd/PATCHES.md) asks
//! [`allowed`] about every publish, subscribe and last will of a network client.

use protocol::Topic;
use protocol::topic::{self, DeviceChannel, SITE_PREFIX};

/// What an authenticated MQTT user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sensor node: username = client id = device id.
    Device,
    /// A read-only consumer of the integrator topics `gs/v1/site/...`.
    Integrator,
    /// The installer's or the gateway's own tools: everything.
    Admin,
}

/// Checks credentials and tells roles; implemented by the device registry.
pub trait Authenticator: Send + Sync + 'static {
    /// The role of `username` if `password` is its secret.
    fn authenticate(&self, username: &str, password: &str) -> Option<Role>;
}

/// What a client asks to do.
pub use rumqttd::AclAction as Action;

/// What integrators may use besides the site feeds: the Home Assistant
/// discovery prefix, when discovery is on (`[homeassistant]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegratorScope {
    /// `{prefix}/` integrators may subscribe under.
    discovery: Option<String>,
    /// `{prefix}/status`, Home Assistant's birth and will topic.
    status: Option<String>,
}

impl IntegratorScope {
    /// Integrators may also read `{prefix}/#` and publish Home Assistant's
    /// birth and will on `{prefix}/status` (nothing else under it).
    pub fn with_discovery(prefix: &str) -> Self {
        Self {
            discovery: Some(format!("{prefix}/")),
            status: Some(topic::discovery_status(prefix).as_str().to_owned()),
        }
    }

    fn allows(&self, action: Action, topic: &str) -> bool {
        match action {
            Action::Subscribe => {
                topic.starts_with(SITE_PREFIX)
                    || self
                        .discovery
                        .as_deref()
                        .is_some_and(|p| topic.starts_with(p))
            }
            Action::Publish => self.status.as_deref() == Some(topic),
        }
    }
}

/// Whether `username` in `role`, connected as `client_id`, may do `action`
/// on `topic`, with no discovery prefix (see [`allowed_in`]).
pub fn allowed(role: Role, username: &str, action: Action, topic: &str) -> bool {
    allowed_in(&IntegratorScope::default(), role, username, action, topic)
}

/// Whether `username` in `role`, connected as `client_id`, may do `action` on `topic`.
///
/// - A device may publish only its own `evt`, `tel`, `state`, `cmd/ack` and
///   `acc` topics, and subscribe only to its own `cmd`, `evt/ack` and
///   `acc/ack` (no wildcards).
/// - An integrator may subscribe under `gs/v1/site/` (and the discovery
///   prefix of `scope`) and publish nothing (but Home Assistant's status).
/// - An admin may do anything.
pub fn allowed_in(
    scope: &IntegratorScope,
    role: Role,
    username: &str,
    action: Action,
    topic: &str,
) -> bool {
    match role {
        Role::Admin => true,
        Role::Integrator => scope.allows(action, topic),
        Role::Device => {
            let Ok(Topic::Device { device, channel }) = Topic::parse(topic) else {
                return false;
            };
            if device.as_str() != username {
                return false;
            }
            match action {
                Action::Publish => channel.from_node(),
                Action::Subscribe => matches!(
                    channel,
                    DeviceChannel::Cmd | DeviceChannel::EvtAck | DeviceChannel::AccAck
                ),
            }
        }
    }
}

// The topics below are hand-written wire strings on purpose: they check the
// rules against what clients really send, independently of `protocol::Topic`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_publishes_only_as_itself() {
        let ok = |t| allowed(Role::Device, "smoke-1", Action::Publish, t);
        assert!(ok("gs/v1/dev/smoke-1/evt"));
        assert!(ok("gs/v1/dev/smoke-1/tel"));
        assert!(ok("gs/v1/dev/smoke-1/state"));
        assert!(ok("gs/v1/dev/smoke-1/cmd/ack"));
        assert!(!ok("gs/v1/dev/smoke-2/evt"), "spoofing another device");
        assert!(!ok("gs/v1/dev/smoke-1/cmd"), "commanding itself");
        assert!(!ok("gs/v1/dev/smoke-1/evt/ack"), "acking itself");
        assert!(!ok("gs/v1/site/s/alarm/a1"), "integrator feed");
        assert!(!ok("grid/v1/d/s/c/g/order"), "upstream");
        assert!(!ok("anything/else"));
    }

    #[test]
    fn a_device_subscribes_only_to_its_own_commands_and_acks() {
        let ok = |t| allowed(Role::Device, "lock-1", Action::Subscribe, t);
        assert!(ok("gs/v1/dev/lock-1/cmd"));
        assert!(ok("gs/v1/dev/lock-1/evt/ack"));
        assert!(!ok("gs/v1/dev/+/cmd"));
        assert!(!ok("gs/v1/dev/lock-2/cmd"));
        assert!(!ok("#"));
        assert!(!ok("gs/v1/dev/lock-1/#"));
    }

    #[test]
    fn integrators_only_read_site_feeds() {
        assert!(allowed(
            Role::Integrator,
            "ha",
            Action::Subscribe,
            "gs/v1/site/#"
        ));
        assert!(!allowed(
            Role::Integrator,
            "ha",
            Action::Subscribe,
            "gs/v1/dev/+/evt"
        ));
        assert!(!allowed(
            Role::Integrator,
            "ha",
            Action::Publish,
            "gs/v1/site/x/alarm/1"
        ));
        assert!(allowed(
            Role::Admin,
            "root",
            Action::Publish,
            "gs/v1/dev/x/cmd"
        ));
    }

    #[test]
    fn integrators_read_discovery_only_when_it_is_on() {
        let ha = IntegratorScope::with_discovery("homeassistant");
        let off = IntegratorScope::default();
        let sub =
            |s: &IntegratorScope, t| allowed_in(s, Role::Integrator, "ha", Action::Subscribe, t);
        let publ =
            |s: &IntegratorScope, t| allowed_in(s, Role::Integrator, "ha", Action::Publish, t);
        assert!(sub(&ha, "homeassistant/#"));
        assert!(sub(&ha, "homeassistant/+/+/+/config"));
        assert!(sub(&ha, "gs/v1/site/#"));
        assert!(!sub(&off, "homeassistant/#"));
        assert!(!sub(&ha, "homeassistantx/#"), "a prefix is a whole level");
        assert!(!sub(&ha, "#"));
        assert!(publ(&ha, "homeassistant/status"), "Home Assistant's birth");
        assert!(
            !publ(&ha, "homeassistant/sensor/x/temp/config"),
            "read-only"
        );
        assert!(!publ(&off, "homeassistant/status"));
        assert!(!allowed_in(
            &ha,
            Role::Device,
            "smoke-1",
            Action::Subscribe,
            "homeassistant/#"
        ));
    }
}

/// Lets everyone in as admin. Only for the stand-in district broker that
/// `gridsense-demo` and the tests start on loopback; never for the gateway's
/// own broker.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _username: &str, _password: &str) -> Option<Role> {
        Some(Role::Admin)
    }
}

//! Starting the embedded broker and handing out in-process links.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Broker, Config, ConnectionSettings, Notification, RouterConfig, ServerSettings};

use super::acl::{self, Action, Authenticator, IntegratorScope, Role};
use super::config::MqttSection;
use super::throttle::Throttle;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A listener did not come up (address in use, permission, bad TLS files).
    #[error("the MQTT listener {name} on {addr} did not start; see the log for why")]
    Listen {
        /// Listener name.
        name: String,
        /// Configured address.
        addr: SocketAddr,
    },
    /// An in-process link could not be made (the router refused it).
    #[error("in-process MQTT link: {0}")]
    Link(String),
    /// The broker thread could not be spawned.
    #[error("broker thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A refused connection or request, reported for counting and quarantine.
#[derive(Debug, Clone)]
pub enum Denied {
    /// Wrong credentials, unknown user, or a device whose client id is not its id.
    Auth {
        /// Client id.
        client_id: String,
        /// Username.
        username: String,
    },
    /// A quarantined client id tried to connect (refused at once).
    Quarantined {
        /// Client id.
        client_id: String,
        /// Username.
        username: String,
    },
    /// A source address was quarantined (`entered`), or a connection from a
    /// quarantined address was closed at accept.
    Address {
        /// The peer's address.
        ip: std::net::IpAddr,
        /// Whether this refusal put it in quarantine.
        entered: bool,
    },
    /// A topic the client may not use; the client is disconnected.
    Topic {
        /// Client id.
        client_id: String,
        /// Username, if any.
        username: Option<String>,
        /// Publish or subscribe.
        action: Action,
        /// The topic or filter.
        topic: String,
    },
}

impl Denied {
    /// `(reason, who, what)` for counting and quarantine: the reason is
    /// `auth`, `acl-publish` or `acl-subscribe`; who is the username (`?`
    /// when none was given); what is the topic, or for a refused login the
    /// client id it asked for.
    pub fn into_parts(self) -> (&'static str, String, String) {
        match self {
            Self::Auth {
                client_id,
                username,
            } => ("auth", username, format!("(connect as client {client_id})")),
            Self::Quarantined {
                client_id,
                username,
            } => (
                "quarantined",
                username,
                format!("(connect as client {client_id}, quarantined)"),
            ),
            Self::Address { ip, entered } => (
                "address-quarantined",
                ip.to_string(),
                if entered {
                    "(source address quarantined after repeated refusals)".into()
                } else {
                    "(connection from a quarantined address closed)".into()
                },
            ),
            Self::Topic {
                username,
                action,
                topic,
                ..
            } => {
                let reason = match action {
                    Action::Publish => "acl-publish",
                    Action::Subscribe => "acl-subscribe",
                };
                (reason, username.unwrap_or_else(|| "?".into()), topic)
            }
        }
    }
}

/// Receives every [`Denied`] event (must not block).
pub type DeniedSink = Arc<dyn Fn(Denied) + Send + Sync>;

/// An in-process subscription to the broker.
pub struct Subscription {
    // Kept so the link stays registered with the router.
    _tx: LinkTx,
    rx: LinkRx,
}

impl Subscription {
    /// The next message as `(topic, payload)`; `None` when the broker is gone.
    pub async fn next(&mut self) -> Option<(Bytes, Bytes)> {
        loop {
            match self.rx.next().await {
                Ok(Some(Notification::Forward(f))) => {
                    return Some((f.publish.topic, f.publish.payload));
                }
                // The router stops scheduling a link whose buffer it filled;
                // without `ready()` delivery would stop here.
                Ok(Some(Notification::Unschedule)) => {
                    if self.rx.ready().is_err() {
                        return None;
                    }
                }
                Ok(Some(_) | None) => {}
                Err(_) => return None,
            }
        }
    }
}

/// The running broker.
pub struct Bus {
    /// The configured LAN listener address.
    pub addr: SocketAddr,
    broker: Broker,
    bound: std::sync::mpsc::Receiver<(String, SocketAddr)>,
    listeners: usize,
    /// Only the TLS listener runs (`plain = false`).
    tls_only: bool,
    /// Network connections open now (TCP accepted and admitted, not yet
    /// ended), from the listener's peer gate.
    connections: Arc<AtomicI64>,
}

/// An in-process link for publishing; nothing is delivered to it.
pub struct PublishLink {
    /// The sending half.
    pub tx: LinkTx,
    // Kept so the router's notifications to this link have somewhere to go.
    _rx: LinkRx,
}

/// Messages the router hands an in-process subscription per scheduling
/// round (rumqttd patch 22; a network client's is 200). The telemetry lane
/// reads every device's `tel`: at 200 a round it fell behind 50 publishers
/// and the broker's log rotated messages out from under it.
pub const LINK_CAPACITY: usize = 4096;

/// Unacknowledged messages per client on the open stand-in broker of demos
/// and tests, whose one client (the gateway's uplink) sends in bursts.
const OPEN_MAX_INFLIGHT: usize = 1000;

impl Bus {
    /// Builds the broker with authentication and topic authorization.
    pub fn new(cfg: &MqttSection, auth: Arc<dyn Authenticator>, denied: DeniedSink) -> Self {
        Self::new_scoped(cfg, auth, denied, IntegratorScope::default())
    }

    /// Builds the broker with authentication and topic authorization;
    /// integrators may also use what `scope` opens (Home Assistant discovery).
    pub fn new_scoped(
        cfg: &MqttSection,
        auth: Arc<dyn Authenticator>,
        denied: DeniedSink,
        scope: IntegratorScope,
    ) -> Self {
        let roles: Arc<RwLock<HashMap<String, Role>>> = Arc::default();
        let mut connections = connection_settings(cfg, cfg.max_inflight_count.get());
        let (r, d) = (roles.clone(), denied.clone());
        let throttle = Arc::new(Throttle::new(
            cfg.refusals_before_quarantine,
            cfg.refusal_window_s * 1_000,
            cfg.quarantine_s * 1_000,
        ));
        let started = std::time::Instant::now();
        let ms = move || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (t, now) = (throttle.clone(), ms);
        connections.set_auth_handler(
            move |client_id: String, username: String, password: String| {
                if t.quarantined(&client_id, now()) {
                    d(Denied::Quarantined {
                        client_id,
                        username,
                    });
                    return std::future::ready(false);
                }
                let verdict = match auth.authenticate(&username, &password) {
                    // A device must connect with its own id as client id, or it
                    // could take over another device's session.
                    Some(Role::Device) if client_id != username => None,
                    other => other,
                };
                match verdict {
                    Some(role) => {
                        r.write()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(username, role);
                    }
                    None => {
                        // Guessing credentials is coming back to be refused too.
                        t.refused(&client_id, now());
                        d(Denied::Auth {
                            client_id,
                            username,
                        });
                    }
                }
                std::future::ready(verdict.is_some())
            },
        );
        let open = Arc::new(AtomicI64::new(0));
        connections.peer_gate = Some(peer_gate(cfg, denied.clone(), ms, open.clone()));
        let open_connections = open.clone();
        connections.topic_acl = Some(Arc::new(move |client_id, username, action, topic| {
            let role = username.and_then(|u| {
                roles
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(u)
                    .copied()
            });
            let ok = match (role, username) {
                (Some(role), Some(user)) => acl::allowed_in(&scope, role, user, action, topic),
                _ => false,
            };
            if !ok {
                if throttle.refused(client_id, ms()) {
                    tracing::warn!(client_id, "client quarantined after repeated refusals");
                }
                denied(Denied::Topic {
                    client_id: client_id.to_owned(),
                    username: username.map(str::to_owned),
                    action,
                    topic: topic.to_owned(),
                });
            }
            ok
        }));
        let (bound_tx, bound) = std::sync::mpsc::sync_channel(4);
        let mut servers = HashMap::new();
        // `plain = false` (validated: only beside TLS) leaves the LAN to TLS.
        if cfg.plain || cfg.tls.is_none() {
            servers.insert(
                "lan".to_string(),
                ServerSettings {
                    name: "lan".into(),
                    listen: cfg.listen,
                    tls: None,
                    next_connection_delay_ms: cfg.next_connection_delay_ms,
                    connections: connections.clone(),
                    on_bound: Some(bound_tx.clone()),
                },
            );
        }
        if let Some(tls) = &cfg.tls {
            servers.insert(
                "lan-tls".to_string(),
                ServerSettings {
                    name: "lan-tls".into(),
                    listen: tls.listen,
                    tls: Some(rumqttd::TlsConfig::Rustls {
                        capath: None,
                        certpath: tls.cert.display().to_string(),
                        keypath: tls.key.display().to_string(),
                    }),
                    next_connection_delay_ms: cfg.next_connection_delay_ms,
                    connections,
                    on_bound: Some(bound_tx),
                },
            );
        }
        let listeners = servers.len();
        let tls_only = !servers.contains_key("lan");
        let config = Config {
            id: 0,
            router: router_config(cfg),
            v4: Some(servers),
            ..Config::default()
        };
        Self {
            addr: cfg.listen,
            broker: Broker::new(config),
            bound,
            listeners,
            tls_only,
            connections: open_connections,
        }
    }

    /// The count of network connections open now, kept by the listeners.
    pub fn connections(&self) -> Arc<AtomicI64> {
        self.connections.clone()
    }

    /// Messages a subscriber never got because it fell so far behind that
    /// the broker's log dropped them (rumqttd patch 23): a gateway stage
    /// that could not keep up, or a client reading too slowly.
    pub fn skipped_messages(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.broker.skipped_messages()
    }

    /// A broker without authentication or authorization: only for the
    /// stand-in district broker of demos and tests, on loopback.
    pub fn new_open(cfg: &MqttSection) -> Self {
        let mut bus = Self::new(cfg, std::sync::Arc::new(super::AllowAll), Arc::new(|_| {}));
        let (bound_tx, bound) = std::sync::mpsc::sync_channel(4);
        let server = ServerSettings {
            name: "lan".into(),
            listen: cfg.listen,
            tls: None,
            next_connection_delay_ms: cfg.next_connection_delay_ms,
            connections: connection_settings(cfg, OPEN_MAX_INFLIGHT),
            on_bound: Some(bound_tx),
        };
        let config = Config {
            id: 0,
            router: router_config(cfg),
            v4: Some(HashMap::from([("lan".to_string(), server)])),
            ..Config::default()
        };
        bus.broker = Broker::new(config);
        bus.bound = bound;
        bus.listeners = 1;
        bus.tls_only = false;
        bus
    }

    /// An in-process link for publishing.
    ///
    /// # Errors
    /// [`BusError::Link`] if the router refuses the link.
    pub fn link(&self, name: &str) -> Result<PublishLink, BusError> {
        let (tx, rx) = self.broker.link(name).map_err(link_err)?;
        Ok(PublishLink { tx, _rx: rx })
    }

    /// An in-process subscription to `filters`.
    ///
    /// # Errors
    /// [`BusError::Link`] if the router refuses the link.
    pub fn subscribe(&self, name: &str, filters: &[&str]) -> Result<Subscription, BusError> {
        let (mut tx, rx) = self
            .broker
            .link_with_capacity(name, LINK_CAPACITY)
            .map_err(link_err)?;
        for f in filters {
            tx.subscribe(*f).map_err(link_err)?;
        }
        Ok(Subscription { _tx: tx, rx })
    }

    /// Starts the listeners on their own threads and waits until they are bound.
    ///
    /// # Errors
    /// [`BusError::Listen`] if a listener does not come up within 5 s.
    pub fn start(self) -> Result<SocketAddr, BusError> {
        let all = self.start_all()?;
        Ok(all
            .get("lan")
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))))
    }

    /// Starts every listener; returns each one's bound address by name
    /// (`lan`, and `lan-tls` when TLS is configured).
    ///
    /// # Errors
    /// [`BusError::Listen`] if a listener does not come up within 5 s (for
    /// TLS: a missing or unreadable certificate or key, see the log).
    pub fn start_all(self) -> Result<HashMap<String, SocketAddr>, BusError> {
        let Self {
            addr,
            mut broker,
            bound,
            listeners,
            tls_only,
            connections: _,
        } = self;
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "MQTT broker stopped");
                }
            })?;
        let mut out = HashMap::new();
        while out.len() < listeners {
            match bound.recv_timeout(Duration::from_secs(5)) {
                Ok((name, a)) => {
                    out.insert(name, a);
                }
                Err(_) => {
                    let name = if out.contains_key("lan") || tls_only {
                        "lan-tls"
                    } else {
                        "lan"
                    };
                    return Err(BusError::Listen {
                        name: name.into(),
                        addr,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A listener's per-connection limits, without authentication (added by the caller).
/// The listener's per-address gate: refusals counted per source IP, and an
/// address refused too often closed at accept for `quarantine_s`.
fn peer_gate(
    cfg: &MqttSection,
    denied: DeniedSink,
    ms: impl Fn() -> u64 + Send + Sync + 'static,
    open: Arc<AtomicI64>,
) -> rumqttd::PeerGate {
    let by_address = Throttle::new(
        cfg.refusals_per_address_before_quarantine,
        cfg.refusal_window_s * 1_000,
        cfg.quarantine_s * 1_000,
    );
    Arc::new(move |e| match e {
        rumqttd::PeerEvent::Accepted(peer) => {
            let ip = peer.ip();
            if by_address.quarantined(&ip.to_string(), ms()) {
                denied(Denied::Address { ip, entered: false });
                return false;
            }
            open.fetch_add(1, Ordering::Relaxed);
            true
        }
        rumqttd::PeerEvent::Closed(_) => {
            open.fetch_sub(1, Ordering::Relaxed);
            true
        }
        rumqttd::PeerEvent::Refused(peer) => {
            let ip = peer.ip();
            if by_address.refused(&ip.to_string(), ms()) {
                tracing::warn!(%ip, "source address quarantined after repeated refusals");
                denied(Denied::Address { ip, entered: true });
            }
            true
        }
    })
}

fn connection_settings(cfg: &MqttSection, max_inflight_count: usize) -> ConnectionSettings {
    ConnectionSettings {
        connection_timeout_ms: cfg.connection_timeout_ms.get(),
        max_payload_size: cfg.max_payload_size.get(),
        max_inflight_count,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
        topic_acl: None,
        peer_gate: None,
    }
}

/// The router's memory bounds: its in-memory log per connection is capped at
/// `max_segment_size × max_segment_count` bytes.
fn router_config(cfg: &MqttSection) -> RouterConfig {
    RouterConfig {
        // Room for the gateway's own in-process links beside the clients.
        max_connections: cfg.max_connections + 16,
        max_outgoing_packet_count: cfg.max_outgoing_packet_count.get(),
        max_segment_size: cfg.max_segment_size.get(),
        max_segment_count: cfg.max_segment_count.get(),
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    }
}

fn link_err(e: rumqttd::local::LinkError) -> BusError {
    BusError::Link(e.to_string())
}

// rumqttd's types have no Debug; say what each wrapper is.
macro_rules! opaque_debug {
    ($($t:ty),+) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )+};
}
opaque_debug!(Subscription, Bus, PublishLink);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_named_for_counting() {
        let auth = Denied::Auth {
            client_id: "smoke-2".into(),
            username: "smoke-1".into(),
        };
        assert_eq!(
            auth.into_parts(),
            (
                "auth",
                "smoke-1".into(),
                "(connect as client smoke-2)".into()
            )
        );
        let topic = |action, username: Option<&str>| Denied::Topic {
            client_id: "c".into(),
            username: username.map(str::to_owned),
            action,
            topic: "t".into(),
        };
        let p = topic(Action::Publish, Some("smoke-1")).into_parts();
        assert_eq!(p, ("acl-publish", "smoke-1".into(), "t".into()));
        let s = topic(Action::Subscribe, None).into_parts();
        assert_eq!(s, ("acl-subscribe", "?".into(), "t".into()));
    }

    #[test]
    fn default_section_gives_the_broker_its_measured_limits() {
        let cfg = MqttSection::default();
        let r = router_config(&cfg);
        assert_eq!(r.max_connections, 10_016);
        assert_eq!(r.max_outgoing_packet_count, 100);
        assert_eq!(r.max_segment_size, 16 << 20);
        assert_eq!(r.max_segment_count, 4);
        let c = connection_settings(&cfg, cfg.max_inflight_count.get());
        assert_eq!(c.connection_timeout_ms, 10_000);
        assert_eq!(c.max_payload_size, 64 << 10);
        assert_eq!(c.max_inflight_count, 100);
        assert!(c.dynamic_filters);
    }
}

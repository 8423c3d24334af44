use crate::link::local::{LinkError, LinkRx, LinkTx};
use crate::link::network;
use crate::link::network::Network;
use crate::local::LinkBuilder;
use crate::protocol::{ConnAck, Connect, ConnectReturnCode, Login, Packet, Protocol};
use crate::router::{Event, Notification};
use crate::{ConnectionId, ConnectionSettings};

use flume::{RecvError, SendError, Sender, TrySendError};
use std::cmp::min;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::time::error::Elapsed;
use tokio::{select, time};
use tracing::{trace, Span};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O")]
    Io(#[from] io::Error),
    #[error("Zero keep alive")]
    ZeroKeepAlive,
    /// GridSense patch: boxed, so that every `Result` of a link does not
    /// carry a whole packet's room.
    #[error("Not connect packet")]
    NotConnectPacket(Box<Packet>),
    #[error("Network {0}")]
    Network(#[from] network::Error),
    #[error("Timeout")]
    Timeout(#[from] Elapsed),
    #[error("Channel send error")]
    Send(#[from] SendError<(ConnectionId, Event)>),
    #[error("Channel recv error")]
    Recv(#[from] RecvError),
    #[error("Got new session, disconnecting old one")]
    SessionEnd,
    #[error("Persistent session requires valid client id")]
    InvalidClientId,
    #[error("Unexpected router message")]
    NotConnectionAck,
    #[error("ConnAck error {0}")]
    ConnectionAck(String),
    #[error("Authentication error")]
    InvalidAuth,
    #[error("Channel try send error")]
    TrySend(#[from] TrySendError<(ConnectionId, Event)>),
    #[error("Link error = {0}")]
    Link(#[from] LinkError),
    /// GridSense patch: a publish, subscribe or last will the topic ACL refused.
    #[error("Not authorized: {action:?} {topic}")]
    NotAuthorized {
        action: crate::AclAction,
        topic: String,
    },
}

/// Orchestrates between Router and Network.
pub struct RemoteLink<P> {
    connect: Connect,
    pub(crate) connection_id: ConnectionId,
    network: Network<P>,
    link_tx: LinkTx,
    link_rx: LinkRx,
    notifications: VecDeque<Notification>,
    pub(crate) will_delay_interval: u32,
    /// GridSense patch: the topic ACL and the identity it is checked against.
    acl: Option<(crate::TopicAcl, Option<String>)>,
}

impl<P: Protocol> RemoteLink<P> {
    pub async fn new(
        router_tx: Sender<(ConnectionId, Event)>,
        tenant_id: Option<String>,
        mut network: Network<P>,
        connect_packet: Packet,
        dynamic_filters: bool,
        assigned_client_id: Option<String>,
        topic_acl: Option<crate::TopicAcl>,
    ) -> Result<RemoteLink<P>, Error> {
        let Packet::Connect(connect, props, lastwill, lastwill_props, login) = connect_packet
        else {
            return Err(Error::NotConnectPacket(Box::new(connect_packet)));
        };

        // Register this connection with the router. Router replys with ack which if ok will
        // start the link. Router can sometimes reject the connection (ex max connection limit)
        let client_id = assigned_client_id.as_ref().unwrap_or(&connect.client_id);
        let clean_session = connect.clean_session;

        let topic_alias_max = props.as_ref().and_then(|p| p.topic_alias_max);
        let session_expiry = props
            .as_ref()
            .and_then(|p| p.session_expiry_interval)
            .unwrap_or(0);

        let delay_interval = lastwill_props
            .as_ref()
            .and_then(|f| f.delay_interval)
            .unwrap_or(0);

        // The Server delays publishing the Client’s Will Message until
        // the Will Delay Interval has passed or the Session ends, whichever happens first
        let will_delay_interval = min(session_expiry, delay_interval);

        let (link_tx, link_rx, notification) = LinkBuilder::new(client_id, router_tx)
            .tenant_id(tenant_id)
            .clean_session(clean_session)
            .last_will(lastwill)
            .last_will_properties(lastwill_props)
            .dynamic_filters(dynamic_filters)
            .topic_alias_max(topic_alias_max.unwrap_or(0))
            // GridSense patch: without blocking the listener's runtime.
            .build_async()
            .await?;

        let id = link_rx.id();
        Span::current().record("connection_id", id);

        if let Some(mut packet) = notification.into() {
            if let Packet::ConnAck(_ack, props) = &mut packet {
                let mut new_props = props.clone().unwrap_or_default();
                new_props.assigned_client_identifier = assigned_client_id;
                *props = Some(new_props);
                network.write(packet).await?;
            }
        }

        Ok(RemoteLink {
            connect,
            connection_id: id,
            network,
            link_tx,
            link_rx,
            // GridSense patch: grows on demand (was 100 slots).
            notifications: VecDeque::new(),
            will_delay_interval,
            acl: topic_acl.map(|acl| (acl, login.map(|l| l.username))),
        })
    }

    pub async fn start(&mut self) -> Result<(), Error> {
        self.network.set_keepalive(self.connect.keep_alive);

        // Note:
        // Shouldn't result in bounded queue deadlocks because of blocking n/w send
        //
        // GridSense patch: each branch's result is handled in place and the
        // loop awaits the router or the network only after `select!` has
        // returned. Awaited inside a branch, `select!`'s output (a whole
        // `Packet`) and the send to the router (a whole `Event`) were both
        // kept in this future: ~1.5 KB in every held connection's task.
        loop {
            let read = select! {
                o = self.network.read() => {
                    self.take(o?)?;
                    true
                }
                // Receive from router when previous when state isn't in collision
                // due to previously received data request
                o = self.link_rx.exchange(&mut self.notifications) => {
                    o?;
                    false
                }
            };
            if read {
                self.network.shrink_idle();
                self.link_tx.notify().await?;
                continue;
            }
            let mut packets = VecDeque::new();
            let mut unscheduled = false;

            for notif in self.notifications.drain(..) {
                if let Some(packet) = notif.into() {
                    packets.push_back(packet);
                } else {
                    unscheduled = true;
                }
            }
            self.network.writev(packets).await?;
            // GridSense patch: an idle connection keeps small buffers.
            self.notifications.shrink_to(crate::router::IDLE_CAPACITY);
            self.network.shrink_idle();
            if unscheduled {
                self.link_rx.wake().await?;
            }
        }
    }

    /// GridSense patch: what `start` does with a packet read from the
    /// network: with the rest already buffered, to the router's buffer,
    /// each publish and subscribe checked against the topic ACL first.
    fn take(&mut self, packet: Packet) -> Result<(), Error> {
        let len = {
            let mut buffer = self.link_tx.buffer();
            let before = buffer.len();
            buffer.push_back(packet);
            self.network.readv(&mut buffer)?;
            if let Err(e) = self.authorize(buffer.range(before..)) {
                buffer.truncate(before);
                return Err(e);
            }
            buffer.len()
        };
        trace!("Packets read from network, count = {}", len);
        Ok(())
    }
}

impl<P> RemoteLink<P> {
    /// GridSense patch: checks every publish and subscribe against the topic ACL.
    fn authorize<'a>(&self, packets: impl Iterator<Item = &'a Packet>) -> Result<(), Error> {
        let Some((acl, username)) = &self.acl else {
            return Ok(());
        };
        let check = |action, topic: &str| {
            if acl(&self.connect.client_id, username.as_deref(), action, topic) {
                Ok(())
            } else {
                Err(Error::NotAuthorized {
                    action,
                    topic: topic.to_owned(),
                })
            }
        };
        for packet in packets {
            match packet {
                Packet::Publish(publish, _) => {
                    let topic = std::str::from_utf8(&publish.topic).unwrap_or("\u{fffd}");
                    check(crate::AclAction::Publish, topic)?;
                }
                Packet::Subscribe(subscribe, _) => {
                    for filter in &subscribe.filters {
                        check(crate::AclAction::Subscribe, &filter.path)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// GridSense patch: checks a CONNECT's last-will topic against the topic ACL.
fn authorize_will(config: &ConnectionSettings, packet: &Packet) -> Result<(), Error> {
    let (Some(acl), Packet::Connect(connect, _, Some(will), _, login)) =
        (&config.topic_acl, packet)
    else {
        return Ok(());
    };
    let topic = std::str::from_utf8(&will.topic).unwrap_or("\u{fffd}");
    let username = login.as_ref().map(|l| l.username.as_str());
    if acl(
        &connect.client_id,
        username,
        crate::AclAction::Publish,
        topic,
    ) {
        Ok(())
    } else {
        Err(Error::NotAuthorized {
            action: crate::AclAction::Publish,
            topic: topic.to_owned(),
        })
    }
}

/// Read MQTT connect packet from network and verify it.
/// authentication and checks are done here.
pub async fn mqtt_connect<P>(
    config: Arc<ConnectionSettings>,
    network: &mut Network<P>,
) -> Result<Packet, Error>
where
    P: Protocol,
{
    // Wait for MQTT connect packet and error out if it's not received in time to prevent
    // DOS attacks by filling total connections that the server can handle with idle open
    // connections which results in server rejecting new connections
    let connection_timeout_ms = config.connection_timeout_ms.into();
    let packet = time::timeout(Duration::from_millis(connection_timeout_ms), async {
        let packet = network.read().await?;
        Ok::<_, network::Error>(packet)
    })
    .await??;

    let (connect, _props, login) = match packet {
        Packet::Connect(ref connect, ref props, _, _, ref login) => (connect, props, login),
        packet => return Err(Error::NotConnectPacket(Box::new(packet))),
    };

    Span::current().record("client_id", &connect.client_id);

    handle_auth(config.clone(), login.as_ref(), &connect.client_id).await?;
    authorize_will(&config, &packet)?;

    // GridSense patch: keep-alive 0 turns the mechanism off (MQTT 3.1.1
    // §3.1.2.10, MQTT 5 §3.1.2.10); it was refused with `ZeroKeepAlive`.
    // Such a client is dropped when its socket closes, not when it goes
    // quiet (see `Network::set_keepalive`).

    let empty_client_id = connect.client_id.is_empty();
    let clean_session = connect.clean_session;

    if empty_client_id && !clean_session {
        let ack = ConnAck {
            session_present: false,
            code: ConnectReturnCode::ClientIdentifierNotValid,
        };

        let packet = Packet::ConnAck(ack, None);
        network.write(packet).await?;

        return Err(Error::InvalidClientId);
    }

    // Ok((connect, props, lastwill, lastwill_props))
    Ok(packet)
}

async fn handle_auth(
    config: Arc<ConnectionSettings>,
    login: Option<&Login>,
    client_id: &str,
) -> Result<(), Error> {
    if config.auth.is_none() && config.external_auth.is_none() {
        return Ok(());
    }

    // if authentication is configured and connect packet doesn't have login details
    // return an error
    let Some(login) = login else {
        return Err(Error::InvalidAuth);
    };

    let username = &login.username;
    let password = &login.password;

    if let Some(auth) = &config.external_auth {
        if !auth(
            client_id.to_owned(),
            username.to_owned(),
            password.to_owned(),
        )
        .await
        {
            return Err(Error::InvalidAuth);
        }

        return Ok(());
    }

    if let Some(pairs) = &config.auth {
        if let Some(stored_password) = pairs.get(username) {
            if stored_password.as_bytes().ct_eq(password.as_bytes()).into() {
                return Ok(());
            }
        }

        return Err(Error::InvalidAuth);
    }

    Err(Error::InvalidAuth)
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, sync::Arc};

    use crate::{protocol::Login, ConnectionSettings};

    use super::handle_auth;

    fn config() -> ConnectionSettings {
        ConnectionSettings {
            connection_timeout_ms: 0,
            max_payload_size: 0,
            max_inflight_count: 0,
            auth: None,
            external_auth: None,
            dynamic_filters: false,
            topic_acl: None,
            peer_gate: None,
        }
    }

    fn login() -> Login {
        Login {
            username: "u".to_owned(),
            password: "p".to_owned(),
        }
    }

    #[tokio::test]
    async fn no_login_no_auth() {
        let cfg = Arc::new(config());
        let r = handle_auth(cfg, None, "").await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn some_login_no_auth() {
        let cfg = Arc::new(config());
        let login = login();
        let r = handle_auth(cfg, Some(&login), "").await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn login_matches_static_auth() {
        let login = login();
        let mut map = HashMap::<String, String>::new();
        map.insert(login.username.clone(), login.password.clone());

        let mut cfg = config();
        cfg.auth = Some(map);

        let r = handle_auth(Arc::new(cfg), Some(&login), "").await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn login_fails_static_no_external() {
        let login = login();
        let mut map = HashMap::<String, String>::new();
        map.insert("wrong".to_owned(), "wrong".to_owned());

        let mut cfg = config();
        cfg.auth = Some(map);

        let r = handle_auth(Arc::new(cfg), Some(&login), "").await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn login_fails_static_matches_external() {
        let login = login();

        let mut map = HashMap::<String, String>::new();
        map.insert("wrong".to_owned(), "wrong".to_owned());

        let dynamic = |_: String, _: String, _: String| async { true };

        let mut cfg = config();
        cfg.auth = Some(map);
        cfg.set_auth_handler(dynamic);

        let r = handle_auth(Arc::new(cfg), Some(&login), "").await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn login_fails_static_fails_external() {
        let login = login();

        let mut map = HashMap::<String, String>::new();
        map.insert("wrong".to_owned(), "wrong".to_owned());

        let dynamic = |_: String, _: String, _: String| async { false };

        let mut cfg = config();
        cfg.auth = Some(map);
        cfg.set_auth_handler(dynamic);

        let r = handle_auth(Arc::new(cfg), Some(&login), "").await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn external_auth_clousre_or_fnptr_type_check_or_fail_compile() {
        let closure = |_: String, _: String, _: String| async { false };
        async fn fnptr(_: String, _: String, _: String) -> bool {
            true
        }

        let mut cfg = config();
        cfg.set_auth_handler(closure);
        cfg.set_auth_handler(fnptr);
    }
}

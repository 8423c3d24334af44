use crate::link::alerts::{self};
use crate::link::console::ConsoleLink;
use crate::link::network::{self, Network, N};
use crate::link::remote::{self, mqtt_connect, RemoteLink};
use crate::link::{bridge, timer};
use crate::local::LinkBuilder;
use crate::protocol::v4::V4;
use crate::protocol::v5::V5;
use crate::protocol::{Packet, Protocol};
#[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
use crate::server::tls::{self, TLSAcceptor};
#[cfg(feature = "prometheus")]
use crate::Meter;
use crate::{meters, ConnectionSettings};
use flume::{RecvError, SendError, Sender};
use std::collections::HashMap;
use std::net::SocketAddr;
#[cfg(feature = "prometheus")]
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use tracing::{debug, error, field, info, warn, Instrument};
use uuid::Uuid;

#[cfg(feature = "websocket")]
use async_tungstenite::tokio::accept_hdr_async;
#[cfg(feature = "websocket")]
use async_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
#[cfg(feature = "websocket")]
use async_tungstenite::tungstenite::http::HeaderValue;
#[cfg(feature = "websocket")]
use ws_stream_tungstenite::WsStream;

// GridSense patch: the Prometheus exporter is behind the `prometheus` feature.
#[cfg(feature = "prometheus")]
use metrics::gauge;
#[cfg(feature = "prometheus")]
use metrics_exporter_prometheus::PrometheusBuilder;
use std::time::Duration;
use std::{io, thread};

use crate::link::console;
use crate::link::local::{self, LinkRx, LinkTx};
use crate::router::{Event, Router};
use crate::{Config, ConnectionId, ServerSettings};

use tokio::net::{TcpListener, TcpStream};
use tokio::time::error::Elapsed;
use tokio::{task, time};

#[derive(Debug, thiserror::Error)]
#[error("Acceptor error")]
pub enum Error {
    #[error("I/O {0}")]
    Io(#[from] io::Error),
    #[error("Timeout")]
    Timeout(#[from] Elapsed),
    #[error("Channel recv error")]
    Recv(#[from] RecvError),
    #[error("Channel send error")]
    Send(#[from] SendError<(ConnectionId, Event)>),
    #[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
    #[error("Certs error = {0}")]
    Certs(#[from] tls::Error),
    #[error("Accept error = {0}")]
    Accept(String),
    #[error("Remote error = {0}")]
    Remote(#[from] remote::Error),
    #[error("Invalid configuration")]
    Config(String),
}

pub struct Broker {
    config: Arc<Config>,
    router_tx: Sender<(ConnectionId, Event)>,
    /// GridSense patch: see [`Broker::skipped_messages`].
    skipped: Arc<std::sync::atomic::AtomicU64>,
}

impl Broker {
    pub fn new(config: Config) -> Broker {
        let config = Arc::new(config);
        let router_config = config.router.clone();
        let router: Router = Router::new(config.id, router_config);
        let skipped = router.skipped_messages();

        // Setup cluster if cluster settings are configured.
        match config.cluster.clone() {
            Some(_cluster_config) => {
                // let node_id = cluster_config.node_id;
                // let listen = cluster_config.listen;
                // let seniors = cluster_config.seniors;
                // let mut cluster = RemoteCluster::new(node_id, &listen, seniors);
                // Broker::setup_remote_cluster(&mut router, node_id, &mut cluster);

                // Start router first and then cluster in the background
                let router_tx = router.spawn();
                // cluster.spawn();
                Broker {
                    config,
                    router_tx,
                    skipped,
                }
            }
            None => {
                let router_tx = router.spawn();
                Broker {
                    config,
                    router_tx,
                    skipped,
                }
            }
        }
    }

    // pub fn new_local_cluster(
    //     config: Config,
    //     node_id: NodeId,
    //     seniors: Vec<(NodeId, Sender<ReplicationData>)>,
    // ) -> (Broker, Sender<ReplicationData>) {
    //     let config = Arc::new(config);
    //     let router_config = config.router.clone();

    //     let mut router = Router::new(config.id, router_config);
    //     let (mut cluster, tx) = LocalCluster::new(node_id, seniors);
    //     Broker::setup_local_cluster(&mut router, node_id, &mut cluster);

    //     // Start router first and then cluster in the background
    //     let router_tx = router.spawn();
    //     cluster.spawn();

    //     (Broker { config, router_tx }, tx)
    // }

    // fn setup_remote_cluster(router: &mut Router, node_id: NodeId, cluster: &mut RemoteCluster) {
    //     // Retrieve pre-configured list of router <-> replica link from router
    //     // and add the link to cluster
    //     let nodes: Vec<NodeId> = (0..MAX_NODES).filter(|v| *v != node_id).collect();
    //     for node_id in nodes {
    //         let link = router.get_replica_handle(node_id);
    //         cluster.add_replica_router_handle(node_id, link);
    //     }
    // }

    // fn setup_local_cluster(router: &mut Router, node_id: NodeId, cluster: &mut LocalCluster) {
    //     // Retrieve pre-configured list of router <-> replica link from router
    //     // and add the link to cluster
    //     let nodes: Vec<NodeId> = (0..MAX_NODES).filter(|v| *v != node_id).collect();
    //     for node_id in nodes {
    //         let link = router.get_replica_handle(node_id);
    //         cluster.add_replica_router_handle(node_id, link);
    //     }
    // }

    // Link to get meters
    pub fn meters(&self) -> Result<meters::MetersLink, meters::LinkError> {
        let link = meters::MetersLink::new(self.router_tx.clone())?;
        Ok(link)
    }

    // Link to get alerts
    pub fn alerts(&self) -> Result<alerts::AlertsLink, alerts::LinkError> {
        let link = alerts::AlertsLink::new(self.router_tx.clone())?;
        Ok(link)
    }

    /// GridSense patch: [`Broker::link`] with room for `capacity`
    /// notifications per scheduling round (see
    /// [`LinkBuilder::outgoing_capacity`]).
    pub fn link_with_capacity(
        &self,
        client_id: &str,
        capacity: usize,
    ) -> Result<(LinkTx, LinkRx), local::LinkError> {
        let (link_tx, link_rx, _ack) = LinkBuilder::new(client_id, self.router_tx.clone())
            .outgoing_capacity(capacity)
            .build()?;
        Ok((link_tx, link_rx))
    }

    /// GridSense patch: messages subscribers never got because they fell
    /// so far behind that the log dropped the segment holding them (a slow
    /// in-process link, a client that reads slowly); counted as the
    /// router's cursor jumps over them.
    pub fn skipped_messages(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.skipped.clone()
    }

    pub fn link(&self, client_id: &str) -> Result<(LinkTx, LinkRx), local::LinkError> {
        // Register this connection with the router. Router replies with ack which if ok will
        // start the link. Router can sometimes reject the connection (ex. max connection limit).
        let (link_tx, link_rx, _ack) =
            LinkBuilder::new(client_id, self.router_tx.clone()).build()?;
        Ok((link_tx, link_rx))
    }

    #[tracing::instrument(skip(self))]
    pub fn start(&mut self) -> Result<(), Error> {
        if self.config.v4.is_none()
            && self.config.v5.is_none()
            && (cfg!(not(feature = "websocket")) || self.config.ws.is_none())
        {
            return Err(Error::Config(
                "Atleast one server config must be specified, \
                consider adding either of [v4.x]/[v5.x] or [ws.x] (if enabled) in config file."
                    .to_string(),
            ));
        }

        // we don't know which servers (v4/v5/ws) user will spawn
        // so we collect handles for all of the spawned servers
        let mut server_thread_handles = Vec::new();

        if let Some(metrics_config) = self.config.metrics.clone() {
            let timer_thread = thread::Builder::new().name("timer".to_owned());
            let router_tx = self.router_tx.clone();
            timer_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();

                runtime.block_on(async move {
                    timer::start(metrics_config, router_tx).await;
                });
            })?;
        }

        // Spawn bridge in a separate thread.
        if let Some(bridge_config) = self.config.bridge.clone() {
            let bridge_thread = thread::Builder::new().name(bridge_config.name.clone());
            let router_tx = self.router_tx.clone();
            bridge_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();

                runtime.block_on(async move {
                    if let Err(e) = bridge::start(bridge_config, router_tx, V4).await {
                        error!(error=?e, "Bridge Link error");
                    };
                });
            })?;
        }

        // Spawn servers in a separate thread.
        if let Some(v4_config) = &self.config.v4 {
            for (_, config) in v4_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                let mut server = Server::new(config, self.router_tx.clone(), V4);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Remote).await {
                            error!(error=?e, "Server error - V4");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        if let Some(v5_config) = &self.config.v5 {
            for (_, config) in v5_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                let mut server = Server::new(config, self.router_tx.clone(), V5);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Remote).await {
                            error!(error=?e, "Server error - V5");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        #[cfg(not(feature = "websocket"))]
        if self.config.ws.is_some() {
            warn!("websocket feature is disabled, [ws] config will be ignored.");
        }

        #[cfg(feature = "websocket")]
        if let Some(ws_config) = &self.config.ws {
            for (_, config) in ws_config.clone() {
                let server_thread = thread::Builder::new().name(config.name.clone());
                //TODO: Add support for V5 procotol with websockets. Registered in config or on ServerSettings
                let mut server = Server::new(config, self.router_tx.clone(), V4);
                let handle = server_thread.spawn(move || {
                    let mut runtime = tokio::runtime::Builder::new_current_thread();
                    let runtime = runtime.enable_all().build().unwrap();

                    runtime.block_on(async {
                        if let Err(e) = server.start(LinkType::Websocket).await {
                            error!(error=?e, "Server error - WS");
                        }
                    });
                })?;
                server_thread_handles.push(handle)
            }
        }

        // GridSense patch: like [ws] without `websocket`, [prometheus] without
        // the `prometheus` feature is ignored with a warning.
        #[cfg(not(feature = "prometheus"))]
        if self.config.prometheus.is_some() {
            warn!("prometheus feature is disabled, [prometheus] config will be ignored.");
        }

        #[cfg(feature = "prometheus")]
        if let Some(prometheus_setting) = &self.config.prometheus {
            let timeout = prometheus_setting.interval;
            // If port is specified use it instead of listen.
            // NOTE: This means listen is ignored when `port` is specified.
            // `port` will be removed in future release in favour of `listen`
            let addr = {
                #[allow(deprecated)]
                match prometheus_setting.port {
                    Some(port) => SocketAddr::new("127.0.0.1".parse().unwrap(), port),
                    None => prometheus_setting.listen.unwrap_or(SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                        9042,
                    )),
                }
            };
            let metrics_thread = thread::Builder::new().name("Metrics".to_owned());
            let meter_link = self.meters().unwrap();
            metrics_thread.spawn(move || {
                let builder = PrometheusBuilder::new().with_http_listener(addr);
                builder.install().unwrap();

                let total_publishes = gauge!("metrics.router.total_publishes");
                let total_connections = gauge!("metrics.router.total_connections");
                let failed_publishes = gauge!("metrics.router.failed_publishes");
                loop {
                    if let Ok(metrics) = meter_link.recv() {
                        for m in metrics {
                            match m {
                                Meter::Router(_, ref r) => {
                                    total_connections.set(r.total_connections as f64);
                                    total_publishes.set(r.total_publishes as f64);
                                    failed_publishes.set(r.failed_publishes as f64);
                                }
                                _ => continue,
                            }
                        }
                    }

                    std::thread::sleep(Duration::from_secs(timeout));
                }
            })?;
        }

        if let Some(console) = self.config.console.clone() {
            let console_link = ConsoleLink::new(console, self.router_tx.clone());

            let console_link = Arc::new(console_link);
            let console_thread = thread::Builder::new().name("Console".to_string());
            console_thread.spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_current_thread();
                let runtime = runtime.enable_all().build().unwrap();
                runtime.block_on(console::start(console_link));
            })?;
        }

        // in ideal case, where server doesn't crash, join() will never resolve
        // we still try to join threads so that we don't return from function
        // unless everything crashes.
        server_thread_handles.into_iter().for_each(|handle| {
            // join() might panic in case the thread panics
            // we just ignore it
            let _ = handle.join();
        });

        Ok(())
    }
}

#[derive(Copy, Clone)]
pub enum LinkType {
    #[cfg(feature = "websocket")]
    Websocket,
    Remote,
}

#[derive(PartialEq)]
enum AwaitingWill {
    Cancel,
    Fire,
}

pub struct Server<P> {
    config: ServerSettings,
    router_tx: Sender<(ConnectionId, Event)>,
    protocol: P,
    awaiting_will_handler: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
}

impl<P: Protocol + Clone + Send + 'static> Server<P> {
    pub fn new(
        config: ServerSettings,
        router_tx: Sender<(ConnectionId, Event)>,
        protocol: P,
    ) -> Server<P> {
        Server {
            config,
            router_tx,
            protocol,
            awaiting_will_handler: Arc::new(Mutex::new(HashMap::default())),
        }
    }

    pub async fn start(&mut self, link_type: LinkType) -> Result<(), Error> {
        let listener = TcpListener::bind(&self.config.listen).await?;
        if let Some(tx) = &self.config.on_bound {
            let _ = tx.try_send((self.config.name.clone(), listener.local_addr()?));
        }
        let delay = Duration::from_millis(self.config.next_connection_delay_ms);
        let mut count: usize = 0;

        let config = Arc::new(self.config.connections.clone());
        info!(
            config = self.config.name,
            listen_addr = self.config.listen.to_string(),
            "Listening for remote connections",
        );
        // GridSense patch: pause and rate-limit the log after a failed
        // accept (accept_backoff.rs), not spin.
        let mut failures = super::accept_backoff::AcceptBackoff::default();
        loop {
            // Await new network connection.
            let (stream, addr) = match listener.accept().await {
                Ok((s, r)) => {
                    failures.accepted();
                    // GridSense patch: alarms and commands are small packets that
                    // must not wait for Nagle's algorithm (40 ms per hop).
                    let _ = s.set_nodelay(true);
                    (s, r)
                }
                Err(e) => {
                    let (pause, log) = failures.failed(std::time::Instant::now());
                    if let Some(n) = log {
                        error!(error=?e, failures = n, "Unable to accept socket.");
                    }
                    time::sleep(pause).await;
                    continue;
                }
            };

            // GridSense patch: an address the gate refuses is closed before
            // any handshake or task: a client that keeps coming back costs
            // one accept and one lookup.
            if let Some(gate) = &config.peer_gate {
                if !gate(crate::PeerEvent::Accepted(addr)) {
                    debug!(?addr, "refused by the peer gate");
                    drop(stream);
                    continue;
                }
            }

            info!(name=?self.config.name, ?addr, count, "accept");

            let config = config.clone();
            let router_tx = self.router_tx.clone();
            count += 1;

            let protocol = self.protocol.clone();
            let will_handlers = self.awaiting_will_handler.clone();
            // GridSense patch: the TLS and websocket handshakes run in the
            // connection's own task, not in the accept loop, so one slow
            // handshake does not hold back every other connection.
            let tls = self.config.tls.clone();
            // GridSense patch: the gate hears when this connection ends, on
            // every path out of its task.
            let closed = config
                .peer_gate
                .clone()
                .map(|gate| ClosedGuard { gate, addr });
            task::spawn(connection(
                Accepted {
                    stream,
                    addr,
                    link_type,
                    tls,
                    closed,
                },
                config,
                router_tx,
                protocol,
                will_handlers,
            ));

            // GridSense patch: no pause at all when none is configured (a
            // zero sleep still waits for the timer's next tick, ~1 ms per
            // accept: 10 s for a 10,000-client storm).
            if !delay.is_zero() {
                time::sleep(delay).await;
            }
        }
    }
}

/// GridSense patch: what the accept loop hands a connection's task.
struct Accepted {
    stream: TcpStream,
    addr: SocketAddr,
    link_type: LinkType,
    #[cfg_attr(
        not(any(feature = "use-rustls", feature = "use-native-tls")),
        allow(dead_code)
    )]
    tls: Option<crate::TlsConfig>,
    closed: Option<ClosedGuard>,
}

/// GridSense patch: one accepted connection's first task, from its TLS
/// (or websocket) handshake to its CONNACK; the link that follows runs as
/// a task of its own ([`Held::run`]). A task is as large as its largest
/// stage, and a compound holds thousands of connections for days: split
/// so, a held connection's task keeps the link and its loop (under 1 KB)
/// and none of the handshakes' state (the rustls handshake ~1.4 KB, the
/// CONNECT packet and link building ~3 KB), which is freed with this task.
async fn connection<P: Protocol + Clone + Send + 'static>(
    a: Accepted,
    config: Arc<ConnectionSettings>,
    router_tx: Sender<(ConnectionId, Event)>,
    protocol: P,
    will_handlers: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
) {
    let Accepted {
        stream,
        addr,
        link_type,
        tls,
        closed,
    } = a;
    #[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
    let accepted = Box::pin(tls_accept(tls.as_ref(), stream)).await;
    #[cfg(not(any(feature = "use-rustls", feature = "use-native-tls")))]
    let accepted: Result<(Box<dyn N>, Option<String>), Error> = {
        let _ = tls;
        Ok((Box::new(stream), None))
    };
    let (network, tenant_id) = match accepted {
        Ok(o) => o,
        Err(e) => {
            error!(error=?e, "Tls accept error");
            return;
        }
    };
    let (stream, span): (Box<dyn N>, _) = match link_type {
        #[cfg(feature = "websocket")]
        LinkType::Websocket => match Box::pin(accept_hdr_async(network, WSCallback)).await {
            Ok(s) => (
                Box::new(WsStream::new(s)),
                tracing::info_span!(
                    "websocket_link",
                    client_id = field::Empty,
                    connection_id = field::Empty
                ),
            ),
            Err(e) => {
                error!(error=?e, "Websocket failed handshake");
                return;
            }
        },
        LinkType::Remote => (
            network,
            tracing::error_span!(
                "remote_link",
                ?tenant_id,
                client_id = field::Empty,
                connection_id = field::Empty,
            ),
        ),
    };
    let opened = Box::pin(
        open(
            config,
            tenant_id,
            router_tx,
            stream,
            protocol,
            will_handlers,
            addr,
        )
        .instrument(span.clone()),
    )
    .await;
    if let Some(mut held) = opened {
        held.closed = closed;
        task::spawn(held.run().instrument(span));
    }
}

/// GridSense patch: tells the peer gate a connection ended when dropped.
struct ClosedGuard {
    gate: crate::PeerGate,
    addr: SocketAddr,
}

impl Drop for ClosedGuard {
    fn drop(&mut self) {
        (self.gate)(crate::PeerEvent::Closed(self.addr));
    }
}

/// Depending on TLS or not create a new Network
#[cfg(any(feature = "use-rustls", feature = "use-native-tls"))]
async fn tls_accept(
    tls: Option<&crate::TlsConfig>,
    stream: TcpStream,
) -> Result<(Box<dyn N>, Option<String>), Error> {
    match tls {
        Some(c) => {
            let (tenant_id, network) = TLSAcceptor::new(c)?.accept(stream).await?;
            Ok((network, tenant_id))
        }
        None => Ok((Box::new(stream), None)),
    }
}

/// Configures the Websocket connection to indicate the correct protocol
/// by adding the "sec-websocket-protocol" with value of "mqtt" to the response header
#[cfg(feature = "websocket")]
struct WSCallback;
#[cfg(feature = "websocket")]
impl Callback for WSCallback {
    fn on_request(
        self,
        _request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        response
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
        Ok(response)
    }
}

/// GridSense patch: tells the peer gate of a refused CONNECT (bad
/// credentials or client id, or a topic the ACL refuses), with the peer's
/// address.
fn report_refusal(gate: Option<&crate::PeerGate>, peer: SocketAddr, e: &remote::Error) {
    if let Some(gate) = gate {
        if matches!(
            e,
            remote::Error::InvalidAuth
                | remote::Error::InvalidClientId
                | remote::Error::NotAuthorized { .. }
        ) {
            gate(crate::PeerEvent::Refused(peer));
        }
    }
}

/// A new network connection should wait for a mqtt connect packet. This should be handled
/// asynchronously to avoid blocking other new connections while this connection is
/// waiting for mqtt connect packet. Also this honours connection wait time as per config to prevent
/// denial of service attacks (rogue clients which only establish network connections without
/// sending a mqtt connection packet to make the server reach its concurrent connection limit).
///
/// GridSense patch: this is the CONNECT to CONNACK half of what was
/// `remote`; it returns the started link for [`Held::run`], or `None` if
/// the client was refused or went away.
async fn open<P: Protocol>(
    config: Arc<ConnectionSettings>,
    tenant_id: Option<String>,
    router_tx: Sender<(ConnectionId, Event)>,
    stream: Box<dyn N>,
    protocol: P,
    will_handlers: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
    peer: std::net::SocketAddr,
) -> Option<Held<P>> {
    let gate = config.peer_gate.clone();
    let mut network = Network::new(
        stream,
        config.max_payload_size,
        config.max_inflight_count,
        protocol,
    );

    let dynamic_filters = config.dynamic_filters;
    let topic_acl = config.topic_acl.clone();

    let connect_packet = match mqtt_connect(config, &mut network).await {
        Ok(p) => p,
        Err(e) => {
            report_refusal(gate.as_ref(), peer, &e);
            error!(error=?e, "Error while handling MQTT connect packet");
            return None;
        }
    };

    let (mut client_id, clean_session) = match &connect_packet {
        Packet::Connect(ref connect, _, _, _, _) => {
            (connect.client_id.clone(), connect.clean_session)
        }
        _ => unreachable!(),
    };

    let mut assigned_client_id = None;
    if client_id.is_empty() {
        let uuid = Uuid::new_v4().simple();
        client_id = format!("rumqtt-{uuid}");
        assigned_client_id = Some(client_id.clone());
    }

    if let Some(tenant_id) = &tenant_id {
        // client_id is set to "tenant_id.client_id"
        // this is to make sure we are consistent,
        // as Connection uses this format of client_id
        client_id = format!("{tenant_id}.{client_id}");
    }

    if let Some(sender) = will_handlers.lock().unwrap().remove(&client_id) {
        let awaiting_will = if clean_session {
            AwaitingWill::Fire
        } else {
            AwaitingWill::Cancel
        };
        // GridSense patch: the previous connection's task may be gone (its
        // link failed before it waited on the will), leaving this sender's
        // receiver dropped; that is no reason to panic this connection.
        let _ = sender.try_send(awaiting_will);
    }

    let (will_tx, will_rx) = flume::bounded::<AwaitingWill>(1);
    will_handlers
        .lock()
        .unwrap()
        .insert(client_id.clone(), will_tx);

    // Start the link
    match RemoteLink::new(
        router_tx.clone(),
        tenant_id.clone(),
        network,
        connect_packet,
        dynamic_filters,
        assigned_client_id,
        topic_acl,
    )
    .await
    {
        Ok(link) => Some(Held {
            link,
            client_id,
            tenant_id,
            router_tx,
            will_rx,
            will_handlers,
            gate,
            peer,
            closed: None,
        }),
        Err(e) => {
            report_refusal(gate.as_ref(), peer, &e);
            error!(error=?e, "Remote link error");
            // GridSense patch: no will sender left behind for a link that
            // never started.
            will_handlers.lock().unwrap().remove(&client_id);
            None
        }
    }
}

/// GridSense patch: a connection whose CONNECT the router accepted: what
/// its task keeps while the client stays connected, and the last will's
/// handling after it goes.
struct Held<P> {
    link: RemoteLink<P>,
    client_id: String,
    tenant_id: Option<String>,
    router_tx: Sender<(ConnectionId, Event)>,
    will_rx: flume::Receiver<AwaitingWill>,
    will_handlers: Arc<Mutex<HashMap<String, Sender<AwaitingWill>>>>,
    gate: Option<crate::PeerGate>,
    peer: SocketAddr,
    /// Tells the peer gate the connection ended, however it does.
    closed: Option<ClosedGuard>,
}

impl<P: Protocol> Held<P> {
    /// Runs the link until it ends, then tells the router and publishes
    /// the last will once its delay has passed without a new session.
    ///
    /// An `async` block, not an `async fn`: an `async fn` moves its
    /// arguments into locals, and its future keeps both (488 bytes twice).
    /// The block captures only the fields it names (each by value), so
    /// each field it needs is named in it: `closed` last.
    fn run(mut self) -> impl std::future::Future<Output = ()> {
        async move {
            let connection_id = self.link.connection_id;
            let will_delay_interval = self.link.will_delay_interval;
            let mut send_disconnect = true;

            match self.link.start().await {
                // Connection got closed. This shouldn't usually happen.
                Ok(_) => error!("connection-stop"),
                // No need to send a disconnect message when disconnection
                // originated internally in the router.
                Err(remote::Error::Link(e)) => {
                    error!(error=?e, "router-drop");
                    send_disconnect = false;
                }
                // Connection was closed by peer
                Err(remote::Error::Network(network::Error::Io(err)) | remote::Error::Io(err))
                    if err.kind() == io::ErrorKind::ConnectionAborted =>
                {
                    info!(error=?err, "disconnected");
                }
                // Any other error
                Err(e) => {
                    report_refusal(self.gate.as_ref(), self.peer, &e);
                    error!(error=?e, "disconnected");
                }
            };

            if send_disconnect {
                let disconnect = Event::Disconnect;
                let message = (connection_id, disconnect);
                self.router_tx.send(message).ok();
            }

            // this is important to stop the connection
            drop(self.link);

            let publish_will = match tokio::time::timeout(
                Duration::from_secs(will_delay_interval as u64),
                self.will_rx.recv_async(),
            )
            .await
            {
                Ok(w) => w.is_ok_and(|k| k == AwaitingWill::Fire),
                Err(_) => {
                    // no need to keep the sender after timeout
                    self.will_handlers.lock().unwrap().remove(&self.client_id);
                    // as will delay interval has passed, publish the will message
                    true
                }
            };

            if publish_will {
                let message = Event::PublishWill((self.client_id, self.tenant_id));
                // is this connection_id really correct at this point?
                // as we have disconnected already, some other connection
                // might be using this connection ID!
                // It won't matter in this case as we don't use it
                // but might affect logs?
                self.router_tx.send((connection_id, message)).ok();
            }
            // The peer gate hears the connection ended only now.
            drop(self.closed);
        }
    }
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;

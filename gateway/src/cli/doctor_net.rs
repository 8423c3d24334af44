//! `gridsense doctor`'s network checks: every listener's address can be
//! bound, Modbus TCP endpoints answer, and the district broker is reachable,
//! its TLS certificate verifies and it accepts the gateway's credentials.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, TlsConfiguration, Transport};

use super::doctor_check::{Check, Status};
use crate::config::Config;
use crate::uplink::UplinkConfig;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The listeners' addresses can be bound now, and Modbus TCP endpoints accept
/// a connection.
pub fn ports(cfg: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    if cfg.mqtt.plain {
        out.push(bindable("mqtt", cfg.mqtt.listen));
    }
    if let Some(t) = &cfg.mqtt.tls {
        out.push(bindable("mqtt-tls", t.listen));
    }
    out.push(bindable("api", cfg.api.listen));
    if let Some(m) = &cfg.modbus {
        for l in &m.lines {
            if let modbus::LinkConfig::Tcp { addr } = &l.link {
                let what = format!("modbus tcp {addr}");
                out.push(match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
                    Ok(_) => Check::new(Status::Ok, what, "accepts a connection"),
                    Err(e) => Check::new(Status::Fail, what, e.to_string()),
                });
            }
        }
    }
    out
}

fn bindable(name: &str, addr: SocketAddr) -> Check {
    let what = format!("port {name} {addr}");
    match TcpListener::bind(addr) {
        Ok(_) => Check::new(Status::Ok, what, "free"),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Check::new(
            Status::Fail,
            what,
            "in use (a running gridsense? `ss -ltnp` names the process; stop it to check)",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Check::new(
            Status::Fail,
            what,
            format!("{e} (ports below 1024 need CAP_NET_BIND_SERVICE)"),
        ),
        Err(e) => Check::new(Status::Fail, what, e.to_string()),
    }
}

/// The uplink: TCP reachable, then an MQTT session (TLS verified when
/// configured, credentials accepted).
pub fn uplink(cfg: &Config) -> Vec<Check> {
    let Some(u) = &cfg.uplink else {
        return vec![Check::new(
            Status::Warn,
            "uplink",
            "no [uplink]: orders wait in the outbox until one is configured",
        )];
    };
    let target = format!("{}:{}", u.host, u.port);
    let reach = reachable(&target);
    let ok = reach.status == Status::Ok;
    let mut out = vec![reach];
    if ok {
        out.push(session(u, cfg.gateway.id.as_str(), &target));
    }
    out
}

fn reachable(target: &str) -> Check {
    let what = format!("uplink tcp {target}");
    let addrs = match target.to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return Check::new(Status::Fail, what, format!("does not resolve: {e}")),
    };
    let mut last = String::from("no address");
    for a in &addrs {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(_) => return Check::new(Status::Ok, what, format!("reachable at {a}")),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Check::new(
        Status::Fail,
        what,
        format!("{last} (firewall? the district's address and port?)"),
    )
}

fn session(u: &UplinkConfig, gateway: &str, target: &str) -> Check {
    let tls = u.tls.is_some();
    let what = format!("uplink mqtt{} {target}", if tls { "s" } else { "" });
    let opts = match options(u, gateway) {
        Ok(o) => o,
        Err(e) => return Check::new(Status::Fail, what, e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Check::new(Status::Fail, what, e.to_string()),
    };
    let outcome = rt.block_on(async {
        let (client, mut ev) = AsyncClient::new(opts, 4);
        let r = tokio::time::timeout(CONNECT_TIMEOUT * 2, async {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("no CONNACK within 10 s".into()));
        let _ = client.try_disconnect();
        r
    });
    let user = u.username.as_deref().unwrap_or("(anonymous)");
    match outcome {
        Ok(()) => {
            let how = if tls {
                "TLS certificate verified, session accepted"
            } else {
                "session accepted (plain TCP: set [uplink.tls] outside a lab)"
            };
            let status = if tls { Status::Ok } else { Status::Warn };
            Check::new(status, what, format!("{how} as {user}"))
        }
        Err(e) => Check::new(
            Status::Fail,
            what,
            format!("{e} (user {user}; the CA file, the password and the district's ACL)"),
        ),
    }
}

/// The options the uplink would connect with, under a client id of its own
/// (`<id>-doctor`) so a running gateway's session is not taken over.
fn options(u: &UplinkConfig, gateway: &str) -> Result<MqttOptions, String> {
    let id = format!("{}-doctor", u.client_id.as_deref().unwrap_or(gateway));
    let mut o = MqttOptions::new(id, u.host.clone(), u.port);
    o.set_keep_alive(Duration::from_secs(u.keep_alive_secs));
    o.set_clean_session(true);
    if let (Some(user), Some(p)) = (&u.username, u.password()?) {
        o.set_credentials(user, p);
    }
    if let Some(tls) = &u.tls {
        let tc = crate::uplink::tls::client_config(tls).map_err(|e| e.to_string())?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tc)));
    }
    Ok(o)
}

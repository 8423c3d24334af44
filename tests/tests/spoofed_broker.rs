//! A spoofed district broker (SECURITY.md, threat model): someone on the
//! path answers the gateway's uplink connection with a certificate of their
//! own for the broker's name. The uplink's TLS configuration, built from
//! `[uplink.tls] ca` by `gateway::uplink::tls::client_config`, refuses it
//! before a byte of a work order is sent, and talks to the real broker.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use gateway::uplink::TlsConfig;
use gateway::uplink::tls::client_config;
use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};

/// A broker on 127.0.0.1 with `cert`; returns its port and what it read.
fn broker(cert: &rcgen::CertifiedKey) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let key = PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()).into();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .expect("server config");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).expect("conn");
        let mut got = vec![0u8; 16];
        let n = rustls::Stream::new(&mut conn, &mut sock)
            .read(&mut got)
            .unwrap_or(0);
        got.truncate(n);
        got
    });
    (port, server)
}

/// The gateway's side: connects with the uplink's TLS config and sends `msg`.
fn uplink_sends(ca: &std::path::Path, port: u16, msg: &[u8]) -> Result<(), std::io::Error> {
    let config = client_config(&TlsConfig {
        ca: ca.to_path_buf(),
        client_cert: None,
        client_key: None,
    })
    .expect("uplink TLS config");
    let name = ServerName::try_from("district.example").expect("name");
    let mut conn = rustls::ClientConnection::new(config, name).expect("client");
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(msg)?;
    tls.flush()
}

#[test]
fn the_uplink_refuses_a_broker_its_ca_did_not_sign_and_sends_it_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let district = rcgen::generate_simple_self_signed(vec!["district.example".into()])
        .expect("the district's certificate");
    let impostor = rcgen::generate_simple_self_signed(vec!["district.example".into()])
        .expect("the impostor's certificate");
    let ca = dir.path().join("district-ca.pem");
    std::fs::write(&ca, district.cert.pem()).expect("write CA");

    let (port, server) = broker(&impostor);
    let refused = uplink_sends(&ca, port, b"ORDER gw01-1").expect_err("impostor accepted");
    assert!(
        refused.to_string().contains("certificate"),
        "refused for another reason: {refused}"
    );
    let read = server.join().expect("impostor thread");
    assert!(read.is_empty(), "the impostor read {read:?}");

    let (port, server) = broker(&district);
    uplink_sends(&ca, port, b"ORDER gw01-1").expect("the real broker");
    assert_eq!(server.join().expect("broker thread"), b"ORDER gw01-1");
}

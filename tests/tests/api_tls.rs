//! HTTPS on the API listener itself (`[api.tls]`): the console and the API
//! answer over TLS only, the login cookie is `Secure`, and a configuration
//! whose key cannot be read is refused by name before anything starts.

use std::sync::Arc;

use gridsense_tests::{Compound, GUARD_PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// One HTTP/1.1 request over TLS; the whole answer as text.
async fn https(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    // A peer may close without close_notify; what was read is the answer.
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_https_only_and_its_cookie_is_secure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
    let (cert_pem, key_pem) = (dir.path().join("api.pem"), dir.path().join("api.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).expect("write key");
    let c = Compound::start(&format!(
        "[api.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert_pem.display(),
        key_pem.display()
    ))
    .await;
    let addr = c.gw.as_ref().expect("running").api_addr;

    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("trust anchor");
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));

    let health = https(&connector, addr, "GET", "/healthz", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let anonymous = https(&connector, addr, "GET", "/api/alarms", "").await;
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    let login = https(
        &connector,
        addr,
        "POST",
        "/api/login",
        &format!(r#"{{"user":"guard","password":"{GUARD_PASSWORD}"}}"#),
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookie = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // Plain HTTP on the same port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut out),
    )
    .await;
    assert!(
        !String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"),
        "plain HTTP is not served"
    );

    // A key that cannot be read is named by `gridsense check`'s validation.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[gateway]\nid = \"gw01\"\nsite = \"lianhua\"\n[api.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert_pem.display(),
            dir.path().join("missing.key").display()
        ),
    )
    .expect("write config");
    let cfg = gateway::config::Config::load(&bad).expect("parses");
    let problems = gateway::config::validate::config(&cfg).expect_err("refused");
    let text = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    assert!(
        text.contains("api.tls") && text.contains("missing.key"),
        "{text}"
    );
}

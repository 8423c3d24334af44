//! The broker's TLS listener: a node connects over TLS with its own
//! credentials and its event is acknowledged, as on the plain listener.

use std::sync::Arc;
use std::time::Duration;

use gridsense_tests::{Client, Compound, ack, event};
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

#[tokio::test]
async fn a_node_talks_to_the_gateway_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    let (cert_pem, key_pem) = (dir.path().join("gw.pem"), dir.path().join("gw.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).expect("write key");
    let c = Compound::start(&format!(
        "[mqtt.tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\n",
        cert_pem.display(),
        key_pem.display()
    ))
    .await;
    let tls_addr =
        c.gw.as_ref()
            .and_then(|g| g.mqtt_tls_addr)
            .expect("TLS listener bound");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("trust anchor");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let id = "smoke-b1-201";
    let mut o = MqttOptions::new(id, "127.0.0.1", tls_addr.port());
    o.set_credentials(id, c.secrets[id].clone());
    o.set_keep_alive(Duration::from_secs(5));
    o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(config),
    )));
    let mut n = Client::connect(o, &[format!("gs/v1/dev/{id}/evt/ack")]).await;
    event(&n, id, r#"{"seq":1,"type":"test"}"#).await;
    ack(&mut n, 1).await;
    assert_eq!(c.store().events_for(id).expect("read").len(), 1);
}

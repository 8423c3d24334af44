//! The console's API against the real gateway over HTTP: an installer
//! registers a call button, the button's press (over its own MQTT
//! credentials) becomes a work order that is worked and closed locally
//! while no district platform is reachable (each move queued upstream as a
//! new revision), and `/metrics` counts it.

use std::time::Duration;

use gridsense_tests::{Client, Compound, ack, event};
use rumqttc::MqttOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_call_button_press_becomes_an_order_closed_locally() {
    // The uplink points at a port where nothing listens: the district is unreachable.
    let c = Compound::start("[uplink]\nhost = \"127.0.0.1\"\nport = 1\n").await;
    let (code, body) = c
        .http(
            "POST",
            "/api/devices",
            r#"{"id":"call-b1-lobby","profile":"call-button","location":"b1"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let secret = body["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    let (code, body) = c
        .http(
            "POST",
            "/api/devices",
            r#"{"id":"x y","profile":"nope","location":"b1"}"#,
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("profile")),
        "{body}"
    );

    let mut it = c.integrator().await;
    let mut o = MqttOptions::new("call-b1-lobby", "127.0.0.1", c.mqtt().port());
    o.set_credentials("call-b1-lobby", &secret);
    o.set_keep_alive(Duration::from_secs(5));
    let mut button = Client::connect(o, &["gs/v1/dev/call-b1-lobby/evt/ack".to_string()]).await;
    event(
        &button,
        "call-b1-lobby",
        r#"{"boot":1,"seq":1,"type":"alarm","cause":"help-call"}"#,
    )
    .await;
    ack(&mut button, 1).await;
    let (_, order) = it
        .wait_for("the help-call order", |t, v| {
            t.contains("/order/") && v["order"]["kind"] == "help-call"
        })
        .await;
    let id = order["order"]["order_id"].as_str().expect("id").to_string();
    assert_eq!(order["state"], "new");

    let (code, body) = c
        .http(
            "POST",
            &format!("/api/orders/{id}/accept"),
            r#"{"by":"g07-wang","note":"on my way"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = c.http("POST", &format!("/api/orders/{id}/close"), "").await;
    assert_eq!(code, 200, "accepted may close in the state machine");
    // Each local move waits in the outbox as a new revision for the
    // platform, carrying what was done on site.
    let outbox = c.store().outbox_fetch((0, 0), 100).expect("outbox");
    let revisions: Vec<serde_json::Value> = outbox
        .iter()
        .filter(|r| r.key == id)
        .map(|r| serde_json::from_slice(&r.payload).expect("json"))
        .collect();
    let states: Vec<(u64, &str)> = revisions
        .iter()
        .map(|v| {
            let local = v["local"]["state"].as_str().unwrap_or("-");
            (v["revision"].as_u64().expect("revision"), local)
        })
        .collect();
    assert_eq!(
        states,
        [(1, "-"), (2, "accepted"), (3, "closed")],
        "{revisions:?}"
    );
    assert_eq!(revisions[1]["local"]["by"], "g07-wang");
    assert_eq!(revisions[1]["local"]["note"], "on my way");
    assert_eq!(
        revisions[2]["state"], "new",
        "the gateway's own view is unchanged"
    );
    let (code, body) = c
        .http("POST", &format!("/api/orders/{id}/accept"), "")
        .await;
    assert_eq!(code, 409, "a closed order does not move: {body}");
    let (code, list) = c.http("GET", "/api/orders?state=closed", "").await;
    assert_eq!(code, 200);
    assert!(
        list["orders"]
            .as_array()
            .expect("list")
            .iter()
            .any(|o| o["order"]["order_id"] == id.as_str()),
        "{list}"
    );
    let (code, kpi) = c.http("GET", "/api/kpi", "").await;
    assert_eq!(code, 200);
    let cell = kpi["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .find(|k| k["all_time"]["closed"] == 1);
    assert!(cell.is_some(), "a cell with the closed order: {kpi}");

    // The registered device is in the site view with its presence.
    let (_, devices) = c.http("GET", "/api/devices", "").await;
    let d = devices
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["id"] == "call-b1-lobby")
        .cloned()
        .expect("listed");
    assert_eq!(d["profile"], "call-button");

    // The broker's own count of its network connections: the integrator
    // and the button; one less once the button's connection is gone.
    let connections = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("gridsense_broker_connections "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    let before = connections(&metrics(&c).await);
    assert!(before >= 2, "{before} connections");
    button.kill();
    let mut after = before;
    for _ in 0..100 {
        after = connections(&metrics(&c).await);
        if after < before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(after, before - 1, "the button's connection ended");

    // Metrics through the real listener.
    let text = metrics(&c).await;
    for m in [
        "gridsense_ingest_events_total",
        "gridsense_alarm_to_order_seconds_count 1",
        "gridsense_outbox_rows",
    ] {
        assert!(text.contains(m), "{m} in\n{text}");
    }
}

/// `GET /metrics` with the admin's token: the body as text.
async fn metrics(c: &Compound) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(c.gw.as_ref().expect("gw").api_addr)
        .await
        .expect("connect");
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        c.api_token
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// A one-thread HTTP endpoint (an SMS gateway's, say) answering 200 to
/// every POST; the bodies it got.
fn sms_endpoint() -> (String, std::sync::mpsc::Receiver<serde_json::Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/sms", l.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().take(8) {
            let Ok(s) = s else { return };
            let mut s = BufReader::new(s);
            let mut len = 0;
            loop {
                let mut line = String::new();
                if s.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            let _ = tx.send(serde_json::from_slice(&body).unwrap_or_default());
            let _ = s
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_who_left_a_phone_number_is_told_when_the_order_closes() {
    let (url, posts) = sms_endpoint();
    let c = Compound::start(&format!(
        "[uplink]\nhost = \"127.0.0.1\"\nport = 1\n[reports.notify]\nurl = \"{url}\"\nbackoff_ms = 20\n"
    ))
    .await;
    let (code, r) = c
        .http(
            "POST",
            "/report/lianhua",
            r#"{"place":"b1","text":"楼道灯坏了 hall light out","phone":"138-0000-0001"}"#,
        )
        .await;
    assert_eq!(code, 200, "{r}");
    let report = r["id"].as_str().expect("receipt").to_string();
    let mut order = None;
    for _ in 0..100 {
        let (_, list) = c.http("GET", "/api/orders", "").await;
        order = list["orders"].as_array().and_then(|l| {
            l.iter()
                .find(|o| o["order"]["kind"] == "help-call")
                .and_then(|o| o["order"]["order_id"].as_str().map(str::to_string))
        });
        if order.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order = order.expect("the report's order");
    let (code, body) = c
        .http(
            "POST",
            &format!("/api/orders/{order}/close"),
            r#"{"by":"g01-li","note":"已更换灯泡 bulb replaced"}"#,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let sms = tokio::task::spawn_blocking(move || posts.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join")
        .expect("the reporter is told");
    assert_eq!(sms["to"], "138-0000-0001");
    assert_eq!(sms["report_id"], report.as_str());
    assert_eq!(sms["order_id"], order.as_str());
    let text = sms["text"].as_str().expect("text");
    assert!(
        text.contains("已办结") && text.contains("was closed"),
        "{text}"
    );
    assert!(
        text.contains("bulb replaced") && text.contains("b1"),
        "{text}"
    );
    // The phone went to the endpoint only, not to the audit chain.
    let audit = c.store().audit_page(0, 10_000).expect("audit");
    assert!(
        !audit
            .iter()
            .any(|r| r.to_string().contains("138-0000-0001"))
    );
}

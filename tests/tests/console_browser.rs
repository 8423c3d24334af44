//! The console in a real headless browser (Debian's chromium driven over
//! WebDriver by chromedriver, both installed by scripts/setup.sh) against
//! the real gateway: the simulator's fire scenario reaches the screen, an
//! operator logs in, acknowledges, cannot reset while the detectors are in
//! alarm, and resets once they restore. Screenshots go to
//! `target/tmp/console-screens/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use gridsense_tests::{Compound, GUARD_PASSWORD, alarm, event};

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        port,
        profile: tempfile::tempdir().expect("profile dir"),
    }
}

async fn browser(d: &Driver) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,900",
    ];
    let mut args: Vec<String> = args.iter().map(ToString::to_string).collect();
    args.push(format!("--user-data-dir={}", d.profile.path().display()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    let conn = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(conn)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("a browser session")
}

fn screens() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screens");
    std::fs::create_dir_all(&dir).expect("screens dir");
    dir
}

async fn shot(b: &Client, name: &str) {
    let png = b.screenshot().await.expect("screenshot");
    let path = screens().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot {}", path.display());
}

fn wall_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits")
}

/// Waits until `script` (a JS expression) is true in the page.
async fn until(b: &Client, what: &str, script: &str) {
    let body = format!("return !!({script});");
    for _ in 0..200 {
        if b.execute(&body, vec![]).await.expect("script") == serde_json::Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}: {script}");
}

/// Logs in through the form.
async fn login(b: &Client, base: &str, user: &str, password: &str) {
    b.goto(&format!("{base}/console"))
        .await
        .expect("open console");
    b.wait()
        .for_element(Locator::Id("user"))
        .await
        .expect("login form")
        .send_keys(user)
        .await
        .expect("type user");
    b.find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(password)
        .await
        .expect("type password");
    b.find(Locator::Id("login-go"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    until(
        b,
        "the console after login",
        "!document.getElementById('app').hidden",
    )
    .await;
    until(
        b,
        "live events connected",
        "document.getElementById('live').classList.contains('on')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_reaches_the_console_and_an_operator_acks_then_resets_after_restore() {
    let c = Compound::start("").await;
    let base = format!("http://{}", c.gw.as_ref().expect("gw").api_addr);
    let d = driver().await;
    let b = browser(&d).await;

    // A wrong password is refused on the form.
    login_refused(&b, &base).await;
    login(&b, &base, "guard", GUARD_PASSWORD).await;
    shot(&b, "01-logged-in.png").await;

    let mut it = c.integrator().await;
    let watch = async {
        let a = alarm(&mut it, "a confirmed fire", |v| {
            v["kind"] == "fire" && v["state"] == "active"
        })
        .await;
        let confirmed = wall_ms();
        until(
            &b,
            "the fire screen",
            "!document.getElementById('fire').hidden",
        )
        .await;
        let key = format!("{}:active", a["id"].as_str().expect("id"));
        until(
            &b,
            "the confirmed state on screen",
            &format!("window.__alarmSeen['{key}']"),
        )
        .await;
        let seen = b
            .execute(&format!("return window.__alarmSeen['{key}'];"), vec![])
            .await
            .expect("seen at")
            .as_i64()
            .expect("a time");
        (a, confirmed, seen)
    };
    let (summary, (a, confirmed, seen)) = tokio::join!(c.run_scenario("fire-lianhua.toml"), watch);
    assert_eq!(summary.pending, 0, "{summary}");
    // Signed: the console may hear of it before the test's own MQTT client does.
    let latency = seen - i64::try_from(confirmed).expect("fits");
    eprintln!("confirmed fire on the console {latency} ms after an integrator saw it");
    assert!(
        latency < 1000,
        "the fire appears within 1 s of confirmation: {latency} ms"
    );
    let sounding = b
        .execute("return window.__alarmSounding === true;", vec![])
        .await
        .expect("sound");
    assert_eq!(
        sounding,
        serde_json::Value::Bool(true),
        "the audible alert runs"
    );
    let where_ = b
        .find(Locator::Id("fire-where"))
        .await
        .expect("where")
        .text()
        .await
        .expect("text");
    assert!(where_.contains(a["id"].as_str().expect("id")), "{where_}");
    shot(&b, "02-fire.png").await;

    // Acknowledge every open fire from the fire screen.
    let fires = b
        .execute(
            "return [...document.querySelectorAll('.alarm.kind-fire')].map(e => e.dataset.id);",
            vec![],
        )
        .await
        .expect("fires");
    let fires: Vec<String> = serde_json::from_value(fires).expect("ids");
    assert!(!fires.is_empty());
    for _ in 0..fires.len() {
        if b.execute("return document.getElementById('fire').hidden;", vec![])
            .await
            .expect("x")
            == serde_json::Value::Bool(true)
        {
            break;
        }
        b.find(Locator::Id("fire-ack"))
            .await
            .expect("ack")
            .click()
            .await
            .expect("click ack");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    until(&b, "every fire acknowledged", "document.querySelectorAll('.alarm.kind-fire.st-acknowledged').length === document.querySelectorAll('.alarm.kind-fire').length").await;
    until(
        &b,
        "the fire screen closed after the ack",
        "document.getElementById('fire').hidden",
    )
    .await;
    let acked = alarm(&mut it, "acknowledged", |v| v["state"] == "acknowledged").await;
    assert_eq!(acked["kind"], "fire");

    // Latched: the detectors are still in alarm, so reset is held, on the
    // screen and by the gateway.
    let id = &fires[0];
    let sel = format!("document.querySelector('.alarm[data-id=\"{id}\"]')");
    until(
        &b,
        "reset held",
        &format!("{sel}.querySelector('button.reset').disabled"),
    )
    .await;
    let latch = b
        .execute(
            &format!("return {sel}.querySelector('.latch').className;"),
            vec![],
        )
        .await
        .expect("latch");
    assert!(
        latch.as_str().is_some_and(|l| l.contains("held")),
        "{latch}"
    );
    let refused = b
        .execute_async(
            &format!("const done = arguments[0]; fetch('/api/alarms/{id}/reset', {{method: 'POST'}}).then(r => done(r.status));"),
            vec![],
        )
        .await
        .expect("reset attempt");
    assert_eq!(
        refused,
        serde_json::json!(409),
        "reset refused while a detector is in alarm"
    );
    shot(&b, "03-acknowledged-latched.png").await;

    // The detectors restore (each reports it as after a restart, boot 1000).
    let mut devices: Vec<String> = Vec::new();
    for f in &fires {
        let (_, open) = c.http("GET", "/api/alarms", "").await;
        let a = open
            .as_array()
            .and_then(|l| l.iter().find(|a| a["id"] == f.as_str()).cloned())
            .expect("open alarm");
        for d in a["devices"].as_array().expect("devices") {
            let d = d.as_str().expect("id").to_string();
            if !devices.contains(&d) {
                devices.push(d);
            }
        }
    }
    for d in &devices {
        let n = c.node(d).await;
        event(
            &n,
            d,
            r#"{"boot":1000,"seq":1,"type":"restore","cause":"smoke"}"#,
        )
        .await;
    }
    for f in &fires {
        let sel = format!("document.querySelector('.alarm[data-id=\"{f}\"]')");
        until(
            &b,
            "reset allowed after restore",
            &format!("{sel} && !{sel}.querySelector('button.reset').disabled"),
        )
        .await;
    }
    shot(&b, "04-restored.png").await;
    for f in &fires {
        b.find(Locator::Css(&format!(
            ".alarm[data-id=\"{f}\"] button.reset"
        )))
        .await
        .expect("reset button")
        .click()
        .await
        .expect("click reset");
        alarm(&mut it, "reset", |v| {
            v["id"] == f.as_str() && v["state"] == "reset"
        })
        .await;
    }
    until(
        &b,
        "no fire left on screen",
        "document.querySelectorAll('.alarm.kind-fire').length === 0",
    )
    .await;
    shot(&b, "05-reset.png").await;

    // The audit chain names the operator for every action.
    let (status, _) = c.http("GET", "/api/audit?after=0&limit=10000", "").await;
    assert_eq!(status, 200);
    let rows = c.store().audit_page(0, 10_000).expect("audit");
    for action in ["ack", "reset"] {
        assert!(
            rows.iter().any(|r| r["kind"] == "operator"
                && r["body"]["action"] == action
                && r["body"]["user"] == "guard"),
            "{action} audited with the user"
        );
    }
    b.close().await.expect("close browser");
}

async fn login_refused(b: &Client, base: &str) {
    b.goto(&format!("{base}/console"))
        .await
        .expect("open console");
    let user = b
        .wait()
        .for_element(Locator::Id("user"))
        .await
        .expect("form");
    user.send_keys("guard").await.expect("type");
    b.find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys("not the password")
        .await
        .expect("type");
    b.find(Locator::Id("login-go"))
        .await
        .expect("go")
        .click()
        .await
        .expect("click");
    until(
        b,
        "the refusal",
        "document.getElementById('login-err').textContent.length > 0",
    )
    .await;
    let hidden = b
        .execute("return document.getElementById('app').hidden;", vec![])
        .await
        .expect("x");
    assert_eq!(hidden, serde_json::Value::Bool(true), "still logged out");
}

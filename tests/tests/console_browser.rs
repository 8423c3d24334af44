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
    // The audit record follows the action's answer: wait for it (bounded).
    let audited = |rows: &[serde_json::Value], action: &str| {
        rows.iter().any(|r| {
            r["kind"] == "operator" && r["body"]["action"] == action && r["body"]["user"] == "guard"
        })
    };
    for _ in 0..100 {
        let rows = c.store().audit_page(0, 10_000).expect("audit");
        if audited(&rows, "ack") && audited(&rows, "reset") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = c.store().audit_page(0, 10_000).expect("audit");
    for action in ["ack", "reset"] {
        assert!(audited(&rows, action), "{action} audited with the user");
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

/// Clicks the button `.order-{action}` of order `id` in the console and
/// waits for the order to reach `state` there.
async fn order_step(b: &Client, id: &str, action: &str, state: &str) {
    click(
        b,
        &format!(".order[data-id=\"{id}\"] button.order-{action}"),
    )
    .await;
    let sel = format!("document.querySelector('.order[data-id=\"{id}\"]')");
    until(
        b,
        state,
        &format!("{sel} && {sel}.dataset.state === '{state}'"),
    )
    .await;
}

/// Clicks the element `css` from inside the page, once it exists (the
/// order queue is redrawn every second, so a found element can go stale).
async fn click(b: &Client, css: &str) {
    let css = serde_json::to_string(css).expect("json");
    until(
        b,
        css.as_str(),
        &format!(
            "(() => {{ const e = document.querySelector({css}); if (e) e.click(); return !!e; }})()"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_report_becomes_an_order_that_closes_with_feedback() {
    let c = Compound::start("").await;
    let base = format!("http://{}", c.gw.as_ref().expect("gw").api_addr);
    let d = driver().await;
    let b = browser(&d).await;

    // The resident: the public form, no login.
    b.goto(&format!("{base}/report/lianhua"))
        .await
        .expect("form");
    until(
        &b,
        "the places",
        "document.querySelectorAll('#place option').length > 0",
    )
    .await;
    b.execute(
        "const s = document.getElementById('place'); s.value = [...s.options].find(o => o.value === 'b1').value;",
        vec![],
    )
    .await
    .expect("pick b1");
    b.find(Locator::Id("text"))
        .await
        .expect("text")
        .send_keys("楼道灯坏了 the stair light is out")
        .await
        .expect("type");
    b.find(Locator::Id("phone"))
        .await
        .expect("phone")
        .send_keys("138-0000-0000")
        .await
        .expect("type");
    shot(&b, "10-report-form.png").await;
    b.find(Locator::Id("send"))
        .await
        .expect("send")
        .click()
        .await
        .expect("click");
    until(
        &b,
        "the receipt",
        "!document.getElementById('receipt').hidden",
    )
    .await;
    let receipt = b
        .find(Locator::Id("rid"))
        .await
        .expect("rid")
        .text()
        .await
        .expect("text");
    assert!(receipt.starts_with('r'), "{receipt}");
    let report_url = b.current_url().await.expect("url");
    shot(&b, "11-report-receipt.png").await;

    // The grid worker: the order is in the console's queue with its SLA.
    login(&b, &base, "guard", GUARD_PASSWORD).await;
    b.find(Locator::Css("#tabs button[data-tab=orders]"))
        .await
        .expect("tab")
        .click()
        .await
        .expect("click");
    until(
        &b,
        "the report's order",
        "[...document.querySelectorAll('.order')].some(e => e.textContent.includes('stair light'))",
    )
    .await;
    let id = b
        .execute(
            "return [...document.querySelectorAll('.order')].find(e => e.textContent.includes('stair light')).dataset.id;",
            vec![],
        )
        .await
        .expect("order id");
    let id = id.as_str().expect("id").to_string();
    let sla = b
        .find(Locator::Css(&format!(".order[data-id=\"{id}\"] .sla")))
        .await
        .expect("an SLA countdown")
        .text()
        .await
        .expect("text");
    assert!(!sla.is_empty(), "SLA shown");
    shot(&b, "12-order-queue.png").await;
    order_step(&b, &id, "accept", "accepted").await;
    order_step(&b, &id, "dispatch", "dispatched").await;
    order_step(&b, &id, "resolve", "resolved").await;
    b.find(Locator::Id("order-note"))
        .await
        .expect("note")
        .send_keys("灯已更换 light replaced")
        .await
        .expect("type");
    click(&b, &format!(".order[data-id=\"{id}\"] button.order-close")).await;
    until(&b, "the order off the open queue", &format!("!document.querySelector('.order[data-id=\"{id}\"]') || document.querySelector('.order[data-id=\"{id}\"]').dataset.state === 'closed'")).await;

    // The resident's receipt page tells them it is done, with the note.
    b.goto(report_url.as_str()).await.expect("back to the form");
    let status = format!("/report/lianhua/status/{receipt}");
    let (code, s) = c.http("GET", &status, "").await;
    assert_eq!(code, 200);
    assert_eq!(s["order"], id.as_str());
    for _ in 0..100 {
        let (_, s) = c.http("GET", &status, "").await;
        if s["state"] == "closed" && s["notice"].is_object() {
            assert_eq!(s["notice"]["note"], "灯已更换 light replaced", "{s}");
            assert_eq!(s["notice"]["by"], "guard", "{s}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, s) = c.http("GET", &status, "").await;
    assert_eq!(s["state"], "closed", "{s}");
    // The receipt page itself, as the resident would reload it.
    b.execute(&format!("document.getElementById('f').hidden = true; document.getElementById('receipt').hidden = false; document.getElementById('rid').textContent = '{receipt}'; watch('{status}');"), vec![])
        .await
        .expect("watch");
    until(&b, "done on the receipt", "document.getElementById('state').dataset.state === 'closed' && !document.getElementById('done').hidden").await;
    shot(&b, "13-report-done.png").await;

    // The KPI screen: the closed order counted in its cell, closure 100 %.
    b.goto(&format!("{base}/console")).await.expect("console");
    click(&b, "#tabs button[data-tab=kpi]").await;
    until(
        &b,
        "a KPI row with the closed order",
        "[...document.querySelectorAll('#kpi tbody tr')].some(r => Number(r.cells[2].textContent) >= 1 && r.cells[3].textContent === '100%')",
    )
    .await;
    shot(&b, "14-kpi.png").await;

    // The maintenance screen: a window over building 1 set from the form,
    // listed with who set it and why, kept by the gateway, then ended.
    click(&b, "#tabs button[data-tab=maint]").await;
    b.find(Locator::Id("maint-target"))
        .await
        .expect("target field")
        .send_keys("b1")
        .await
        .expect("type");
    b.find(Locator::Id("maint-reason"))
        .await
        .expect("reason field")
        .send_keys("烟感年检 annual detector test")
        .await
        .expect("type");
    click(&b, "#maint-form button[type=submit]").await;
    until(
        &b,
        "the window listed",
        "[...document.querySelectorAll('#maint .card')].some(c => c.querySelector('b').textContent === 'b1' && c.textContent.includes('guard') && c.textContent.includes('annual detector test'))",
    )
    .await;
    shot(&b, "15-maintenance.png").await;
    let (code, windows) = c.http("GET", "/api/maintenance", "").await;
    assert_eq!(code, 200);
    assert!(
        windows
            .as_array()
            .expect("list")
            .iter()
            .any(|w| w["target"] == "b1" && w["by"] == "guard"),
        "{windows}"
    );
    click(&b, "#maint .card button").await;
    until(
        &b,
        "the window ended",
        "!document.querySelector('#maint .card')",
    )
    .await;
    let (_, windows) = c.http("GET", "/api/maintenance", "").await;
    assert_eq!(windows.as_array().map(Vec::len), Some(0), "{windows}");
    let store = c.store();
    let audit = store.audit_page(0, 10_000).expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r["kind"] == "report" && r["body"]["phone_given"] == true)
    );
    assert!(
        !audit
            .iter()
            .any(|r| r.to_string().contains("138-0000-0000")),
        "no phone in the audit chain"
    );
    assert!(
        audit
            .iter()
            .any(|r| r["kind"] == "api.order.close" && r["body"]["user"] == "guard")
    );
    b.close().await.expect("close browser");
}

//! Handler tests over the real router, a real store (SQLite file, writer
//! and reader threads) and a small stand-in for the analysis task that
//! answers the open-alarm question; driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::{ApiSection, ApiState, Console, Operators, router};
use crate::alarms::AlarmPolicy;
use crate::analysis::Control;
use crate::auth::{hash_password, new_token, token_hash};
use crate::clock::{ManualClock, SharedClock};
use crate::registry::{Registry, RegistryCell};
use crate::store::{AuthWrite, Store, StoreConfig, UserRow, Write, spawn_writer};

const T0: u64 = 1_763_900_000_000;

struct Api {
    state: ApiState,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let dir = tempfile::tempdir().expect("dir");
    let clock: SharedClock = Arc::new(ManualClock::new(T0));
    let store = Store::open(&dir.path().join("gw.db")).expect("store");
    let (store, _writer) =
        spawn_writer(store, StoreConfig::default(), clock.clone()).expect("writer");
    let registry = Arc::new(RegistryCell::new(Registry::default()));
    let (control, mut rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            if let Control::Alarms { reply } = c {
                let _ = reply.send(Vec::new());
            }
        }
    });
    let tasks = crate::tasks::Tasks::new(tokio_util::sync::CancellationToken::new());
    let health = crate::health::Health {
        tasks,
        beats: crate::health::Beats::default(),
        store: store.clone(),
    };
    let site = protocol::Name::new("lianhua").expect("site");
    let gw = protocol::Name::new("gw01").expect("gateway");
    let console = Console::new(
        &ApiSection::default(),
        &store,
        &registry,
        &clock,
        (&gw, &site),
        crate::metrics::Sources {
            store: Some(store.clone()),
            ..Default::default()
        },
    );
    let state = ApiState {
        operators: Operators::new(&control, &store, &registry, &clock, &AlarmPolicy::default()),
        control,
        rejects: Arc::default(),
        health,
        console: Arc::new(console),
    };
    for (name, role) in [
        ("li", "operator"),
        ("wang", "viewer"),
        ("zhao", "installer"),
        ("root", "admin"),
    ] {
        let user = UserRow {
            name: name.into(),
            role: role.into(),
            hash: hash_password("a long password").expect("hash"),
            created_ms: T0,
            disabled: false,
        };
        let w = Write::Auth(AuthWrite::User {
            user,
            by: "test".into(),
        });
        state.console.store.write(w).await.expect("user");
    }
    Api { state, _dir: dir }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let r = router(self.state.clone())
            .oneshot(req)
            .await
            .expect("answer");
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Logs in; returns the `Cookie` header value.
    async fn login(&self, user: &str) -> String {
        let (status, headers, body) = self
            .send(post(
                "/api/login",
                &format!(r#"{{"user":"{user}","password":"a long password"}}"#),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set = headers[header::SET_COOKIE].to_str().expect("cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        set.split(';').next().expect("pair").to_string()
    }

    async fn token(&self, user: &str) -> String {
        let (id, token) = new_token().expect("token");
        let w = Write::Auth(AuthWrite::Token {
            id,
            user: user.into(),
            hash: token_hash(&token),
            at: T0,
            by: "test".into(),
        });
        self.state.console.store.write(w).await.expect("token");
        token
    }
}

fn post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

fn with(mut r: Request<Body>, name: header::HeaderName, value: &str) -> Request<Body> {
    r.headers_mut().insert(name, value.parse().expect("header"));
    r
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn anonymous_requests_get_401_as_problem_json() {
    let a = api().await;
    for path in [
        "/api/alarms",
        "/api/orders",
        "/api/devices",
        "/api/site",
        "/api/kpi",
        "/api/events",
        "/metrics",
        "/api/me",
    ] {
        let (status, headers, body) = a.send(get(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
        let p: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(p["status"], 401, "{body}");
    }
    let (status, ..) = a.send(post("/api/alarms/gw01-a1/ack", "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ..) = a
        .send(with(
            get("/api/alarms"),
            header::AUTHORIZATION,
            "Bearer gst_00_forged",
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a forged token");
    let (status, ..) = a
        .send(with(
            get("/api/alarms"),
            header::COOKIE,
            "gs_session=forged",
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a forged session");
}

#[tokio::test]
async fn public_routes_answer_without_login() {
    let a = api().await;
    for path in ["/healthz", "/console", "/api/openapi.json", "/api/docs"] {
        let (status, _, body) = a.send(get(path)).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let (_, _, doc) = a.send(get("/api/openapi.json")).await;
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    for p in [
        "/api/alarms/{id}/{action}",
        "/api/orders",
        "/api/login",
        "/api/events",
        "/metrics",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }
}

#[tokio::test]
async fn a_wrong_password_gets_401_and_repeated_tries_get_429() {
    let a = api().await;
    let bad = r#"{"user":"li","password":"wrong password"}"#;
    let (status, headers, _) = a.send(post("/api/login", bad)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (status, ..) = a
        .send(post(
            "/api/login",
            r#"{"user":"nobody","password":"whatever it is"}"#,
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an unknown user reads the same"
    );
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = a.send(post("/api/login", bad)).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let (status, ..) = a
        .send(post(
            "/api/login",
            r#"{"user":"li","password":"a long password"}"#,
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let audit = a
        .state
        .console
        .store
        .read(|s| s.audit_page(0, 100))
        .await
        .expect("audit");
    let kinds: Vec<&str> = audit.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"api.login.refused") && kinds.contains(&"api.login.limited"),
        "{kinds:?}"
    );
    assert!(
        !audit
            .iter()
            .any(|r| r.to_string().contains("wrong password")),
        "no password in the audit"
    );
}

#[tokio::test]
async fn a_session_cookie_reads_and_a_viewer_cannot_act() {
    let a = api().await;
    let viewer = a.login("wang").await;
    let (status, _, body) = a.send(with(get("/api/me"), header::COOKIE, &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""role":"viewer""#), "{body}");
    let (status, ..) = a
        .send(with(get("/api/alarms"), header::COOKIE, &viewer))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = a
        .send(with(
            post("/api/alarms/gw01-a1/ack", ""),
            header::COOKIE,
            &viewer,
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let (status, ..) = a
        .send(with(
            post("/api/orders/gw01-1/accept", ""),
            header::COOKIE,
            &viewer,
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let m = r#"{"target":"b1","on":true,"reason":"x","for_s":60}"#;
    let (status, ..) = a
        .send(with(post("/api/maintenance", m), header::COOKIE, &viewer))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, ..) = a
        .send(with(get("/api/audit"), header::COOKIE, &viewer))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the audit export is for admins"
    );
    let (status, ..) = a
        .send(with(post("/api/logout", ""), header::COOKIE, &viewer))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = a.send(with(get("/api/me"), header::COOKIE, &viewer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logged out");
}

#[tokio::test]
async fn an_operator_acts_and_the_outcome_is_audited_with_the_user() {
    let a = api().await;
    let op = a.login("li").await;
    let (status, _, body) = a
        .send(with(
            post("/api/alarms/gw01-a9/ack", r#"{"reason":"on my way"}"#),
            header::COOKIE,
            &op,
        ))
        .await;
    // The stand-in analysis task never answers operator requests: it is dropped, so 503.
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, _, body) = a
        .send(with(
            post("/api/orders/gw01-1/accept", ""),
            header::COOKIE,
            &op,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, ..) = a
        .send(with(
            post("/api/orders/gw01-1/fly", ""),
            header::COOKIE,
            &op,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let installer = a.login("zhao").await;
    let (status, ..) = a
        .send(with(
            post("/api/alarms/gw01-a9/reset", ""),
            header::COOKIE,
            &installer,
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an installer does not reset alarms"
    );
    let (status, ..) = a
        .send(with(get("/api/quarantine"), header::COOKIE, &installer))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bearer_token_works_for_machines_and_admins_export_the_audit() {
    let a = api().await;
    let token = a.token("root").await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = a
        .send(with(get("/metrics"), header::AUTHORIZATION, &bearer))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for m in [
        "gridsense_store_batches_total",
        "gridsense_outbox_rows",
        "gridsense_alarm_to_order_seconds_bucket",
        "gridsense_healthy",
    ] {
        assert!(body.contains(m), "{m} in {body}");
    }
    let (status, headers, body) = a
        .send(with(
            get("/api/audit?after=0"),
            header::AUTHORIZATION,
            &bearer,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-ndjson");
    let first: serde_json::Value =
        serde_json::from_str(body.lines().next().expect("a record")).expect("json");
    assert_eq!(first["kind"], "user.set");
    assert!(!body.contains("argon2"), "no password hash in the audit");
    let viewer = a.token("wang").await;
    let (status, ..) = a
        .send(with(
            post("/api/tokens", ""),
            header::AUTHORIZATION,
            &format!("Bearer {viewer}"),
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = a
        .send(with(
            post(
                "/api/users",
                r#"{"name":"new","role":"operator","password":"short"}"#,
            ),
            header::AUTHORIZATION,
            &bearer,
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, ..) = a
        .send(with(
            post(
                "/api/users",
                r#"{"name":"new","role":"operator","password":"long enough now"}"#,
            ),
            header::AUTHORIZATION,
            &bearer,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
}

//! `onvif-camera-sim`: an ONVIF camera for tests and the demo, written from
//! the ONVIF Core Specification (SOAP 1.2 over HTTP, WS-Security
//! UsernameToken), the Media (ver10) and Event (PullPoint) service WSDLs and
//! WS-BaseNotification. It reads requests with its own string scanning, not
//! the gateway's XML parser, so a test against it checks the gateway's
//! requests against a second reading of the specifications.
//!
//! Services: device (`GetSystemDateAndTime` without credentials,
//! `GetServices`, `GetCapabilities`), media (`GetProfiles`,
//! `GetSnapshotUri`), events (`CreatePullPointSubscription`) and each
//! subscription (`PullMessages`, `Renew`, `Unsubscribe`). Every other
//! request must carry a UsernameToken whose PasswordDigest matches
//! (`Base64(SHA-1(nonce + created + password))`), or gets a
//! `ter:NotAuthorized` fault. It can be told to emit a notification of a
//! topic, to stop answering (requests hang), to answer again, and to
//! restart (subscriptions forgotten, as after a reboot); it records every
//! request.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use protocol::gbt26875::TimeTag;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The snapshot profile's token.
pub const PROFILE: &str = "profile_1";

/// A request the camera received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The path it was sent to.
    pub path: String,
    /// The body element's local name (`PullMessages`, ...).
    pub action: String,
    /// The UsernameToken's user, if any.
    pub user: Option<String>,
    /// Whether its credentials were accepted (or none were needed).
    pub authorized: bool,
    /// When it arrived, since the simulator started.
    pub at: Duration,
}

#[derive(Debug)]
struct Sub {
    queue: VecDeque<String>,
    ends: Instant,
}

#[derive(Debug)]
struct St {
    username: String,
    password: String,
    answering: bool,
    subs: HashMap<u64, Sub>,
    next_sub: u64,
    requests: Vec<Request>,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    started: Instant,
    st: Mutex<St>,
    /// Woken on a new notification or when answering resumes.
    wake: Notify,
}

/// A running simulated camera.
#[derive(Debug)]
pub struct OnvifSim {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OnvifSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OnvifSim {
    /// Listens on `listen` with the account `username` / `password`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(listen: &str, username: &str, password: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let inner = Arc::new(Inner {
            addr: listener.local_addr()?,
            started: Instant::now(),
            st: Mutex::new(St {
                username: username.into(),
                password: password.into(),
                answering: true,
                subs: HashMap::new(),
                next_sub: 1,
                requests: Vec::new(),
            }),
            wake: Notify::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { inner, task })
    }

    fn st(&self) -> std::sync::MutexGuard<'_, St> {
        self.inner.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Its device service address (what `[[cameras]] address` names).
    pub fn device_url(&self) -> String {
        format!("http://{}/onvif/device_service", self.inner.addr)
    }

    /// The snapshot address `GetSnapshotUri` gives.
    pub fn snapshot_uri(&self) -> String {
        snapshot_uri(self.inner.addr)
    }

    /// Queues a `Changed` notification of `topic` (e.g.
    /// `tns1:RuleEngine/FieldDetector/ObjectsInside`) with `data` items for
    /// every live subscription; the number of subscriptions it went to.
    pub fn emit(&self, topic: &str, data: &[(&str, &str)]) -> usize {
        self.emit_with(topic, "Changed", data)
    }

    /// [`OnvifSim::emit`] with a property operation of choice.
    pub fn emit_with(&self, topic: &str, operation: &str, data: &[(&str, &str)]) -> usize {
        let msg = notification(topic, operation, data);
        let mut st = self.st();
        let now = Instant::now();
        let mut n = 0;
        for s in st.subs.values_mut().filter(|s| s.ends > now) {
            s.queue.push_back(msg.clone());
            n += 1;
        }
        drop(st);
        self.inner.wake.notify_waiters();
        n
    }

    /// Stops answering (requests hang) or answers again.
    pub fn set_answering(&self, on: bool) {
        self.st().answering = on;
        self.inner.wake.notify_waiters();
    }

    /// Changes the account's password.
    pub fn set_password(&self, password: &str) {
        self.st().password = password.into();
    }

    /// A reboot: every subscription is forgotten.
    pub fn restart(&self) {
        self.st().subs.clear();
        self.inner.wake.notify_waiters();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.st().requests.clone()
    }

    /// Requests of `action` so far (authorized or not).
    pub fn count(&self, action: &str) -> usize {
        self.st()
            .requests
            .iter()
            .filter(|r| r.action == action)
            .count()
    }

    /// Subscriptions alive now.
    pub fn live_subscriptions(&self) -> usize {
        let now = Instant::now();
        self.st().subs.values().filter(|s| s.ends > now).count()
    }

    /// Waits until `f` holds or `limit` passes; whether it held.
    pub async fn wait_until(&self, limit: Duration, f: impl Fn(&Self) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if f(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        f(self)
    }
}

fn snapshot_uri(addr: SocketAddr) -> String {
    format!("http://{addr}/onvif/snapshot?profile={PROFILE}")
}

/// The text of the first element named `local` (any prefix).
fn element_text<'a>(xml: &'a str, local: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = xml[from..].find(local) {
        let at = from + i;
        from = at + local.len();
        let before = xml[..at].chars().last();
        let after = xml[from..].chars().next();
        if !matches!(before, Some('<' | ':')) || !matches!(after, Some('>' | ' ' | '/')) {
            continue;
        }
        // The start tag's opening '<' must not be a closing tag's.
        let open = xml[..at].rfind('<')?;
        if xml[open..].starts_with("</") {
            continue;
        }
        let close = at + xml[at..].find('>')?;
        if xml[..close].ends_with('/') {
            return Some("");
        }
        let rest = &xml[close + 1..];
        return Some(rest[..rest.find('<').unwrap_or(rest.len())].trim());
    }
    None
}

/// The local name of the body's first element.
fn body_action(xml: &str) -> String {
    let Some(b) = xml.find(":Body>").or_else(|| xml.find("<Body>")) else {
        return String::new();
    };
    let rest = &xml[b..];
    let Some(lt) = rest[1..].find('<') else {
        return String::new();
    };
    let tag = &rest[lt + 2..];
    let name: String = tag
        .chars()
        .take_while(|c| !matches!(c, ' ' | '>' | '/'))
        .collect();
    name.rsplit(':').next().unwrap_or("").to_string()
}

/// `PTnS` as seconds.
fn seconds(d: Option<&str>) -> Option<u64> {
    d?.strip_prefix("PT")?.strip_suffix('S')?.parse().ok()
}

fn check_token(xml: &str, username: &str, password: &str) -> (Option<String>, bool) {
    let user = element_text(xml, "Username").map(str::to_string);
    let ok = (|| {
        let nonce = STANDARD.decode(element_text(xml, "Nonce")?).ok()?;
        let created = element_text(xml, "Created")?;
        let digest = element_text(xml, "Password")?;
        let mut h = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        h.update(&nonce);
        h.update(created.as_bytes());
        h.update(password.as_bytes());
        let want = STANDARD.encode(h.finish().as_ref());
        Some(user.as_deref() == Some(username) && digest == want)
    })()
    .unwrap_or(false);
    (user, ok)
}

async fn handle(State(sim): State<Arc<Inner>>, uri: Uri, body: Bytes) -> Response {
    let xml = String::from_utf8_lossy(&body).into_owned();
    let action = body_action(&xml);
    let path = uri.path().to_string();
    // A camera that stopped answering: the request hangs.
    loop {
        let wait = sim.wake.notified();
        if sim.st.lock().unwrap_or_else(|e| e.into_inner()).answering {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wait).await;
    }
    let (user, authorized) = {
        let st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
        if action == "GetSystemDateAndTime" {
            (None, true)
        } else {
            check_token(&xml, &st.username, &st.password)
        }
    };
    {
        let mut st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(Request {
            path: path.clone(),
            action: action.clone(),
            user,
            authorized,
            at: sim.started.elapsed(),
        });
    }
    if !authorized {
        return fault(
            StatusCode::BAD_REQUEST,
            "env:Sender",
            "ter:NotAuthorized",
            "Sender not authorized",
        );
    }
    answer(&sim, &path, &action, &xml).await
}

async fn answer(sim: &Inner, path: &str, action: &str, xml: &str) -> Response {
    let a = sim.addr;
    let now = now_ms();
    match (path, action) {
        ("/onvif/device_service", "GetSystemDateAndTime") => {
            let t = TimeTag::from_unix_ms(now);
            ok(&format!(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                t.hour, t.minute, t.second, t.year, t.month, t.day
            ))
        }
        ("/onvif/device_service", "GetServices") => ok(&format!(
            "<tds:GetServicesResponse>{}{}{}</tds:GetServicesResponse>",
            service(
                "http://www.onvif.org/ver10/device/wsdl",
                &format!("http://{a}/onvif/device_service")
            ),
            service(
                "http://www.onvif.org/ver10/media/wsdl",
                &format!("http://{a}/onvif/media_service")
            ),
            service(
                "http://www.onvif.org/ver10/events/wsdl",
                &format!("http://{a}/onvif/event_service")
            ),
        )),
        ("/onvif/device_service", "GetCapabilities") => ok(&format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Events><tt:XAddr>http://{a}/onvif/event_service</tt:XAddr><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events><tt:Media><tt:XAddr>http://{a}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
        )),
        ("/onvif/media_service", "GetProfiles") => ok(&format!(
            "<trt:GetProfilesResponse><trt:Profiles token=\"{PROFILE}\" fixed=\"true\"><tt:Name>mainStream</tt:Name></trt:Profiles></trt:GetProfilesResponse>"
        )),
        ("/onvif/media_service", "GetSnapshotUri")
            if element_text(xml, "ProfileToken") == Some(PROFILE) =>
        {
            ok(&format!(
                "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>",
                snapshot_uri(a).replace('&', "&amp;")
            ))
        }
        ("/onvif/event_service", "CreatePullPointSubscription") => {
            let secs = seconds(element_text(xml, "InitialTerminationTime")).unwrap_or(60);
            let id = {
                let mut st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
                let id = st.next_sub;
                st.next_sub += 1;
                // Properties report their state at the start (nothing inside).
                let init = notification(
                    "tns1:RuleEngine/FieldDetector/ObjectsInside",
                    "Initialized",
                    &[("IsInside", "false")],
                );
                st.subs.insert(
                    id,
                    Sub {
                        queue: VecDeque::from([init]),
                        ends: Instant::now() + Duration::from_secs(secs),
                    },
                );
                id
            };
            ok(&format!(
                "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa5:Address>http://{a}/onvif/subscription/{id}</wsa5:Address></tev:SubscriptionReference><wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
                iso(now),
                iso(now + secs * 1000)
            ))
        }
        (p, _) if p.starts_with("/onvif/subscription/") => {
            let id: u64 = p["/onvif/subscription/".len()..].parse().unwrap_or(0);
            subscription(sim, id, action, xml).await
        }
        _ => fault(
            StatusCode::BAD_REQUEST,
            "env:Sender",
            "ter:ActionNotSupported",
            "not supported here",
        ),
    }
}

async fn subscription(sim: &Inner, id: u64, action: &str, xml: &str) -> Response {
    let gone = || {
        fault(
            StatusCode::BAD_REQUEST,
            "env:Sender",
            "wsrf-rw:ResourceUnknownFault",
            "no such subscription",
        )
    };
    match action {
        "PullMessages" => {
            let wait = seconds(element_text(xml, "Timeout")).unwrap_or(10).min(60);
            let limit: usize = element_text(xml, "MessageLimit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            let end = tokio::time::Instant::now() + Duration::from_secs(wait);
            let msgs = loop {
                let notified = sim.wake.notified();
                {
                    let mut st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
                    if !live(&st, id) {
                        st.subs.remove(&id);
                        return gone();
                    }
                    let q = &mut st.subs.get_mut(&id).expect("live").queue;
                    if !q.is_empty() || tokio::time::Instant::now() >= end {
                        let n = q.len().min(limit);
                        break q.drain(..n).collect::<Vec<_>>();
                    }
                }
                let _ = tokio::time::timeout_at(end, notified).await;
            };
            let now = now_ms();
            let ends = {
                let st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
                st.subs.get(&id).map_or(now, |s| {
                    now + s.ends.saturating_duration_since(Instant::now()).as_millis() as u64
                })
            };
            ok(&format!(
                "<tev:PullMessagesResponse><tev:CurrentTime>{}</tev:CurrentTime><tev:TerminationTime>{}</tev:TerminationTime>{}</tev:PullMessagesResponse>",
                iso(now),
                iso(ends),
                msgs.concat()
            ))
        }
        "Renew" => {
            let secs = seconds(element_text(xml, "TerminationTime")).unwrap_or(60);
            let mut st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
            if !live(&st, id) {
                return gone();
            }
            if let Some(s) = st.subs.get_mut(&id) {
                s.ends = Instant::now() + Duration::from_secs(secs);
            }
            let now = now_ms();
            ok(&format!(
                "<wsnt:RenewResponse><wsnt:TerminationTime>{}</wsnt:TerminationTime><wsnt:CurrentTime>{}</wsnt:CurrentTime></wsnt:RenewResponse>",
                iso(now + secs * 1000),
                iso(now)
            ))
        }
        "Unsubscribe" => {
            let mut st = sim.st.lock().unwrap_or_else(|e| e.into_inner());
            if st.subs.remove(&id).is_none() {
                return gone();
            }
            ok("<wsnt:UnsubscribeResponse/>")
        }
        _ => fault(
            StatusCode::BAD_REQUEST,
            "env:Sender",
            "ter:ActionNotSupported",
            "not supported here",
        ),
    }
}

fn live(st: &St, id: u64) -> bool {
    st.subs.get(&id).is_some_and(|s| s.ends > Instant::now())
}

fn service(ns: &str, addr: &str) -> String {
    format!(
        "<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{addr}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
    )
}

fn notification(topic: &str, operation: &str, data: &[(&str, &str)]) -> String {
    notification_at(topic, operation, data, now_ms())
}

fn notification_at(topic: &str, operation: &str, data: &[(&str, &str)], at_ms: u64) -> String {
    let items: String = data
        .iter()
        .map(|(n, v)| format!("<tt:SimpleItem Name=\"{n}\" Value=\"{v}\"/>"))
        .collect();
    let op = if operation.is_empty() {
        String::new()
    } else {
        format!(" PropertyOperation=\"{operation}\"")
    };
    format!(
        "<wsnt:NotificationMessage><wsnt:Topic Dialect=\"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"{}\"{op}><tt:Source><tt:SimpleItem Name=\"VideoSourceConfigurationToken\" Value=\"vsc_1\"/><tt:SimpleItem Name=\"Rule\" Value=\"rule_1\"/></tt:Source><tt:Data>{items}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>",
        iso(at_ms)
    )
}

const NAMESPACES: &str = "xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:tt=\"http://www.onvif.org/ver10/schema\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\" xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\" xmlns:wsa5=\"http://www.w3.org/2005/08/addressing\" xmlns:tns1=\"http://www.onvif.org/ver10/topics\" xmlns:ter=\"http://www.onvif.org/ver10/error\" xmlns:wsrf-rw=\"http://docs.oasis-open.org/wsrf/rw-2\"";

/// A complete envelope around `body`: what the camera answers.
pub fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope {NAMESPACES}><env:Header/><env:Body>{body}</env:Body></env:Envelope>"
    )
}

fn soap(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        text,
    )
        .into_response()
}

fn ok(body: &str) -> Response {
    soap(StatusCode::OK, envelope(body))
}

fn fault(status: StatusCode, code: &str, subcode: &str, reason: &str) -> Response {
    soap(
        status,
        envelope(&format!(
            "<env:Fault><env:Code><env:Value>{code}</env:Value><env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault>"
        )),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn iso(ms: u64) -> String {
    let t = TimeTag::from_unix_ms(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The time of the sample answers' notifications: 2026-12-01T19:05:12Z.
const SAMPLE_AT: u64 = 1_796_151_912_000;

/// Sample answers as the simulator sends them: the fuzz seeds of the
/// gateway's parser (`fuzz/seeds/onvif_xml/`).
pub fn sample_answers() -> Vec<String> {
    let a: SocketAddr = ([192, 168, 1, 64], 80).into();
    vec![
        envelope(&format!(
            "<tev:PullMessagesResponse><tev:CurrentTime>2026-12-01T19:05:12Z</tev:CurrentTime><tev:TerminationTime>2026-12-01T19:06:12Z</tev:TerminationTime>{}{}</tev:PullMessagesResponse>",
            notification_at(
                "tns1:RuleEngine/FieldDetector/ObjectsInside",
                "Changed",
                &[("IsInside", "true")],
                SAMPLE_AT
            ),
            notification_at(
                "tns1:VideoSource/MotionAlarm",
                "Changed",
                &[("State", "true")],
                SAMPLE_AT
            )
        )),
        envelope(&format!(
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa5:Address>http://{a}/onvif/subscription/1</wsa5:Address></tev:SubscriptionReference><wsnt:CurrentTime>2026-12-01T19:05:12Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-12-01T19:06:12Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
        )),
        envelope(&format!(
            "<tds:GetServicesResponse>{}</tds:GetServicesResponse>",
            service(
                "http://www.onvif.org/ver10/events/wsdl",
                &format!("http://{a}/onvif/event_service")
            )
        )),
        envelope(&format!(
            "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{}</tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>",
            snapshot_uri(a)
        )),
        envelope(
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">Sender not authorized</env:Text></env:Reason></env:Fault>",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_by_element_name_whatever_the_prefix() {
        let x = "<s:Envelope><s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>gw</wsse:Username><wsse:Password Type=\"x#PasswordDigest\">abc=</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><tev:PullMessages xmlns:tev=\"x\"><tev:Timeout>PT5S</tev:Timeout></tev:PullMessages></s:Body></s:Envelope>";
        assert_eq!(body_action(x), "PullMessages");
        assert_eq!(element_text(x, "Username"), Some("gw"));
        assert_eq!(element_text(x, "Password"), Some("abc="));
        assert_eq!(seconds(element_text(x, "Timeout")), Some(5));
        assert_eq!(element_text(x, "Nonce"), None);
        assert_eq!(
            body_action("<Envelope><Body><GetProfiles/></Body></Envelope>"),
            "GetProfiles"
        );
    }

    /// The seeds are these answers; `GRIDSENSE_WRITE_SEEDS=1` writes them anew.
    #[test]
    fn the_fuzz_seeds_are_the_simulators_answers() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/onvif_xml");
        for (i, a) in sample_answers().iter().enumerate() {
            let path = dir.join(format!("answer-{i}.xml"));
            if std::env::var_os("GRIDSENSE_WRITE_SEEDS").is_some() {
                std::fs::create_dir_all(&dir).expect("seed dir");
                std::fs::write(&path, a).expect("write seed");
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                &on_disk,
                a,
                "{}: regenerate with GRIDSENSE_WRITE_SEEDS=1",
                path.display()
            );
        }
    }
}

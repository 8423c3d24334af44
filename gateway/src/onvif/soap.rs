//! The requests the gateway sends, as SOAP 1.2 envelopes (ONVIF Core
//! Specification 5.1, 5.12: SOAP 1.2 over HTTP, WS-Security
//! UsernameToken with PasswordDigest), and the times they carry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use protocol::gbt26875::TimeTag;

const ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const BASE64: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";
const WSA: &str = "http://www.w3.org/2005/08/addressing";
const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
const TEV: &str = "http://www.onvif.org/ver10/events/wsdl";
const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";

/// One request: its SOAP action and its body element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// The action URI (the `action` parameter of the content type, and
    /// `wsa:Action` where WS-Addressing is used).
    pub(crate) action: &'static str,
    /// The body's one element.
    pub(crate) body: String,
    /// `wsa:To`, for requests to a subscription.
    pub(crate) to: Option<String>,
}

/// The device's clock (unauthenticated, ONVIF Core 5.12.1: a client may
/// read it before authenticating, to stamp its tokens in the device's time).
pub(crate) fn get_system_date_and_time() -> Call {
    call(
        "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime",
        format!("<tds:GetSystemDateAndTime xmlns:tds=\"{TDS}\"/>"),
    )
}

/// The device's services and their addresses.
pub(crate) fn get_services() -> Call {
    call(
        "http://www.onvif.org/ver10/device/wsdl/GetServices",
        format!(
            "<tds:GetServices xmlns:tds=\"{TDS}\"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"
        ),
    )
}

/// The older form of [`get_services`], for devices without it.
pub(crate) fn get_capabilities() -> Call {
    call(
        "http://www.onvif.org/ver10/device/wsdl/GetCapabilities",
        format!(
            "<tds:GetCapabilities xmlns:tds=\"{TDS}\"><tds:Category>All</tds:Category></tds:GetCapabilities>"
        ),
    )
}

/// The media profiles.
pub(crate) fn get_profiles() -> Call {
    call(
        "http://www.onvif.org/ver10/media/wsdl/GetProfiles",
        format!("<trt:GetProfiles xmlns:trt=\"{TRT}\"/>"),
    )
}

/// The snapshot address of profile `token`.
pub(crate) fn get_snapshot_uri(token: &str) -> Call {
    call(
        "http://www.onvif.org/ver10/media/wsdl/GetSnapshotUri",
        format!(
            "<trt:GetSnapshotUri xmlns:trt=\"{TRT}\"><trt:ProfileToken>{}</trt:ProfileToken></trt:GetSnapshotUri>",
            escape(token)
        ),
    )
}

/// A pull-point subscription to every topic, ending after `termination_s`
/// unless renewed.
pub(crate) fn create_pull_point_subscription(termination_s: u64) -> Call {
    call(
        "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest",
        format!(
            "<tev:CreatePullPointSubscription xmlns:tev=\"{TEV}\"><tev:InitialTerminationTime>PT{termination_s}S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
        ),
    )
}

/// Waits up to `timeout_s` at the camera for at most `limit` notifications.
pub(crate) fn pull_messages(to: &str, timeout_s: u64, limit: u32) -> Call {
    let mut c = call(
        "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest",
        format!(
            "<tev:PullMessages xmlns:tev=\"{TEV}\"><tev:Timeout>PT{timeout_s}S</tev:Timeout><tev:MessageLimit>{limit}</tev:MessageLimit></tev:PullMessages>"
        ),
    );
    c.to = Some(to.to_string());
    c
}

/// Extends the subscription at `to` by `termination_s`.
pub(crate) fn renew(to: &str, termination_s: u64) -> Call {
    let mut c = call(
        "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
        format!(
            "<wsnt:Renew xmlns:wsnt=\"{WSNT}\"><wsnt:TerminationTime>PT{termination_s}S</wsnt:TerminationTime></wsnt:Renew>"
        ),
    );
    c.to = Some(to.to_string());
    c
}

/// Ends the subscription at `to`.
pub(crate) fn unsubscribe(to: &str) -> Call {
    let mut c = call(
        "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
        format!("<wsnt:Unsubscribe xmlns:wsnt=\"{WSNT}\"/>"),
    );
    c.to = Some(to.to_string());
    c
}

fn call(action: &'static str, body: String) -> Call {
    Call {
        action,
        body,
        to: None,
    }
}

/// The credentials of a request: user, and the password for the digest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    /// The ONVIF user.
    pub(crate) username: &'a str,
    /// Its password (only its digest is sent).
    pub(crate) password: &'a str,
}

/// The envelope of `c`, with a UsernameToken stamped `created_ms` (in the
/// device's time) and made of `nonce` when `creds` are given.
pub(crate) fn envelope(
    c: &Call,
    creds: Option<Credentials<'_>>,
    created_ms: u64,
    nonce: &[u8; 16],
) -> String {
    let mut header = String::new();
    if let Some(to) = &c.to {
        header.push_str(&format!(
            "<wsa:Action xmlns:wsa=\"{WSA}\">{}</wsa:Action><wsa:To xmlns:wsa=\"{WSA}\">{}</wsa:To>",
            c.action,
            escape(to)
        ));
    }
    if let Some(cr) = creds {
        let created = iso_time(created_ms);
        let digest = password_digest(nonce, &created, cr.password);
        header.push_str(&format!(
            "<wsse:Security xmlns:wsse=\"{WSSE}\" xmlns:wsu=\"{WSU}\" s:mustUnderstand=\"true\"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type=\"{DIGEST}\">{digest}</wsse:Password><wsse:Nonce EncodingType=\"{BASE64}\">{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>",
            escape(cr.username),
            STANDARD.encode(nonce)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"{ENV}\"><s:Header>{header}</s:Header><s:Body>{}</s:Body></s:Envelope>",
        c.body
    )
}

/// WS-Security UsernameToken Profile 1.0, 3.1:
/// `Base64(SHA-1(nonce + created + password))`, the nonce as raw bytes.
pub(crate) fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(nonce);
    ctx.update(created.as_bytes());
    ctx.update(password.as_bytes());
    STANDARD.encode(ctx.finish().as_ref())
}

/// `ms` since the epoch as `xs:dateTime` in UTC, `2026-12-01T19:05:12Z`.
pub(crate) fn iso_time(ms: u64) -> String {
    let t = TimeTag::from_unix_ms(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Escapes text for an XML element or attribute.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

//! Reads what a camera answers: SOAP 1.2 envelopes with a fault or the
//! response element of each request. Elements are matched by local name
//! (cameras bind the ONVIF namespaces to prefixes of their choice); a DTD
//! is refused and the tree is bounded in nodes, so an answer cannot expand
//! into more than it is.

use protocol::gbt26875::TimeTag;
use roxmltree::{Document, Node, ParsingOptions};

/// Most nodes in one answer's tree.
const MAX_NODES: u32 = 200_000;
/// Most notifications read from one PullMessages answer.
pub const MAX_NOTIFICATIONS: usize = 1024;

/// A SOAP fault (SOAP 1.2 part 1, 5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fault {
    /// `Code/Value`, e.g. `env:Sender`.
    pub code: String,
    /// Every `Subcode/Value`, outermost first, e.g. `ter:NotAuthorized`.
    pub subcodes: Vec<String>,
    /// The first `Reason/Text`.
    pub reason: String,
}

impl Fault {
    /// The device refused the credentials (ONVIF Core 5.11.2.2:
    /// `ter:NotAuthorized`; WS-Security's `wsse:FailedAuthentication`).
    pub fn is_unauthorized(&self) -> bool {
        self.subcodes
            .iter()
            .chain(std::iter::once(&self.code))
            .any(|c| {
                matches!(
                    local(c),
                    "NotAuthorized" | "FailedAuthentication" | "InvalidSecurityToken"
                )
            })
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        for s in &self.subcodes {
            write!(f, "/{s}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// Why an answer could not be read as the expected response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not well-formed XML (or a DTD, or too many nodes).
    #[error("not XML: {0}")]
    Xml(String),
    /// XML, but not a SOAP envelope with a body.
    #[error("not a SOAP envelope")]
    NotSoap,
    /// The camera answered with a fault.
    #[error("fault {0}")]
    Fault(Fault),
    /// The response lacks an element it must have.
    #[error("no {0} in the answer")]
    Missing(&'static str),
}

/// The service addresses the gateway needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Services {
    /// The event service (`tev`).
    pub events: Option<String>,
    /// The media service (`trt`, ver10).
    pub media: Option<String>,
}

/// A pull-point subscription as created or renewed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Its address (`SubscriptionReference/Address`); empty after a Renew.
    pub address: String,
    /// The camera's time when it answered, ms since the epoch.
    pub current_ms: Option<u64>,
    /// When it ends unless renewed, in the camera's time.
    pub termination_ms: Option<u64>,
}

/// One notification (ONVIF Core 9.1, WS-BaseNotification).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notification {
    /// The topic, every level's namespace prefix removed:
    /// `RuleEngine/FieldDetector/ObjectsInside`.
    pub topic: String,
    /// `Message/@UtcTime`, ms since the epoch, when it parses.
    pub utc_ms: Option<u64>,
    /// `Message/@PropertyOperation`: `Initialized`, `Changed`, `Deleted`, or empty.
    pub operation: String,
    /// `Source/SimpleItem` name and value pairs.
    pub source: Vec<(String, String)>,
    /// `Data/SimpleItem` name and value pairs.
    pub data: Vec<(String, String)>,
}

impl Notification {
    /// The value of data item `name`.
    pub fn data(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A PullMessages answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pulled {
    /// The subscription's times as the answer gives them.
    pub times: Subscription,
    /// The notifications, in order (at most [`MAX_NOTIFICATIONS`]).
    pub messages: Vec<Notification>,
}

fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l).trim()
}

fn parse(text: &str) -> Result<Document<'_>, ParseError> {
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    Document::parse_with_options(text, opts).map_err(|e| ParseError::Xml(e.to_string()))
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn find<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.descendants()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: Node<'_, '_>) -> String {
    n.text().unwrap_or("").trim().to_string()
}

/// The body's first element; a fault is an error.
fn body<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, ParseError> {
    let env = doc.root_element();
    if env.tag_name().name() != "Envelope" {
        return Err(ParseError::NotSoap);
    }
    let body = child(env, "Body").ok_or(ParseError::NotSoap)?;
    let first = body
        .children()
        .find(Node::is_element)
        .ok_or(ParseError::Missing("response element"))?;
    if first.tag_name().name() == "Fault" {
        return Err(ParseError::Fault(read_fault(first)));
    }
    Ok(first)
}

fn read_fault(f: Node<'_, '_>) -> Fault {
    let mut out = Fault::default();
    if let Some(code) = child(f, "Code") {
        out.code = child(code, "Value").map(text_of).unwrap_or_default();
        let mut sub = child(code, "Subcode");
        while let Some(s) = sub {
            if out.subcodes.len() >= 8 {
                break;
            }
            out.subcodes
                .push(child(s, "Value").map(text_of).unwrap_or_default());
            sub = child(s, "Subcode");
        }
    }
    out.reason = child(f, "Reason")
        .and_then(|r| child(r, "Text"))
        .map(text_of)
        .unwrap_or_default();
    out
}

/// The fault in `text`, if it is a SOAP envelope carrying one.
pub fn fault(text: &str) -> Option<Fault> {
    let doc = parse(text).ok()?;
    match body(&doc) {
        Err(ParseError::Fault(f)) => Some(f),
        _ => None,
    }
}

/// The event and media services from a GetServices or a GetCapabilities answer.
///
/// # Errors
/// [`ParseError`] when it is neither.
pub fn services(text: &str) -> Result<Services, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    let mut out = Services::default();
    for s in resp
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Service")
    {
        let ns = child(s, "Namespace").map(text_of).unwrap_or_default();
        let addr = child(s, "XAddr").map(text_of);
        match ns.as_str() {
            "http://www.onvif.org/ver10/events/wsdl" => out.events = addr,
            "http://www.onvif.org/ver10/media/wsdl" => out.media = addr,
            _ => {}
        }
    }
    if let Some(caps) = find(resp, "Capabilities") {
        let xaddr = |name: &str| {
            child(caps, name)
                .and_then(|n| child(n, "XAddr"))
                .map(text_of)
        };
        out.events = out.events.or_else(|| xaddr("Events"));
        out.media = out.media.or_else(|| xaddr("Media"));
    }
    out.events = out.events.filter(|a| !a.is_empty());
    out.media = out.media.filter(|a| !a.is_empty());
    Ok(out)
}

/// The tokens of the media profiles in a GetProfiles answer, in order.
///
/// # Errors
/// [`ParseError`] when it is not one.
pub fn profiles(text: &str) -> Result<Vec<String>, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    Ok(resp
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Profiles")
        .filter_map(|p| p.attribute("token").map(str::to_string))
        .take(64)
        .collect())
}

/// The address in a GetSnapshotUri answer.
///
/// # Errors
/// [`ParseError`] when it has none.
pub fn snapshot_uri(text: &str) -> Result<String, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    find(resp, "MediaUri")
        .and_then(|m| child(m, "Uri"))
        .map(text_of)
        .filter(|u| !u.is_empty())
        .ok_or(ParseError::Missing("MediaUri/Uri"))
}

/// The device's clock in a GetSystemDateAndTime answer, ms since the epoch.
///
/// # Errors
/// [`ParseError`] when it has no valid `UTCDateTime`.
pub fn system_time(text: &str) -> Result<u64, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    let utc = find(resp, "UTCDateTime").ok_or(ParseError::Missing("UTCDateTime"))?;
    let num = |parent: &str, name: &str| -> Option<u16> {
        child(child(utc, parent)?, name).and_then(|n| text_of(n).parse().ok())
    };
    let t = (|| {
        civil(
            num("Date", "Year")?,
            num("Date", "Month")?,
            num("Date", "Day")?,
            num("Time", "Hour")?,
            num("Time", "Minute")?,
            num("Time", "Second")?,
        )
    })();
    t.ok_or(ParseError::Missing("UTCDateTime"))
}

fn times(resp: Node<'_, '_>) -> Subscription {
    let at = |name: &str| child(resp, name).and_then(|n| parse_time(&text_of(n)));
    Subscription {
        address: String::new(),
        current_ms: at("CurrentTime"),
        termination_ms: at("TerminationTime"),
    }
}

/// A CreatePullPointSubscription answer.
///
/// # Errors
/// [`ParseError`] when it has no subscription address.
pub fn subscription(text: &str) -> Result<Subscription, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    let address = child(resp, "SubscriptionReference")
        .and_then(|r| child(r, "Address"))
        .map(text_of)
        .filter(|a| !a.is_empty())
        .ok_or(ParseError::Missing("SubscriptionReference/Address"))?;
    Ok(Subscription {
        address,
        ..times(resp)
    })
}

/// A Renew answer: the new termination time.
///
/// # Errors
/// [`ParseError`] when it is not a RenewResponse.
pub fn renewed(text: &str) -> Result<Subscription, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    if resp.tag_name().name() != "RenewResponse" {
        return Err(ParseError::Missing("RenewResponse"));
    }
    Ok(times(resp))
}

/// Whether `text` is a successful answer of any kind (not a fault), as
/// an Unsubscribe's is.
pub fn is_success(text: &str) -> bool {
    parse(text).is_ok_and(|d| body(&d).is_ok())
}

/// A PullMessages answer.
///
/// # Errors
/// [`ParseError`] when it is not a PullMessagesResponse.
pub fn pulled(text: &str) -> Result<Pulled, ParseError> {
    let doc = parse(text)?;
    let resp = body(&doc)?;
    if resp.tag_name().name() != "PullMessagesResponse" {
        return Err(ParseError::Missing("PullMessagesResponse"));
    }
    let messages = resp
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "NotificationMessage")
        .take(MAX_NOTIFICATIONS)
        .map(notification)
        .collect();
    Ok(Pulled {
        times: times(resp),
        messages,
    })
}

fn notification(n: Node<'_, '_>) -> Notification {
    let topic = child(n, "Topic").map(text_of).unwrap_or_default();
    let topic = topic.split('/').map(local).collect::<Vec<_>>().join("/");
    let msg = child(n, "Message").and_then(|m| child(m, "Message"));
    let items = |name: &str| -> Vec<(String, String)> {
        msg.and_then(|m| child(m, name))
            .map(|s| {
                s.children()
                    .filter(|c| c.is_element() && c.tag_name().name() == "SimpleItem")
                    .take(32)
                    .map(|i| {
                        let a = |k: &str| i.attribute(k).unwrap_or("").to_string();
                        (a("Name"), a("Value"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Notification {
        topic,
        utc_ms: msg
            .and_then(|m| m.attribute("UtcTime"))
            .and_then(parse_time),
        operation: msg
            .and_then(|m| m.attribute("PropertyOperation"))
            .unwrap_or("")
            .to_string(),
        source: items("Source"),
        data: items("Data"),
    }
}

fn civil(year: u16, month: u16, day: u16, hour: u16, minute: u16, second: u16) -> Option<u64> {
    let ok = (2000..=2099).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    ok.then(|| {
        TimeTag {
            year,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second.min(59) as u8,
        }
        .to_unix_ms()
    })
}

/// An `xs:dateTime` (`2026-12-01T19:05:12Z`, `...12.250Z`, `...12+08:00`;
/// no zone is taken as UTC) as ms since the epoch; years 2000-2099 only.
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let y: u16 = d.next()?.parse().ok()?;
    let mo: u16 = d.next()?.parse().ok()?;
    let day: u16 = d.next()?.parse().ok()?;
    let (clock, offset_min) = split_zone(time)?;
    let mut t = clock.splitn(3, ':');
    let h: u16 = t.next()?.parse().ok()?;
    let mi: u16 = t.next()?.parse().ok()?;
    let sec = t.next()?;
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    if whole.len() != 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms_frac: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let sec: u16 = whole.parse().ok()?;
    let base = civil(y, mo, day, h, mi, sec)?;
    let at = i64::try_from(base + ms_frac).ok()? - offset_min * 60_000;
    u64::try_from(at).ok()
}

/// The clock part and the zone offset in minutes.
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(c) = time.strip_suffix('Z') {
        return Some((c, 0));
    }
    match time.rfind(['+', '-']) {
        Some(i) if time.len() - i == 6 => {
            let (c, z) = time.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (h, m) = z[1..].split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some((c, sign * (h * 60 + m)))
        }
        _ => Some((time, 0)),
    }
}

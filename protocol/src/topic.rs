//! Every MQTT topic GridSense uses, built and parsed here and nowhere else.
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `gs/v1/dev/{device}/evt` | node → gateway | [`crate::NodeEvent`] |
//! | `gs/v1/dev/{device}/evt/ack` | gateway → node | [`crate::EvtAck`] |
//! | `gs/v1/dev/{device}/tel` | node → gateway | [`crate::Telemetry`] |
//! | `gs/v1/dev/{device}/state` | node → gateway (retained, last will) | [`crate::DeviceState`] |
//! | `gs/v1/dev/{device}/cmd` | gateway → node | [`crate::Command`], [`crate::access::ListChunk`] |
//! | `gs/v1/dev/{device}/cmd/ack` | node → gateway | [`crate::CommandAck`], [`crate::access::ListAck`] |
//! | `gs/v1/dev/{device}/acc` | node → gateway | [`crate::access::AccessEvent`] |
//! | `gs/v1/dev/{device}/acc/ack` | gateway → node | [`crate::EvtAck`] (of an access event) |
//! | `gs/v1/site/{site}/{feed}/{id}` | gateway → integrators | per feed |
//! | `grid/v1/{district}/{street}/{community}/{cell}/order` | gateway → platform | `OrderUp` |
//! | `grid/v1/{district}/{street}/{community}/{cell}/order/{id}/status` | platform → gateway | `StatusUpdate` |
//! | `{prefix}/{component}/{device}/{object}/config` | gateway → Home Assistant (retained) | discovery config (JSON) |
//! | `{prefix}/status` | Home Assistant → gateway | `online` / `offline` (its birth and will) |

use core::fmt;

use crate::ident::{DeviceId, Ident, Name};
use crate::kinds::wire_enum;

/// The protocol version carried in every topic.
pub const VERSION: &str = "v1";
/// Longest topic this protocol produces or accepts.
pub const MAX_TOPIC_LEN: usize = 256;
/// What every integrator topic and filter starts with (`gs/v1/site/`): the
/// broker lets integrators subscribe under it and nowhere else.
pub const SITE_PREFIX: &str = "gs/v1/site/";

wire_enum! {
    /// The per-device topics.
    pub enum DeviceChannel {
        /// Events, node → gateway.
        Evt = "evt",
        /// End-to-end event acknowledgement, gateway → node.
        EvtAck = "evt/ack",
        /// Telemetry, node → gateway.
        Tel = "tel",
        /// Presence, retained, node → gateway; also the node's last will.
        State = "state",
        /// Commands, gateway → node.
        Cmd = "cmd",
        /// Command acknowledgements (and allow-list sync answers), node → gateway.
        CmdAck = "cmd/ack",
        /// Access events (granted, denied, forced, held), node → gateway.
        Acc = "acc",
        /// End-to-end access event acknowledgement, gateway → node.
        AccAck = "acc/ack",
    }
}

impl DeviceChannel {
    /// Whether a node publishes on this channel (the others it may only receive).
    pub const fn from_node(self) -> bool {
        matches!(
            self,
            Self::Evt | Self::Tel | Self::State | Self::CmdAck | Self::Acc
        )
    }
}

wire_enum! {
    /// The read-only feeds for integrators under `gs/v1/site/{site}/`.
    pub enum Feed {
        /// Alarm state, retained, one topic per alarm id.
        Alarm = "alarm",
        /// Work-order state, retained, one topic per order id.
        Order = "order",
        /// Device availability, retained: `gs/v1/site/{site}/device/{id}/availability`.
        Device = "device",
        /// Windowed aggregates per building or grid cell.
        Agg = "agg",
        /// Closure KPIs per grid cell.
        Kpi = "kpi",
        /// Completion notices for closed orders.
        Notice = "notice",
        /// Telemetry re-published after filtering.
        Tel = "tel",
        /// The alarm kinds open at a device, retained, one topic per device.
        Alarms = "alarms",
        /// Access events per door, credential ids pseudonymised (not retained).
        Access = "access",
    }
}

impl Feed {
    /// Whether the feed's messages are retained: the state feeds are (a new
    /// subscriber sees how things stand), the streams of notices and
    /// telemetry are not.
    pub const fn retained(self) -> bool {
        !matches!(self, Self::Notice | Self::Tel | Self::Access)
    }
}

/// An identifier that may carry an order or alarm id.
pub type TopicId = Ident<48>;

wire_enum! {
    /// The Home Assistant entity platforms GridSense announces (read-only ones).
    pub enum Component {
        /// A value with a unit: one per telemetry field of a device's profile.
        Sensor = "sensor",
        /// On/off: one per alarm kind of a device, and its connectivity.
        BinarySensor = "binary_sensor",
    }
}

/// The topic Home Assistant publishes its birth (`online`) and will
/// (`offline`) on, under the discovery prefix: `{prefix}/status`.
pub fn discovery_status(prefix: &str) -> heapless::String<MAX_TOPIC_LEN> {
    let mut s = heapless::String::new();
    // A prefix is a bounded identifier, so this fits.
    let _ = fmt::write(&mut s, format_args!("{prefix}/status"));
    s
}

/// Every topic of one feed of a site: `gs/v1/site/{site}/{feed}/+`
/// (`.../device/+/availability` for [`Feed::Device`]).
pub fn feed_filter(site: &str, feed: Feed) -> heapless::String<MAX_TOPIC_LEN> {
    let mut s = heapless::String::new();
    let _ = match feed {
        Feed::Device => fmt::write(
            &mut s,
            format_args!("{SITE_PREFIX}{site}/device/+/availability"),
        ),
        _ => fmt::write(&mut s, format_args!("{SITE_PREFIX}{site}/{feed}/+")),
    };
    s
}

/// Every discovery config under `prefix` (`{prefix}/#`): what an integrator
/// subscribes to, and what the broker lets integrators read.
pub fn discovery_filter(prefix: &str) -> heapless::String<MAX_TOPIC_LEN> {
    let mut s = heapless::String::new();
    let _ = fmt::write(&mut s, format_args!("{prefix}/#"));
    s
}

/// A parsed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `gs/v1/dev/{device}/{channel}`
    Device {
        /// The device.
        device: DeviceId,
        /// Which of its topics.
        channel: DeviceChannel,
    },
    /// `gs/v1/site/{site}/{feed}/{id}` (for [`Feed::Device`], `/availability` follows).
    Site {
        /// The compound.
        site: Name,
        /// The feed.
        feed: Feed,
        /// The alarm, order, device, scope or cell.
        id: TopicId,
    },
    /// `grid/v1/{district}/{street}/{community}/{cell}/order`
    OrderUp {
        /// The path below the city.
        cell: CellRoute,
    },
    /// `grid/v1/{district}/{street}/{community}/{cell}/order/{id}/status`
    OrderStatus {
        /// The path below the city.
        cell: CellRoute,
        /// The order.
        order: TopicId,
    },
    /// `{prefix}/{component}/{node}/{object}/config`: a Home Assistant MQTT
    /// discovery config, retained. Built, never parsed ([`Topic::parse`]
    /// knows no prefix and calls it foreign).
    Discovery {
        /// The discovery prefix (`homeassistant`).
        prefix: Name,
        /// The entity platform.
        component: Component,
        /// The device the entity belongs to.
        node: DeviceId,
        /// The entity within the device: a field, an alarm kind, `availability`.
        object: TopicId,
    },
}

/// The four levels of the grid path that appear in upstream topics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CellRoute {
    /// District.
    pub district: Name,
    /// Street or town.
    pub street: Name,
    /// Community or village.
    pub community: Name,
    /// Grid cell.
    pub cell: Name,
}

impl From<&crate::grid::GridPath> for CellRoute {
    fn from(p: &crate::grid::GridPath) -> Self {
        Self {
            district: p.district.clone(),
            street: p.street.clone(),
            community: p.community.clone(),
            cell: p.cell.clone(),
        }
    }
}

/// Why a topic string is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Longer than [`MAX_TOPIC_LEN`].
    #[error("topic is {0} bytes, the limit is {MAX_TOPIC_LEN}")]
    TooLong(usize),
    /// Does not start with `gs/v1/` or `grid/v1/`.
    #[error("topic is not under gs/v1/ or grid/v1/")]
    Foreign,
    /// Starts right but has the wrong shape.
    #[error("topic level {level} is {found:?}; expected {expected}")]
    Shape {
        /// 0-based level index.
        level: usize,
        /// What was there (truncated).
        found: crate::codec::Text,
        /// What should have been.
        expected: &'static str,
    },
}

fn shape(level: usize, found: &str, expected: &'static str) -> TopicError {
    TopicError::Shape {
        level,
        found: crate::codec::text(found),
        expected,
    }
}

fn ident<const N: usize>(level: usize, s: Option<&str>) -> Result<Ident<N>, TopicError> {
    let s = s.unwrap_or("");
    Ident::new(s).map_err(|_| shape(level, s, "an identifier [A-Za-z0-9_-]"))
}

impl Topic {
    /// Parses a topic string.
    ///
    /// # Errors
    /// [`TopicError`] naming the level that is wrong.
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        if topic.len() > MAX_TOPIC_LEN {
            return Err(TopicError::TooLong(topic.len()));
        }
        let mut it = topic.split('/');
        let root = it.next().unwrap_or("");
        if it.next() != Some(VERSION) || !(root == "gs" || root == "grid") {
            return Err(TopicError::Foreign);
        }
        let parsed = if root == "gs" {
            Self::parse_gs(&mut it)?
        } else {
            Self::parse_grid(&mut it)?
        };
        match it.next() {
            None => Ok(parsed),
            Some(extra) => Err(shape(topic.split('/').count() - 1, extra, "end of topic")),
        }
    }

    fn parse_gs<'a>(it: &mut impl Iterator<Item = &'a str>) -> Result<Self, TopicError> {
        match it.next() {
            Some("dev") => {
                let device = ident(3, it.next())?;
                let first = it.next().unwrap_or("");
                let channel = match (first, it.next()) {
                    ("evt", None) => DeviceChannel::Evt,
                    ("evt", Some("ack")) => DeviceChannel::EvtAck,
                    ("tel", None) => DeviceChannel::Tel,
                    ("state", None) => DeviceChannel::State,
                    ("cmd", None) => DeviceChannel::Cmd,
                    ("cmd", Some("ack")) => DeviceChannel::CmdAck,
                    ("acc", None) => DeviceChannel::Acc,
                    ("acc", Some("ack")) => DeviceChannel::AccAck,
                    (_, Some(second)) => return Err(shape(5, second, "ack or end of topic")),
                    (other, None) => {
                        return Err(shape(
                            4,
                            other,
                            "evt, evt/ack, tel, state, cmd, cmd/ack, acc, acc/ack",
                        ));
                    }
                };
                Ok(Self::Device { device, channel })
            }
            Some("site") => {
                let site = ident(3, it.next())?;
                let f = it.next().unwrap_or("");
                let feed = Feed::parse(f).ok_or_else(|| {
                    shape(
                        4,
                        f,
                        "alarm, order, device, agg, kpi, notice, tel, alarms, access",
                    )
                })?;
                let id = ident(5, it.next())?;
                if feed == Feed::Device {
                    match it.next() {
                        Some("availability") => {}
                        other => return Err(shape(6, other.unwrap_or(""), "availability")),
                    }
                }
                Ok(Self::Site { site, feed, id })
            }
            other => Err(shape(2, other.unwrap_or(""), "dev or site")),
        }
    }

    fn parse_grid<'a>(it: &mut impl Iterator<Item = &'a str>) -> Result<Self, TopicError> {
        let cell = CellRoute {
            district: ident(2, it.next())?,
            street: ident(3, it.next())?,
            community: ident(4, it.next())?,
            cell: ident(5, it.next())?,
        };
        match it.next() {
            Some("order") => {}
            other => return Err(shape(6, other.unwrap_or(""), "order")),
        }
        match it.next() {
            None => Ok(Self::OrderUp { cell }),
            Some(id) => {
                let order = ident(7, Some(id))?;
                match it.next() {
                    Some("status") => Ok(Self::OrderStatus { cell, order }),
                    other => Err(shape(8, other.unwrap_or(""), "status")),
                }
            }
        }
    }

    /// The device that owns this topic, for per-device topics.
    pub fn device(&self) -> Option<&DeviceId> {
        match self {
            Self::Device { device, .. } => Some(device),
            _ => None,
        }
    }

    /// Shorthand for a device topic.
    pub fn dev(device: &DeviceId, channel: DeviceChannel) -> Self {
        Self::Device {
            device: device.clone(),
            channel,
        }
    }

    /// Writes the topic into a fixed-capacity string (no allocation).
    pub fn to_heapless(&self) -> heapless::String<MAX_TOPIC_LEN> {
        let mut s = heapless::String::new();
        // Every level is bounded, so the whole topic fits in MAX_TOPIC_LEN.
        let _ = fmt::write(&mut s, format_args!("{self}"));
        s
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device { device, channel } => write!(f, "gs/{VERSION}/dev/{device}/{channel}"),
            Self::Site {
                site,
                feed: Feed::Device,
                id,
            } => write!(f, "gs/{VERSION}/site/{site}/device/{id}/availability"),
            Self::Site { site, feed, id } => write!(f, "gs/{VERSION}/site/{site}/{feed}/{id}"),
            Self::OrderUp { cell } => write!(f, "grid/{VERSION}/{cell}/order"),
            Self::OrderStatus { cell, order } => {
                write!(f, "grid/{VERSION}/{cell}/order/{order}/status")
            }
            Self::Discovery {
                prefix,
                component,
                node,
                object,
            } => write!(f, "{prefix}/{component}/{node}/{object}/config"),
        }
    }
}

impl fmt::Display for CellRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.district, self.street, self.community, self.cell
        )
    }
}

/// Subscription filters, for the gateway, integrators and the platform.
pub mod filter {
    /// Everything nodes publish.
    pub const ALL_DEVICES: &str = "gs/v1/dev/+/#";
    /// Node events.
    pub const EVENTS: &str = "gs/v1/dev/+/evt";
    /// Node telemetry.
    pub const TELEMETRY: &str = "gs/v1/dev/+/tel";
    /// Node presence.
    pub const STATES: &str = "gs/v1/dev/+/state";
    /// Commands to nodes (what the gateway tells them).
    pub const COMMANDS: &str = "gs/v1/dev/+/cmd";
    /// Command acknowledgements.
    pub const COMMAND_ACKS: &str = "gs/v1/dev/+/cmd/ack";
    /// Access events from doors.
    pub const ACCESS: &str = "gs/v1/dev/+/acc";
    /// Everything for integrators.
    pub const INTEGRATOR: &str = "gs/v1/site/#";
    /// Orders from every gateway of a district platform.
    pub const ORDERS_UP: &str = "grid/v1/+/+/+/+/order";
    /// Status answers to every order.
    pub const ORDER_STATUS: &str = "grid/v1/+/+/+/+/order/+/status";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_topics_round_trip() {
        let d = DeviceId::new("smoke-1").expect("id");
        for ch in DeviceChannel::ALL {
            let t = Topic::dev(&d, *ch);
            let s = t.to_heapless();
            assert_eq!(Topic::parse(&s), Ok(t), "{s}");
        }
    }

    #[test]
    fn rejects_wrong_shapes_with_the_level() {
        assert_eq!(Topic::parse("foo/v1/dev/a/evt"), Err(TopicError::Foreign));
        assert!(matches!(
            Topic::parse("gs/v1/dev/a/evt/nack"),
            Err(TopicError::Shape { level: 5, .. })
        ));
        assert!(matches!(
            Topic::parse("gs/v1/dev/a+b/evt"),
            Err(TopicError::Shape { level: 3, .. })
        ));
        assert!(matches!(
            Topic::parse("gs/v1/dev/a/evt/ack/more"),
            Err(TopicError::Shape { .. })
        ));
    }

    #[test]
    fn site_topics_and_the_integrator_filter_start_with_the_site_prefix() {
        for feed in Feed::ALL {
            let t = Topic::Site {
                site: Ident::new("lianhua").expect("id"),
                feed: *feed,
                id: Ident::new("x1").expect("id"),
            };
            assert!(t.to_heapless().starts_with(SITE_PREFIX), "{t}");
        }
        assert!(filter::INTEGRATOR.starts_with(SITE_PREFIX));
        assert!(!filter::ALL_DEVICES.starts_with(SITE_PREFIX));
    }

    #[test]
    fn state_feeds_are_retained_and_streams_are_not() {
        let retained: Vec<Feed> = Feed::ALL.iter().copied().filter(|f| f.retained()).collect();
        assert_eq!(
            retained,
            [
                Feed::Alarm,
                Feed::Order,
                Feed::Device,
                Feed::Agg,
                Feed::Kpi,
                Feed::Alarms
            ]
        );
    }

    #[test]
    fn upstream_topics_round_trip() {
        let cell = CellRoute {
            district: Ident::new("chancheng").expect("id"),
            street: Ident::new("zumiao").expect("id"),
            community: Ident::new("lianhua").expect("id"),
            cell: Ident::new("g07").expect("id"),
        };
        let up = Topic::OrderUp { cell: cell.clone() };
        assert_eq!(
            up.to_heapless().as_str(),
            "grid/v1/chancheng/zumiao/lianhua/g07/order"
        );
        let st = Topic::OrderStatus {
            cell,
            order: Ident::new("gw1-42").expect("id"),
        };
        assert_eq!(Topic::parse(&st.to_heapless()), Ok(st));
    }

    #[test]
    fn discovery_topics_are_written_under_their_prefix() {
        let t = Topic::Discovery {
            prefix: Ident::new("homeassistant").expect("id"),
            component: Component::BinarySensor,
            node: DeviceId::new("smoke-b1-0701").expect("id"),
            object: Ident::new("fire").expect("id"),
        };
        // Hand-written: the shape Home Assistant documents.
        assert_eq!(
            t.to_heapless().as_str(),
            "homeassistant/binary_sensor/smoke-b1-0701/fire/config"
        );
        assert!(matches(
            &discovery_filter("homeassistant"),
            &t.to_heapless()
        ));
        assert_eq!(
            discovery_status("homeassistant").as_str(),
            "homeassistant/status"
        );
        assert!(!matches(filter::INTEGRATOR, &t.to_heapless()));
        for feed in Feed::ALL {
            let t = Topic::Site {
                site: Ident::new("lianhua").expect("id"),
                feed: *feed,
                id: Ident::new("x1").expect("id"),
            };
            assert!(
                matches(&feed_filter("lianhua", *feed), &t.to_heapless()),
                "{t}"
            );
            assert!(
                !matches(&feed_filter("other", *feed), &t.to_heapless()),
                "{t}"
            );
        }
    }

    /// MQTT filter matching (`+` one level, `#` this level and below).
    fn matches(filter: &str, topic: &str) -> bool {
        let mut levels = topic.split('/');
        for f in filter.split('/') {
            match (f, levels.next()) {
                ("#", _) => return true,
                ("+", Some(_)) => {}
                (f, Some(level)) if f == level => {}
                _ => return false,
            }
        }
        levels.next().is_none()
    }

    #[test]
    fn device_filters_match_their_channel_only() {
        use DeviceChannel::{Acc, Cmd, CmdAck, Evt, State, Tel};
        let d = DeviceId::new("smoke-1").expect("id");
        let named = [
            (filter::EVENTS, Evt),
            (filter::TELEMETRY, Tel),
            (filter::STATES, State),
            (filter::COMMANDS, Cmd),
            (filter::COMMAND_ACKS, CmdAck),
            (filter::ACCESS, Acc),
        ];
        for ch in DeviceChannel::ALL {
            let t = Topic::dev(&d, *ch).to_heapless();
            assert!(matches(filter::ALL_DEVICES, &t), "{t}");
            assert!(!matches(filter::INTEGRATOR, &t), "{t}");
            for (f, only) in named {
                assert_eq!(matches(f, &t), *ch == only, "{f} vs {t}");
            }
        }
    }

    #[test]
    fn site_and_upstream_filters_match_their_topics() {
        let cell = CellRoute {
            district: Ident::new("chancheng").expect("id"),
            street: Ident::new("zumiao").expect("id"),
            community: Ident::new("lianhua").expect("id"),
            cell: Ident::new("g07").expect("id"),
        };
        let up = Topic::OrderUp { cell: cell.clone() }.to_heapless();
        let status = Topic::OrderStatus {
            cell,
            order: Ident::new("gw1-42").expect("id"),
        }
        .to_heapless();
        let notice = Topic::Site {
            site: Ident::new("lianhua-garden").expect("id"),
            feed: Feed::Notice,
            id: Ident::new("gw1-42").expect("id"),
        }
        .to_heapless();
        assert!(matches(filter::ORDERS_UP, &up) && !matches(filter::ORDERS_UP, &status));
        assert!(matches(filter::ORDER_STATUS, &status) && !matches(filter::ORDER_STATUS, &up));
        assert!(matches(filter::INTEGRATOR, &notice) && !matches(filter::INTEGRATOR, &up));
    }
}

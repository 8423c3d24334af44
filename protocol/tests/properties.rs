//! Property tests: every message type round-trips through both codecs, and no
//! decoder panics on any byte string.

use proptest::prelude::*;
use protocol::codec::{decode, decode_core, encode, encode_core};
use protocol::grid::GridPath;
use protocol::node::MAX_READINGS;
use protocol::topic::{CellRoute, Feed};
use protocol::*;

fn ident<const N: usize>() -> impl Strategy<Value = Ident<N>> {
    proptest::string::string_regex(&format!("[A-Za-z0-9_-]{{1,{N}}}"))
        .expect("regex")
        .prop_map(|s| Ident::new(&s).expect("generated ids are valid"))
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

fn finite() -> impl Strategy<Value = f32> {
    -1.0e6f32..1.0e6f32
}

fn ts() -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(node::TS_MIN_MS..node::TS_MAX_MS)
}

fn event() -> impl Strategy<Value = NodeEvent> {
    (
        1u32..,
        ts(),
        pick(EventKind::ALL),
        proptest::option::of(pick(Cause::ALL)),
        proptest::option::of(finite()),
        proptest::option::of(0u8..=100),
        proptest::option::of(ident::<64>()),
        proptest::option::of(1u32..),
    )
        .prop_map(|(seq, ts, kind, cause, value, battery, snapshot, boot)| {
            let needs_cause = matches!(
                kind,
                EventKind::Alarm | EventKind::PreAlarm | EventKind::Fault
            );
            NodeEvent {
                boot,
                seq,
                ts,
                kind,
                cause: if needs_cause {
                    Some(cause.unwrap_or(Cause::Smoke))
                } else {
                    cause
                },
                value,
                battery,
                snapshot: snapshot.map(Into::into),
            }
        })
}

fn telemetry() -> impl Strategy<Value = Telemetry> {
    (
        any::<u32>(),
        ts(),
        proptest::collection::btree_map(ident::<24>(), finite(), 1..MAX_READINGS),
    )
        .prop_map(|(seq, ts, map)| {
            let mut readings = heapless::LinearMap::new();
            for (k, v) in map {
                readings.insert(k, v).expect("fits");
            }
            Telemetry { seq, ts, readings }
        })
}

fn state() -> impl Strategy<Value = DeviceState> {
    (
        pick(Status::ALL),
        proptest::option::of("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}"),
        proptest::option::of(1u32..=86_400),
        proptest::option::of(1u32..),
    )
        .prop_map(|(status, fw, heartbeat_s, boot)| DeviceState {
            status,
            fw: fw.map(|s| heapless::String::try_from(s.as_str()).expect("short")),
            heartbeat_s,
            boot,
        })
}

fn command() -> impl Strategy<Value = Command> {
    (
        any::<u32>(),
        pick(CommandKind::ALL),
        pick(CommandReason::ALL),
        proptest::option::of(1u32..),
    )
        .prop_map(|(id, cmd, reason, duration_s)| Command {
            id,
            cmd,
            reason,
            duration_s,
        })
}

fn command_ack() -> impl Strategy<Value = CommandAck> {
    (any::<u32>(), proptest::option::of(pick(CommandError::ALL))).prop_map(|(id, error)| {
        CommandAck {
            id,
            ok: error.is_none(),
            error,
        }
    })
}

fn grid() -> impl Strategy<Value = GridPath> {
    (ident(), ident(), ident(), ident(), ident()).prop_map(
        |(city, district, street, community, cell)| GridPath {
            city,
            district,
            street,
            community,
            cell,
        },
    )
}

fn order() -> impl Strategy<Value = OrderUp> {
    (
        (ident(), any::<u32>(), ident(), ident(), grid()),
        (
            pick(Tier::ALL),
            ident(),
            pick(AlarmKind::ALL),
            pick(Severity::ALL),
            pick(Urgency::ALL),
        ),
        (
            ident(),
            ".{0,100}",
            ".{0,100}",
            0u64..1 << 50,
            0u64..1 << 40,
        ),
        (pick(OrderState::ALL), proptest::option::of(local_move())),
    )
        .prop_map(
            |(
                (order_id, revision, gateway, site, grid),
                (tier, alarm_id, kind, severity, urgency),
                (device, location, summary, raised_at, slack),
                (state, local),
            )| OrderUp {
                order_id,
                revision,
                gateway,
                site,
                grid,
                tier,
                alarm_id,
                kind,
                severity,
                urgency,
                device,
                location,
                summary,
                raised_at,
                ack_by: raised_at + slack / 2,
                close_by: raised_at + slack,
                state,
                local,
            },
        )
}

fn local_move() -> impl Strategy<Value = LocalMove> {
    (
        pick(UpstreamState::ALL),
        any::<u64>(),
        proptest::option::of(".{0,60}"),
        proptest::option::of(".{0,200}"),
    )
        .prop_map(|(state, at, by, note)| LocalMove {
            state,
            at,
            by,
            note,
        })
}

fn status() -> impl Strategy<Value = StatusUpdate> {
    (
        ident(),
        any::<u32>(),
        pick(UpstreamState::ALL),
        any::<u64>(),
        proptest::option::of(".{0,60}"),
        proptest::option::of(".{0,200}"),
    )
        .prop_map(|(order_id, revision, state, at, by, note)| StatusUpdate {
            order_id,
            revision,
            state,
            at,
            by,
            note,
        })
}

/// Round-trips through serde_json and, when `core`, through serde-json-core.
fn round_trip<M: Message + PartialEq + std::fmt::Debug>(m: &M, core: bool) {
    let bytes = encode(m);
    assert!(bytes.len() <= M::MAX_LEN, "{} bytes", bytes.len());
    assert_eq!(&decode::<M>(&bytes).expect("decodes"), m);
    if core {
        let mut buf = [0u8; 1024];
        let n = encode_core(m, &mut buf).expect("fits");
        assert_eq!(&decode_core::<M>(&buf[..n]).expect("core decodes"), m);
        assert_eq!(&decode::<M>(&buf[..n]).expect("cross decodes"), m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn events_round_trip(m in event()) { round_trip(&m, true) }
    #[test]
    fn telemetry_round_trips(m in telemetry()) { round_trip(&m, true) }
    #[test]
    fn states_round_trip(m in state()) { round_trip(&m, true) }
    #[test]
    fn evt_acks_round_trip(seq in 1u32.., boot in proptest::option::of(1u32..)) {
        round_trip(&EvtAck { seq, boot }, true)
    }
    #[test]
    fn commands_round_trip(m in command()) { round_trip(&m, true) }
    #[test]
    fn command_acks_round_trip(m in command_ack()) { round_trip(&m, true) }
    #[test]
    fn orders_round_trip(m in order()) { round_trip(&m, false) }
    #[test]
    fn statuses_round_trip(m in status()) { round_trip(&m, false) }

    #[test]
    fn no_decoder_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = decode::<NodeEvent>(&bytes);
        let _ = decode_core::<NodeEvent>(&bytes);
        let _ = decode::<Telemetry>(&bytes);
        let _ = decode_core::<Telemetry>(&bytes);
        let _ = decode::<DeviceState>(&bytes);
        let _ = decode_core::<DeviceState>(&bytes);
        let _ = decode::<EvtAck>(&bytes);
        let _ = decode_core::<EvtAck>(&bytes);
        let _ = decode::<Command>(&bytes);
        let _ = decode_core::<Command>(&bytes);
        let _ = decode::<CommandAck>(&bytes);
        let _ = decode_core::<CommandAck>(&bytes);
        let _ = decode::<OrderUp>(&bytes);
        let _ = decode::<StatusUpdate>(&bytes);
        let _ = Topic::parse(&String::from_utf8_lossy(&bytes));
    }

    /// Near-valid JSON reaches deeper into the decoders than random bytes.
    #[test]
    fn no_decoder_panics_on_mutated_messages(
        m in event(), pos in any::<prop::sample::Index>(), byte in any::<u8>()
    ) {
        let mut bytes = encode(&m);
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = decode::<NodeEvent>(&bytes);
        let _ = decode_core::<NodeEvent>(&bytes);
    }

    #[test]
    fn device_topics_round_trip(d in ident::<32>(), ch in pick(DeviceChannel::ALL)) {
        let t = Topic::dev(&d, ch);
        prop_assert_eq!(Topic::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn site_and_upstream_topics_round_trip(
        site in ident::<32>(), feed in pick(Feed::ALL), id in ident::<48>(),
        district in ident::<32>(), street in ident::<32>(), community in ident::<32>(), cell in ident::<32>(),
    ) {
        let t = Topic::Site { site, feed, id: id.clone() };
        prop_assert_eq!(Topic::parse(&t.to_string()), Ok(t));
        let route = CellRoute { district, street, community, cell };
        let up = Topic::OrderUp { cell: route.clone() };
        prop_assert_eq!(Topic::parse(&up.to_string()), Ok(up));
        let st = Topic::OrderStatus { cell: route, order: id };
        prop_assert_eq!(Topic::parse(&st.to_string()), Ok(st));
    }
}

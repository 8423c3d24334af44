//! Runs every file in `protocol/vectors/` through both decoders (the
//! access-control messages too), and checks that a door tells a list chunk
//! from a command.

use std::path::Path;

use protocol::access::{AccessEvent, AccessNotice, ListAck, ListChunk};
use protocol::codec::{decode, decode_core};
use protocol::topic::TopicError;
use protocol::{
    Command, CommandAck, DecodeError, DeviceState, EvtAck, Message, NodeEvent, OrderUp,
    StatusUpdate, Telemetry, Topic,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    message: String,
    #[serde(default)]
    valid: Vec<Valid>,
    #[serde(default)]
    invalid: Vec<Invalid>,
}

#[derive(Deserialize)]
struct Valid {
    name: String,
    payload: String,
}

#[derive(Deserialize)]
struct Invalid {
    name: String,
    payload: String,
    reason: String,
    contains: String,
}

fn load(file: &str) -> VectorFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(file);
    let src = std::fs::read_to_string(&path).expect("vector file");
    toml::from_str(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks one file; `core` says whether the no-alloc decoder handles this type too.
fn check<M: Message + PartialEq + std::fmt::Debug>(file: &str, core: bool) -> usize {
    let v = load(file);
    assert_eq!(v.message, M::NAME, "{file}");
    for case in &v.valid {
        let m: M = decode(case.payload.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: valid `{}` rejected: {e}", case.name));
        let again: M = decode(&protocol::codec::encode(&m)).expect("re-encoded decodes");
        assert_eq!(m, again, "{file}: `{}` does not round-trip", case.name);
        if core {
            let c: M = decode_core(case.payload.as_bytes())
                .unwrap_or_else(|e| panic!("{file}: core rejected valid `{}`: {e}", case.name));
            assert_eq!(m, c, "{file}: decoders disagree on `{}`", case.name);
        }
    }
    for case in &v.invalid {
        let err: DecodeError = match decode::<M>(case.payload.as_bytes()) {
            Ok(m) => panic!("{file}: invalid `{}` accepted as {m:?}", case.name),
            Err(e) => e,
        };
        assert_eq!(
            err.reason(),
            case.reason,
            "{file}: `{}` gave {err}",
            case.name
        );
        let text = err.to_string();
        assert!(
            text.contains(&case.contains),
            "{file}: `{}` error {text:?} lacks {:?}",
            case.name,
            case.contains
        );
        if core {
            let err = decode_core::<M>(case.payload.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{file}: core accepted invalid `{}`", case.name));
            // The allocation-free decoder reports every data error as `invalid`.
            // The allocation-free decoder knows less about why data is bad:
            // only our own checks (size, ranges) must give the same reason.
            let coarse = !matches!(case.reason.as_str(), "too-large" | "out-of-range")
                && matches!(err.reason(), "invalid" | "syntax");
            assert!(
                err.reason() == case.reason || coarse,
                "{file}: core on `{}` gave {err}",
                case.name
            );
        }
    }
    v.valid.len() + v.invalid.len()
}

#[test]
fn every_vector_gives_its_expected_result() {
    let mut n = 0;
    n += check::<NodeEvent>("event.toml", true);
    n += check::<Telemetry>("telemetry.toml", true);
    n += check::<DeviceState>("state.toml", true);
    n += check::<EvtAck>("evt-ack.toml", true);
    n += check::<Command>("command.toml", true);
    n += check::<CommandAck>("command-ack.toml", true);
    n += check::<OrderUp>("order.toml", false);
    n += check::<StatusUpdate>("status.toml", false);
    n += check::<ListChunk>("access-list-chunk.toml", true);
    n += check::<ListAck>("access-list-ack.toml", true);
    n += check::<AccessEvent>("access-event.toml", true);
    n += check::<AccessNotice>("access-notice.toml", true);
    assert!(n >= 96, "only {n} vectors");
}

#[test]
fn a_chunk_is_never_taken_for_a_command_nor_a_command_for_a_chunk() {
    let chunk = br#"{"list":1,"part":0,"parts":1,"total":0,"hash":1,"entries":[]}"#;
    let cmd = br#"{"id":17,"cmd":"unlock","reason":"fire"}"#;
    assert!(decode_core::<Command>(chunk).is_err());
    assert!(decode_core::<ListChunk>(cmd).is_err());
    let ack = br#"{"list":3,"next":2,"ok":true}"#;
    assert!(decode_core::<CommandAck>(ack).is_err());
    assert!(decode_core::<ListAck>(br#"{"id":1,"ok":true}"#).is_err());
}

#[derive(Deserialize)]
struct TopicFile {
    valid: Vec<String>,
    invalid: Vec<BadTopic>,
}

#[derive(Deserialize)]
struct BadTopic {
    topic: String,
    #[serde(default)]
    level: Option<usize>,
    #[serde(default)]
    error: Option<String>,
}

#[test]
fn topic_vectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/topics.toml");
    let f: TopicFile = toml::from_str(&std::fs::read_to_string(path).expect("read")).expect("toml");
    for t in &f.valid {
        let parsed = Topic::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(parsed.to_string(), *t, "{t} does not rebuild");
    }
    for bad in &f.invalid {
        let err = Topic::parse(&bad.topic).expect_err(&bad.topic);
        match (&err, bad.level, bad.error.as_deref()) {
            (TopicError::Foreign, None, Some("foreign")) => {}
            (TopicError::Shape { level, .. }, Some(want), None) => {
                assert_eq!(*level, want, "{}: {err}", bad.topic);
            }
            _ => panic!("{}: unexpected {err:?}", bad.topic),
        }
    }
}

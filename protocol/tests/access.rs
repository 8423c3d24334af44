//! Runs `protocol/vectors/access.toml` through both decoders, and checks the
//! sync rules a door and the gateway share.

use std::path::Path;

use protocol::Message;
use protocol::access::{AccessEvent, AccessNotice, ListAck, ListChunk};
use protocol::codec::{decode, decode_core, encode};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    file: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
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

fn check<M: Message + PartialEq + std::fmt::Debug>(g: &Group) -> usize {
    assert_eq!(g.message, M::NAME);
    for case in &g.valid {
        let m: M = decode(case.payload.as_bytes())
            .unwrap_or_else(|e| panic!("{}: valid `{}` rejected: {e}", M::NAME, case.name));
        let again: M = decode(&encode(&m)).expect("re-encoded decodes");
        assert_eq!(m, again, "`{}` does not round-trip", case.name);
        let c: M = decode_core(case.payload.as_bytes())
            .unwrap_or_else(|e| panic!("{}: core rejected `{}`: {e}", M::NAME, case.name));
        assert_eq!(m, c, "decoders disagree on `{}`", case.name);
    }
    for case in &g.invalid {
        let err = decode::<M>(case.payload.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{}: invalid `{}` accepted", M::NAME, case.name));
        assert_eq!(err.reason(), case.reason, "`{}` gave {err}", case.name);
        let text = err.to_string();
        assert!(
            text.contains(&case.contains),
            "`{}`: {text:?} lacks {:?}",
            case.name,
            case.contains
        );
        let core = decode_core::<M>(case.payload.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{}: core accepted invalid `{}`", M::NAME, case.name));
        let coarse = !matches!(case.reason.as_str(), "too-large" | "out-of-range")
            && matches!(core.reason(), "invalid" | "syntax");
        assert!(
            core.reason() == case.reason || coarse,
            "core on `{}` gave {core}",
            case.name
        );
    }
    g.valid.len() + g.invalid.len()
}

#[test]
fn every_access_vector_gives_its_expected_result() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/access.toml");
    let v: Vectors = toml::from_str(&std::fs::read_to_string(path).expect("read")).expect("toml");
    let mut n = 0;
    let mut seen = Vec::new();
    for g in &v.file {
        n += match g.message.as_str() {
            "list-chunk" => check::<ListChunk>(g),
            "list-ack" => check::<ListAck>(g),
            "access-event" => check::<AccessEvent>(g),
            "access-notice" => check::<AccessNotice>(g),
            other => panic!("unknown message {other}"),
        };
        seen.push(g.message.clone());
    }
    assert_eq!(
        seen,
        ["list-chunk", "list-ack", "access-event", "access-notice"]
    );
    assert!(n >= 30, "only {n} vectors");
}

#[test]
fn a_chunk_is_never_taken_for_a_command_nor_a_command_for_a_chunk() {
    let chunk = br#"{"list":1,"part":0,"parts":1,"total":0,"hash":1,"entries":[]}"#;
    let cmd = br#"{"id":17,"cmd":"unlock","reason":"fire"}"#;
    assert!(decode_core::<protocol::Command>(chunk).is_err());
    assert!(decode_core::<ListChunk>(cmd).is_err());
    let ack = br#"{"list":3,"next":2,"ok":true}"#;
    assert!(decode_core::<protocol::CommandAck>(ack).is_err());
    assert!(decode_core::<ListAck>(br#"{"id":1,"ok":true}"#).is_err());
}

//! GB/T 26875.3 frames (protocol/src/gbt26875.rs, gbt26875_unit.rs) and
//! what the fire-centre link makes of them (gateway/src/firecentre): the
//! input is what the centre sent on one connection.
//! - Frames read one after another from the front, a malformed one
//!   skipped up to the next `@@`: each frame decoded encodes back to the
//!   same bytes; each data unit that parses as upload objects encodes back
//!   to itself; each that parses as a request writes back to the same request.
//! - The link's receive buffer (`next_frame`) gives the same frames however
//!   the bytes are split between two reads.
//! - Every control or request is answered as the link answers it, from a
//!   link whose fire alarm system has the sample compound's smoke detectors
//!   in fire: a response is a data unit that parses, with objects that read,
//!   and fits a frame; a roll call's record is one operation record; a deny
//!   only for what does not parse as a request.
#![no_main]

use std::sync::OnceLock;

use gateway::firecentre::{Answer, Frames, answer, next_frame};
use gridsense_fuzz::compound::{Compound, NOW_MS};
use libfuzzer_sys::fuzz_target;
use protocol::feed::{AlarmFeed, AlarmState};
use protocol::gbt26875::unit::{Object, Request, Unit, encode_unit, kind, operation};
use protocol::gbt26875::{self as gbt, Command, FrameError, Header};
use protocol::{AlarmId, AlarmKind, DeviceId, Severity};

/// A link's state with the sample compound's smoke detectors in one fire.
fn frames() -> &'static Frames {
    static FRAMES: OnceLock<Frames> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let c = Compound::new("gbt", true);
        let smoke: Vec<DeviceId> = c
            .registry
            .devices()
            .filter(|d| d.profile.as_str() == "smoke")
            .map(|d| d.id.clone())
            .collect();
        let grid = (*c.registry.devices().next().expect("devices").grid).clone();
        let fire = AlarmFeed {
            id: AlarmId::new("gw01-a1").expect("an alarm id"),
            kind: AlarmKind::Fire,
            severity: Severity::Critical,
            state: AlarmState::Active,
            condition: true,
            test: false,
            devices: smoke,
            zone: None,
            location: "b1".into(),
            grid,
            raised_at: NOW_MS,
            confirmed_at: Some(NOW_MS),
            confirmed_by: Some("immediate".into()),
            ended_at: None,
            snapshot: None,
        };
        let mut f = Frames::new((1, 1));
        let units = f.on_alarm(&fire, &|id| c.registry.device(id).cloned(), NOW_MS);
        assert!(!units.is_empty(), "the sample fire is reported");
        f
    })
}

/// A data unit read as upload objects writes back to the same bytes.
fn unit(data: &[u8]) {
    let Ok(u) = Unit::parse(data) else { return };
    let Ok(objects) = u.objects().collect::<Result<Vec<Object>, _>>() else {
        return;
    };
    if objects.is_empty() {
        return;
    }
    let mut out = [0u8; gbt::MAX_DATA];
    let n = encode_unit(&objects, &mut out).expect("objects read encode");
    assert_eq!(&out[..n], data, "a data unit encodes differently");
}

/// A data unit read as a request writes back to the same request.
fn request(data: &[u8]) {
    let Ok(r) = Request::parse(data) else { return };
    let mut out = [0u8; 16];
    let n = r.write(&mut out).expect("a request read writes");
    assert_eq!(Request::parse(&out[..n]), Ok(r), "a request changed");
}

/// The link's answer to a control or request holds together.
fn answered(h: &Header, data: &[u8]) {
    let now = h.time.to_unix_ms() + u64::from(h.serial) * 1000;
    let a = answer(frames(), data, now);
    match &a {
        Answer::Deny(_) => assert!(Request::parse(data).is_err(), "a request read was denied"),
        Answer::Response(unit) => {
            let u = Unit::parse(unit).expect("a response parses");
            assert!(u.objects().all(|o| o.is_ok()), "a response's objects read");
            let mut out = [0u8; gbt::MAX_FRAME];
            let reply = Header {
                command: Command::Response,
                ..*h
            };
            gbt::encode(&reply, unit, &mut out).expect("a response fits a frame");
        }
        Answer::RollCall { record, .. } => {
            let u = Unit::parse(record).expect("a roll-call record parses");
            assert_eq!((u.kind, u.count), (kind::DEVICE_OPERATION, 1));
            match u.objects().next() {
                Some(Ok(Object::DeviceOperation { flags, .. })) => {
                    assert_eq!(flags, operation::ROLL_CALL_ANSWER);
                }
                other => panic!("a roll-call record of {other:?}"),
            }
        }
        Answer::Confirm | Answer::ClockSync { .. } => {}
    }
}

/// Frames from the front of `data`, skipping what is not a frame.
fn direct(data: &[u8]) {
    let mut at = 0;
    while at < data.len() {
        let buf = &data[at..];
        match gbt::decode(buf) {
            Ok((frame, len)) => {
                assert!(
                    len > 0 && len <= buf.len(),
                    "frame length {len} of {}",
                    buf.len()
                );
                let mut out = [0u8; gbt::MAX_FRAME];
                let n = gbt::encode(&frame.header, frame.data, &mut out)
                    .expect("a decoded frame encodes");
                assert_eq!(&out[..n], &buf[..len], "a frame encodes differently");
                unit(frame.data);
                request(frame.data);
                if matches!(frame.header.command, Command::Control | Command::Request) {
                    answered(&frame.header, frame.data);
                }
                at += len;
            }
            Err(FrameError::Incomplete { needed }) => {
                assert!(needed > 0, "incomplete, needing nothing more");
                break;
            }
            Err(_) => at += gbt::find_start(buf),
        }
    }
}

/// What the link's receive buffer gives for `reads`, one after another.
fn received(reads: &[&[u8]]) -> Vec<(Header, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for r in reads {
        buf.extend_from_slice(r);
        while let Some(f) = next_frame(&mut buf) {
            out.push(f);
        }
        assert!(
            buf.len() < gbt::MAX_FRAME,
            "the buffer keeps {} bytes",
            buf.len()
        );
    }
    out
}

fuzz_target!(|data: &[u8]| {
    direct(data);
    let whole = received(&[data]);
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let split = received(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole, split, "frames depend on how the bytes were read");
});

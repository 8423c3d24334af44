//! Checks the GB/T 26875.3 codec byte by byte against
//! `protocol/vectors/gbt26875.toml` (built from the standard's tables by
//! `scripts/gbt26875-vectors.py`, not by this crate's encoder).

use std::path::Path;

use protocol::gbt26875::unit::{Object, Request, Unit, encode_unit};
use protocol::gbt26875::{Address, Command, FrameError, Header, TimeTag, VERSION, decode, encode};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    message: String,
    frame: Vec<Vector>,
    invalid: Vec<Invalid>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    hex: String,
    serial: u16,
    time: String,
    source: u64,
    destination: u64,
    command: u8,
    data: String,
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    objects: Vec<Obj>,
}

#[derive(Deserialize)]
struct Obj {
    kind: String,
    #[serde(default)]
    system_type: u8,
    #[serde(default)]
    system_addr: u8,
    #[serde(default)]
    component_type: u8,
    #[serde(default)]
    component_addr: u32,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    description: String,
    #[serde(default)]
    flags: u8,
    #[serde(default)]
    operator: u8,
    time: String,
}

#[derive(Deserialize)]
struct Invalid {
    name: String,
    hex: String,
    reason: String,
}

fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

fn time(s: &str) -> TimeTag {
    let n = |r: std::ops::Range<usize>| s[r].parse::<u16>().expect("number");
    TimeTag {
        year: n(0..4),
        month: n(5..7) as u8,
        day: n(8..10) as u8,
        hour: n(11..13) as u8,
        minute: n(14..16) as u8,
        second: n(17..19) as u8,
    }
}

fn object(o: &Obj) -> Object {
    let t = time(&o.time);
    match o.kind.as_str() {
        "component-state" => Object::ComponentState {
            system_type: o.system_type,
            system_addr: o.system_addr,
            component_type: o.component_type,
            component_addr: o.component_addr,
            status: o.status,
            description: Object::description(&o.description),
            time: t,
        },
        "system-state" => Object::SystemState {
            system_type: o.system_type,
            system_addr: o.system_addr,
            status: o.status,
            time: t,
        },
        // One status byte (checked by the vectors' range).
        "device-state" => Object::DeviceState {
            status: u8::try_from(o.status).expect("one byte"),
            time: t,
        },
        "device-operation" => Object::DeviceOperation {
            flags: o.flags,
            operator: o.operator,
            time: t,
        },
        other => panic!("unknown object kind {other}"),
    }
}

fn load() -> File {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/gbt26875.toml");
    let src = std::fs::read_to_string(&path).expect("vector file");
    toml::from_str(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn frames_decode_to_their_fields_and_encode_to_their_bytes() {
    let f = load();
    assert_eq!(f.message, "gbt26875");
    assert!(f.frame.len() >= 10, "vectors missing");
    for v in &f.frame {
        let wire = bytes(&v.hex);
        let data = bytes(&v.data);
        let header = Header {
            serial: v.serial,
            version: VERSION,
            time: time(&v.time),
            source: Address(v.source),
            destination: Address(v.destination),
            command: Command::from_byte(v.command),
        };
        // Decode: every field, and the whole frame consumed.
        let (frame, used) = decode(&wire).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(used, wire.len(), "{}", v.name);
        assert_eq!(frame.header, header, "{}", v.name);
        assert_eq!(frame.data, &data[..], "{}", v.name);
        // Encode: byte by byte.
        let mut out = vec![0u8; wire.len() + 8];
        let n = encode(&header, &data, &mut out).expect("encode");
        for (i, (a, b)) in out[..n].iter().zip(&wire).enumerate() {
            assert_eq!(a, b, "{}: byte {i}", v.name);
        }
        assert_eq!(n, wire.len(), "{}", v.name);
        // The data unit's objects, both ways.
        if !v.objects.is_empty() {
            let want: Vec<Object> = v.objects.iter().map(object).collect();
            let unit = Unit::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            let got: Vec<Object> = unit.objects().collect::<Result<_, _>>().expect("objects");
            assert_eq!(got, want, "{}", v.name);
            let mut buf = [0u8; 1024];
            let n = encode_unit(&want, &mut buf).expect("encode unit");
            assert_eq!(&buf[..n], &data[..], "{}", v.name);
        }
        if let Some(r) = &v.request {
            let req = Request::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            let name = match req {
                Request::SyncClock(_) => "sync-clock",
                Request::RollCall { .. } => "roll-call",
                Request::ReadDeviceState => "read-device-state",
                _ => "other",
            };
            assert_eq!(name, r, "{}", v.name);
            assert_eq!(req.command().to_byte(), v.command, "{}", v.name);
            let mut buf = [0u8; 16];
            let n = req.write(&mut buf).expect("write");
            assert_eq!(&buf[..n], &data[..], "{}", v.name);
        }
    }
}

#[test]
fn invalid_frames_are_refused_with_their_reason() {
    for v in &load().invalid {
        let err = decode(&bytes(&v.hex))
            .err()
            .unwrap_or_else(|| panic!("{} accepted", v.name));
        let reason = match err {
            FrameError::Checksum { .. } => "checksum",
            FrameError::NoEnd => "no-end",
            FrameError::TooLong(_) => "too-long",
            FrameError::BadTime => "bad-time",
            FrameError::NoStart => "no-start",
            other => panic!("{}: {other:?}", v.name),
        };
        assert_eq!(reason, v.reason, "{}", v.name);
    }
}

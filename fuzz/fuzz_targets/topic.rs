//! Topic parsing (protocol/src/topic.rs) and the identifiers in it
//! (protocol/src/ident.rs): a topic that parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{DeviceId, FieldName, Name, Topic};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Topic::parse(s) {
        let printed = t.to_heapless();
        assert_eq!(printed.as_str(), s, "a parsed topic prints differently");
        assert_eq!(Topic::parse(&printed), Ok(t));
    }
    if let Ok(id) = DeviceId::new(s) {
        assert_eq!(id.as_str(), s);
    }
    let _ = FieldName::new(s);
    let _ = Name::new(s);
});

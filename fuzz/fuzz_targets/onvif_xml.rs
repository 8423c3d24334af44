//! What an ONVIF camera answers (gateway/src/onvif/parse.rs): every parser
//! of a SOAP answer, chosen by the first byte, on any text; a PullMessages
//! answer's notifications are also classified. None may panic, and a
//! notification list stays within its bound. Seeds: the camera
//! simulator's answers (fuzz/seeds/onvif_xml/).
#![no_main]

use gateway::onvif;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();
    match which % 7 {
        0 => {
            if let Ok(p) = onvif::pulled(text) {
                assert!(p.messages.len() <= onvif::MAX_NOTIFICATIONS);
                for n in &p.messages {
                    let _ = onvif::classify(n);
                }
            }
        }
        1 => {
            if let Ok(s) = onvif::subscription(text) {
                assert!(!s.address.is_empty());
            }
            let _ = onvif::renewed(text);
        }
        2 => {
            let _ = onvif::services(text);
        }
        3 => {
            let _ = onvif::profiles(text);
            if let Ok(uri) = onvif::snapshot_uri(text) {
                let _ = protocol::SnapshotRef::new(&uri);
            }
        }
        4 => {
            let _ = onvif::system_time(text);
        }
        5 => {
            if let Some(f) = onvif::fault(text) {
                let _ = (f.is_unauthorized(), f.to_string());
            }
            let _ = onvif::is_success(text);
        }
        _ => {
            if let Some(ms) = onvif::parse_time(text) {
                assert!(ms < 4_102_444_800_000 + 86_400_000, "years to 2099 only");
            }
        }
    }
});

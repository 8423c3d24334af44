//! The console's and the public form's JSON request bodies
//! (gateway/src/api/bodies.rs): login, users, maintenance windows, actions
//! on alarms and work orders, residents' reports, visitor passes,
//! revocations and device registration, each through the extractor and
//! the checks its handler applies, against the sample compound's registry
//! and store. The first byte picks the route; the rest is the body.
//! - A refusal is always the client's mistake: a 4xx with a message, never
//!   a 5xx (a body must not make the gateway fail).
//! - What is accepted is within the limits the handlers promise: a window
//!   in the future and no longer than the maximum, a report's text and
//!   phone bounded, a visitor pass that ends after it starts and opens
//!   something, a role that exists.
#![no_main]

use std::sync::Mutex;

use gateway::access::import::check_id;
use gateway::api::bodies::{Accepted, BodyContext, BodyRoute, check};
use gridsense_fuzz::compound::{Compound, NOW_MS};
use libfuzzer_sys::fuzz_target;
use protocol::access::CredKind;

/// `[alarms] max_maintenance_h` by default: 72 h.
const MAX_MAINTENANCE_MS: u64 = 72 * 3_600_000;

fn accepted(a: &Accepted) {
    match a {
        Accepted::MaintenanceStart(w) => {
            assert!(w.until > NOW_MS, "a window that does not end in the future");
            assert!(w.until - NOW_MS <= MAX_MAINTENANCE_MS, "a window too long");
            assert!(
                !w.by.is_empty() && !w.reason.is_empty(),
                "a window without who and why"
            );
        }
        Accepted::MaintenanceEnd { by, reason } => {
            assert!(
                !by.is_empty() && !reason.is_empty(),
                "an end without who and why"
            );
        }
        Accepted::Report { text, phone, .. } => {
            let n = text.chars().count();
            assert!((1..=500).contains(&n), "a report of {n} characters");
            assert_eq!(text.trim(), text, "a report's text not trimmed");
            if let Some(p) = phone {
                assert!(
                    !p.is_empty() && p.len() <= 20,
                    "a phone of {} bytes",
                    p.len()
                );
            }
        }
        Accepted::Visitor(c) => {
            assert_eq!(c.kind, CredKind::Qr);
            assert!(
                c.visitor && !c.grants.is_empty(),
                "a pass that opens nothing"
            );
            let (from, until) = (c.valid_from.expect("from"), c.valid_until.expect("until"));
            assert!(until > from, "a pass that ends before it starts");
            assert_eq!(
                check_id(CredKind::Qr, &c.id),
                Ok(()),
                "a pass with a bad id"
            );
        }
        Accepted::User { name, .. } => {
            assert!(
                !name.is_empty() && name.len() <= 64,
                "a user name of {} bytes",
                name.len()
            );
        }
        Accepted::Login { .. }
        | Accepted::AlarmAction { .. }
        | Accepted::OrderAction { .. }
        | Accepted::Revoke { .. }
        | Accepted::Device(_) => {}
    }
}

static COMPOUND: Mutex<Option<Compound>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let route = BodyRoute::ALL[usize::from(which) % BodyRoute::ALL.len()];
    let mut c = COMPOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let c = c.get_or_insert_with(|| Compound::new("api", true));
    let ctx = BodyContext {
        registry: &c.registry,
        profiles: &c.profiles,
        store: &c.store,
        now_ms: NOW_MS,
        max_maintenance_ms: MAX_MAINTENANCE_MS,
    };
    match check(route, body, &ctx) {
        Ok(a) => accepted(&a),
        Err(r) => {
            assert!(
                r.status.is_client_error(),
                "{route:?} answered {} to a body: {}",
                r.status,
                r.message
            );
            assert!(!r.message.is_empty(), "{route:?} refused without a reason");
        }
    }
});

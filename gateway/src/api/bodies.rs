//! The JSON bodies the API takes, each run through the extractor and the
//! checks its handler applies before it changes anything: the same
//! functions the handlers call, gathered here without the state, the store
//! writes and the rate limits around them. The fuzz target `api_bodies`
//! drives [`check`]; a refusal must always be the client's mistake (4xx).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use protocol::access::CredKind;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::access::{NewVisitor, Revoke, visitor_pass};
use super::auth::{Login, NewUser};
use super::devices::NewDevice;
use super::operators::{MaintenanceRequest, action_body, parse, who_and_why, window};
use super::orders::order_action;
use super::reports::{self, Report};
use crate::access::Credential;
use crate::alarms::maintenance::scope_of;
use crate::alarms::{MaintenanceError, Window};
use crate::auth::Role;
use crate::registry::{DeviceFields, ImportError, Profiles, Registry, check_device};
use crate::store::Store;

/// A route that takes a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRoute {
    /// `POST /api/login`.
    Login,
    /// `POST /api/users`.
    User,
    /// `POST /api/maintenance`.
    Maintenance,
    /// `POST /api/alarms/{id}/{action}` (optional body).
    AlarmAction,
    /// `POST /api/orders/{id}/{action}` (optional body).
    OrderAction,
    /// `POST /report/{site}` (public).
    Report,
    /// `POST /api/access/visitors`.
    Visitor,
    /// `POST /api/access/revoke`.
    Revoke,
    /// `POST /api/devices`.
    Device,
}

impl BodyRoute {
    /// Every route with a body.
    pub const ALL: [Self; 9] = [
        Self::Login,
        Self::User,
        Self::Maintenance,
        Self::AlarmAction,
        Self::OrderAction,
        Self::Report,
        Self::Visitor,
        Self::Revoke,
        Self::Device,
    ];
}

/// What the checks read: the registry and profiles in force, the store
/// (device registration checks ids against it), the time and the longest
/// maintenance window.
#[derive(Debug, Clone, Copy)]
pub struct BodyContext<'a> {
    /// The registry in force.
    pub registry: &'a Registry,
    /// The profiles in force.
    pub profiles: &'a Profiles,
    /// The store devices are registered into (read only here).
    pub store: &'a Store,
    /// Now, ms since the epoch.
    pub now_ms: u64,
    /// `[alarms] max_maintenance_h`, in ms.
    pub max_maintenance_ms: u64,
}

/// A body that passed its route's checks, with what was checked.
#[derive(Debug, Clone)]
pub enum Accepted {
    /// A login to try (the password is checked against the store).
    Login {
        /// User name.
        user: String,
    },
    /// A user to add.
    User {
        /// Login name.
        name: String,
        /// Role.
        role: Role,
    },
    /// A maintenance window to start.
    MaintenanceStart(Window),
    /// A maintenance window to end.
    MaintenanceEnd {
        /// Who ends it.
        by: String,
        /// Why.
        reason: String,
    },
    /// An action on an alarm.
    AlarmAction {
        /// Who acts (empty: the caller).
        by: String,
        /// Why.
        reason: String,
    },
    /// A move of a work order.
    OrderAction {
        /// Who (empty: the caller).
        by: String,
        /// What was done.
        note: String,
    },
    /// A resident's report.
    Report {
        /// The place's label.
        label: String,
        /// The text, trimmed.
        text: String,
        /// The phone number, trimmed.
        phone: Option<String>,
    },
    /// A visitor pass to store.
    Visitor(Credential),
    /// A credential to revoke.
    Revoke {
        /// Its kind.
        kind: CredKind,
        /// Its id.
        id: String,
    },
    /// A device to register.
    Device(DeviceFields),
}

/// Why a body was refused: the status and message the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The answer's status.
    pub status: StatusCode,
    /// What the client is told.
    pub message: String,
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

impl From<JsonRejection> for Refused {
    fn from(e: JsonRejection) -> Self {
        Self {
            status: e.status(),
            message: e.body_text(),
        }
    }
}

/// The `Json` extractor's reading of a body (its content type aside).
fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refused> {
    Json::<T>::from_bytes(body)
        .map(|Json(t)| t)
        .map_err(Refused::from)
}

/// Runs `body` through `route`'s extractor and checks, as its handler does.
///
/// # Errors
/// [`Refused`]: the status and message the handler would answer with.
pub fn check(route: BodyRoute, body: &[u8], ctx: &BodyContext<'_>) -> Result<Accepted, Refused> {
    Ok(match route {
        BodyRoute::Login => Accepted::Login {
            user: json::<Login>(body)?.user,
        },
        BodyRoute::User => {
            let u: NewUser = json(body)?;
            let role = u.check()?;
            Accepted::User {
                name: u.name().to_string(),
                role,
            }
        }
        BodyRoute::Maintenance => maintenance(body, ctx)?,
        BodyRoute::AlarmAction => {
            let b = action_body(&Bytes::copy_from_slice(body))?;
            Accepted::AlarmAction {
                by: b.by,
                reason: b.reason,
            }
        }
        BodyRoute::OrderAction => {
            let b = order_action(body)?;
            Accepted::OrderAction {
                by: b.by,
                note: b.note,
            }
        }
        BodyRoute::Report => {
            let r: Report = json(body)?;
            let (label, _, text, phone) = reports::check(ctx.registry, &r)?;
            Accepted::Report { label, text, phone }
        }
        BodyRoute::Visitor => {
            let v: NewVisitor = json(body)?;
            let pass = visitor_pass(v, ctx.registry, ctx.profiles).map_err(ApiError::Body)?;
            Accepted::Visitor(pass)
        }
        BodyRoute::Revoke => {
            let r: Revoke = json(body)?;
            let (kind, id) = r.key()?;
            Accepted::Revoke {
                kind,
                id: id.to_string(),
            }
        }
        BodyRoute::Device => {
            let d: NewDevice = json(body)?;
            let fields = d.fields();
            match check_device(ctx.store, &fields, ctx.profiles, ctx.now_ms) {
                Ok(()) => Accepted::Device(fields),
                Err(ImportError::Invalid(errors)) => {
                    let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    return Err(ApiError::Body(why.join("; ")).into());
                }
                Err(e) => return Err(ApiError::Internal(e.to_string()).into()),
            }
        }
    })
}

/// `POST /api/maintenance` up to the engine: the body, the target, and the
/// window (to start) or who and why (to end).
fn maintenance(body: &[u8], ctx: &BodyContext<'_>) -> Result<Accepted, ApiError> {
    let m: MaintenanceRequest = parse(&Bytes::copy_from_slice(body), None)?;
    let scope = scope_of(ctx.registry, &m.target)
        .ok_or_else(|| MaintenanceError::UnknownTarget(m.target.clone()))?;
    if m.on {
        window(&m, scope, ctx.now_ms, ctx.max_maintenance_ms).map(Accepted::MaintenanceStart)
    } else {
        let (by, reason) = who_and_why(&m.by, &m.reason)?;
        Ok(Accepted::MaintenanceEnd { by, reason })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const NOW: u64 = 1_764_547_200_000;

    struct Site {
        _dir: tempfile::TempDir,
        store: Store,
        registry: Registry,
        profiles: Profiles,
    }

    fn site() -> Site {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("gw.db")).expect("store");
        let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/site.csv");
        crate::registry::import_sites(&mut store, &csv).expect("site");
        let registry = Registry::load(&store).expect("registry");
        Site {
            _dir: dir,
            store,
            registry,
            profiles: Profiles::builtin(),
        }
    }

    fn run(s: &Site, route: BodyRoute, body: &str) -> Result<Accepted, Refused> {
        let ctx = BodyContext {
            registry: &s.registry,
            profiles: &s.profiles,
            store: &s.store,
            now_ms: NOW,
            max_maintenance_ms: 72 * 3_600_000,
        };
        check(route, body.as_bytes(), &ctx)
    }

    #[test]
    fn a_body_that_is_not_json_is_the_clients_mistake_on_every_route() {
        let s = site();
        for route in BodyRoute::ALL {
            let r = run(&s, route, "{\"by\":").expect_err("refused");
            assert!(r.status.is_client_error(), "{route:?}: {}", r.status);
            assert!(!r.message.is_empty());
        }
        // The optional bodies may be empty.
        assert!(run(&s, BodyRoute::AlarmAction, "").is_ok());
        assert!(run(&s, BodyRoute::OrderAction, " \n").is_ok());
    }

    #[test]
    fn a_maintenance_window_is_checked_as_its_handler_checks_it() {
        let s = site();
        let ok = r#"{"target":"b1","on":true,"by":"Li","reason":"service","for_s":3600}"#;
        match run(&s, BodyRoute::Maintenance, ok) {
            Ok(Accepted::MaintenanceStart(w)) => assert_eq!(w.until, NOW + 3_600_000),
            other => panic!("{other:?}"),
        }
        let past = r#"{"target":"b1","on":true,"by":"Li","reason":"x","until":1}"#;
        let r = run(&s, BodyRoute::Maintenance, past).expect_err("in the past");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let nowhere = r#"{"target":"b9","on":false,"by":"Li","reason":"x"}"#;
        let r = run(&s, BodyRoute::Maintenance, nowhere).expect_err("unknown target");
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn reports_and_visitor_passes_are_checked_against_the_registry() {
        let s = site();
        let report = r#"{"place":"b1","text":"  smoke on the stairs ","phone":" 138 "}"#;
        match run(&s, BodyRoute::Report, report) {
            Ok(Accepted::Report { text, phone, .. }) => {
                assert_eq!(text, "smoke on the stairs");
                assert_eq!(phone.as_deref(), Some("138"));
            }
            other => panic!("{other:?}"),
        }
        let r = run(&s, BodyRoute::Report, r#"{"place":"b9","text":"x"}"#).expect_err("place");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let pass = r#"{"holder":"101","opens":["b1"],"from":"2025-12-01T14:00Z","until":"2025-12-01T18:00Z","id":"v-1"}"#;
        match run(&s, BodyRoute::Visitor, pass) {
            Ok(Accepted::Visitor(c)) => {
                assert_eq!(
                    (c.valid_from, c.valid_until),
                    (Some(1_764_597_600), Some(1_764_612_000))
                );
            }
            other => panic!("{other:?}"),
        }
        // A year of 13 digits overflowed the day count (a path the fuzz
        // target `api_bodies` drives): now a 422 like any time out of range.
        let far = r#"{"holder":"101","opens":["b1"],"from":"2025-12-01T14:00Z","until":"9999999999999-01-01T00:00Z"}"#;
        let r = run(&s, BodyRoute::Visitor, far).expect_err("far year");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.message.contains("1970..2106"), "{}", r.message);
        let r = run(&s, BodyRoute::Revoke, r#"{"credential":"iris:7"}"#).expect_err("kind");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

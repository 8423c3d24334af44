//! `gridsense access import FILE`: credentials and what they open, from CSV.
//!
//! Columns (docs/access.md): `credential` (the id the reader delivers),
//! `kind` (card, pin, qr; default card), `holder`, `opens` (door ids or
//! site node ids, `;`-separated), `valid_from`, `valid_until`
//! (`2026-12-01T14:00Z` or seconds since 1970), `days` (`mon-fri`),
//! `hours` (`07:00-20:00`), `visitor` (yes/no). Every row is checked
//! before anything is written; one error anywhere writes nothing, and every
//! error is reported as `FILE:LINE: column X: what is wrong`.

use std::collections::HashMap;
use std::path::Path;

use protocol::access::{CRED_ID_LEN, CredKind};

use super::model::{Credential, Grant};
use super::time;
use crate::registry::{Errors, ImportError, Profiles, Registry, Table};
use crate::store::Store;

const KNOWN: &[&str] = &[
    "credential",
    "kind",
    "holder",
    "opens",
    "valid_from",
    "valid_until",
    "days",
    "hours",
    "visitor",
];
const REQUIRED: &[&str] = &["credential", "holder", "opens"];

/// Checks one credential id of `kind`.
///
/// # Errors
/// What is wrong.
pub fn check_id(kind: CredKind, id: &str) -> Result<(), String> {
    protocol::ident::check(id, CRED_ID_LEN).map_err(|e| {
        format!("{id:?} {e} (a credential id is at most {CRED_ID_LEN} of [A-Za-z0-9_-])")
    })?;
    if kind == CredKind::Pin
        && (!(4..=8).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{id:?}: a PIN is 4 to 8 digits"));
    }
    Ok(())
}

/// Checks what a grant targets: a door that takes lists, or a site node.
///
/// # Errors
/// What is wrong.
pub fn check_target(reg: &Registry, profiles: &Profiles, target: &str) -> Result<(), String> {
    if reg.site_node(target).is_some() {
        return Ok(());
    }
    match reg.device(target) {
        Some(d)
            if profiles
                .get(d.profile.as_str())
                .is_some_and(|p| p.access.is_some()) =>
        {
            Ok(())
        }
        Some(d) => Err(format!(
            "{target:?} is a {} device, not a door with a reader (its profile has no [access])",
            d.profile
        )),
        None => Err(format!(
            "{target:?} is neither a door nor a site node in the registry"
        )),
    }
}

fn flag(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "" | "no" | "false" | "0" => Ok(false),
        "yes" | "true" | "1" => Ok(true),
        _ => Err(format!("{s:?} is not yes or no")),
    }
}

/// What one row needs from outside it.
struct Ctx<'a> {
    reg: &'a Registry,
    profiles: &'a Profiles,
}

fn row(
    t: &Table,
    rec: &csv::StringRecord,
    line: u64,
    ctx: &Ctx<'_>,
    errs: &mut Errors,
) -> Option<Credential> {
    let before = errs_len(errs);
    let get = |c: &str| t.get(rec, c);
    let kind = match get("kind") {
        "" => CredKind::Card,
        k => CredKind::parse(&k.to_ascii_lowercase()).unwrap_or_else(|| {
            errs.push(line, "kind", format!("{k:?} is not card, pin or qr"));
            CredKind::Card
        }),
    };
    let id = get("credential");
    if let Err(e) = check_id(kind, id) {
        errs.push(line, "credential", e);
    }
    let holder = get("holder");
    if holder.is_empty() {
        errs.push(line, "holder", "is empty: say whose credential it is");
    }
    let mut instant = |c: &str| match get(c) {
        "" => None,
        v => time::instant(v).map_err(|e| errs.push(line, c, e)).ok(),
    };
    let (from, until) = (instant("valid_from"), instant("valid_until"));
    if let (Some(f), Some(u)) = (from, until)
        && u <= f
    {
        errs.push(line, "valid_until", "is not after valid_from");
    }
    let visitor = flag(get("visitor")).unwrap_or_else(|e| {
        errs.push(line, "visitor", e);
        false
    });
    if visitor && until.is_none() {
        errs.push(
            line,
            "valid_until",
            "a visitor pass needs the end of its period",
        );
    }
    let window = time::window(get("days"), get("hours")).unwrap_or_else(|e| {
        errs.push(line, "days/hours", e);
        None
    });
    let mut grants = Vec::new();
    for target in get("opens")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match check_target(ctx.reg, ctx.profiles, target) {
            Ok(()) => grants.push(Grant {
                target: target.to_string(),
                window,
            }),
            Err(e) => errs.push(line, "opens", e),
        }
    }
    if get("opens").trim().is_empty() {
        errs.push(
            line,
            "opens",
            "is empty: name the doors or site nodes it opens",
        );
    }
    (errs_len(errs) == before).then(|| Credential {
        kind,
        id: id.to_string(),
        holder: holder.to_string(),
        visitor,
        valid_from: from,
        valid_until: until,
        revoked_ms: None,
        grants,
    })
}

fn errs_len(e: &Errors) -> usize {
    e.len()
}

/// Reads and checks `path`; every credential, or every error.
///
/// # Errors
/// [`ImportError::Invalid`] with every problem; [`ImportError::Io`].
pub fn read(
    path: &Path,
    reg: &Registry,
    profiles: &Profiles,
) -> Result<Vec<Credential>, ImportError> {
    let t = Table::read(path, KNOWN, REQUIRED)?;
    let mut errs = Errors::new(&t.file);
    let ctx = Ctx { reg, profiles };
    let mut seen: HashMap<(CredKind, String), u64> = HashMap::new();
    let mut out = Vec::new();
    for (line, rec) in &t.rows {
        let Some(c) = row(&t, rec, *line, &ctx, &mut errs) else {
            continue;
        };
        if let Some(first) = seen.insert((c.kind, c.id.clone()), *line) {
            errs.push(
                *line,
                "credential",
                format!("{} appears already on line {first}", c.key()),
            );
            continue;
        }
        out.push(c);
    }
    errs.finish()?;
    Ok(out)
}

/// Imports `path` into `store`: all rows, or none. Returns how many.
///
/// # Errors
/// As [`read`]; [`ImportError::Store`].
pub fn import(
    store: &mut Store,
    path: &Path,
    reg: &Registry,
    profiles: &Profiles,
    now_ms: u64,
    by: &str,
) -> Result<usize, ImportError> {
    let creds = read(path, reg, profiles)?;
    super::db::save(store.conn_mut(), &creds, now_ms, by)?;
    Ok(creds.len())
}

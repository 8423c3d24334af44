//! `gridsense access ...`: credentials, visitor passes and door lists.
//!
//! Changes are written to the store (audited) and picked up by a running
//! gateway within `[access] poll_ms`, which then syncs the changed doors.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use protocol::access::CredKind;

use super::db::{DbArgs, finish, import_failed, profiles};
use crate::access::{Credential, Grant, db, import, time};
use crate::registry::Registry;
use crate::store::Store;

/// `gridsense access ...`
#[derive(Debug, Subcommand)]
pub enum AccessCmd {
    /// Add or replace credentials from a CSV file (columns in docs/access.md);
    /// one error anywhere and nothing is written.
    Import {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List credentials (or one door's: those that open it).
    List {
        /// Only those that open this door.
        #[arg(long)]
        door: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a credential (`card:ID`, `pin:ID`, `qr:ID`); doors refuse it
    /// after their next sync.
    Revoke {
        /// `KIND:ID`.
        credential: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Issue a visitor pass (a QR token, printed) for a period and doors.
    Visitor {
        /// Whose visitor (a flat, a name).
        #[arg(long)]
        holder: String,
        /// Doors or site nodes, `;`-separated.
        #[arg(long)]
        opens: String,
        /// Start (`2026-12-01T14:00Z` or seconds since 1970).
        #[arg(long)]
        from: String,
        /// End (exclusive).
        #[arg(long)]
        until: String,
        /// The token (default: a random `v-` id).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Every door's list: version, entries, what the door confirmed, errors.
    Doors {
        #[command(flatten)]
        db: DbArgs,
    },
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse_key(s: &str) -> Result<(CredKind, String), String> {
    let (k, id) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: write KIND:ID, e.g. card:card-0001"))?;
    let kind = CredKind::parse(k).ok_or_else(|| format!("{k:?} is not card, pin or qr"))?;
    Ok((kind, id.to_string()))
}

/// Runs `access ...`.
pub fn main(cmd: AccessCmd) -> ExitCode {
    finish(run(cmd))
}

fn open(db: &DbArgs) -> Result<(Store, Registry, crate::registry::Profiles), String> {
    let (store, dir) = db.open()?;
    let reg = Registry::load(&store).map_err(|e| e.to_string())?;
    let profiles = profiles(dir.as_deref())?;
    Ok((store, reg, profiles))
}

fn run(cmd: AccessCmd) -> Result<String, String> {
    match cmd {
        AccessCmd::Import { file, db } => {
            let (mut store, reg, profiles) = open(&db)?;
            let n = import::import(&mut store, &file, &reg, &profiles, now_ms(), "cli")
                .map_err(|e| import_failed(&e))?;
            Ok(format!(
                "{}: {n} credentials added or replaced",
                file.display()
            ))
        }
        AccessCmd::List { door, db } => list(&db, door.as_deref()),
        AccessCmd::Revoke { credential, db } => {
            let (kind, id) = parse_key(&credential)?;
            let (mut store, _) = db.open()?;
            let done = db::revoke(store.conn_mut(), kind, &id, now_ms(), "cli")
                .map_err(|e| e.to_string())?;
            if done {
                Ok(format!(
                    "{kind}:{id} revoked; doors refuse it after their next sync"
                ))
            } else {
                Err(format!(
                    "{kind}:{id}: no such credential, or already revoked"
                ))
            }
        }
        AccessCmd::Visitor {
            holder,
            opens,
            from,
            until,
            id,
            db,
        } => visitor(&db, holder, &opens, (&from, &until), id),
        AccessCmd::Doors { db } => doors(&db),
    }
}

fn visitor(
    db: &DbArgs,
    holder: String,
    opens: &str,
    (from, until): (&str, &str),
    id: Option<String>,
) -> Result<String, String> {
    let (mut store, reg, profiles) = open(db)?;
    let from = time::instant(from).map_err(|e| format!("--from: {e}"))?;
    let until = time::instant(until).map_err(|e| format!("--until: {e}"))?;
    if until <= from {
        return Err("--until: is not after --from".into());
    }
    let id = match id {
        Some(i) => i,
        None => format!(
            "v-{}",
            &crate::registry::new_secret().map_err(|e| e.to_string())?[..12]
        ),
    };
    import::check_id(CredKind::Qr, &id).map_err(|e| format!("--id: {e}"))?;
    let mut grants = Vec::new();
    for t in opens.split(';').map(str::trim).filter(|t| !t.is_empty()) {
        import::check_target(&reg, &profiles, t).map_err(|e| format!("--opens: {e}"))?;
        grants.push(Grant {
            target: t.to_string(),
            window: None,
        });
    }
    if grants.is_empty() {
        return Err("--opens: name at least one door or site node".into());
    }
    let c = Credential {
        kind: CredKind::Qr,
        id,
        holder,
        visitor: true,
        valid_from: Some(from),
        valid_until: Some(until),
        revoked_ms: None,
        grants,
    };
    db::save(store.conn_mut(), std::slice::from_ref(&c), now_ms(), "cli")
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{}\nvisitor pass for {} from {} until {}",
        c.key(),
        c.holder,
        time::format(from),
        time::format(until)
    ))
}

fn list(db: &DbArgs, door: Option<&str>) -> Result<String, String> {
    let (store, reg, _) = open(db)?;
    let creds = db::load(store.conn()).map_err(|e| e.to_string())?;
    let dev = match door {
        Some(d) => Some(
            reg.device(d)
                .ok_or_else(|| format!("--door {d}: no such device"))?,
        ),
        None => None,
    };
    let mut out = String::from("credential\tholder\topens\tvalid\trevoked\n");
    for c in &creds {
        if let Some(d) = dev
            && !c
                .grants
                .iter()
                .any(|g| crate::access::lists::covers(&g.target, d))
        {
            continue;
        }
        let opens: Vec<&str> = c.grants.iter().map(|g| g.target.as_str()).collect();
        let valid = match (c.valid_from, c.valid_until) {
            (None, None) => "always".to_string(),
            (f, u) => format!(
                "{}..{}",
                f.map(time::format).unwrap_or_default(),
                u.map(time::format).unwrap_or_default()
            ),
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{valid}\t{}",
            c.key(),
            c.holder,
            opens.join(";"),
            if c.revoked_ms.is_some() { "yes" } else { "no" }
        );
    }
    Ok(out.trim_end().to_string())
}

fn doors(db: &DbArgs) -> Result<String, String> {
    let (store, _) = db.open()?;
    let rows = db::lists(store.conn()).map_err(|e| e.to_string())?;
    let mut out = String::from("door\tversion\tentries\tactive\terror\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            r.door,
            r.version,
            r.entries,
            r.active,
            r.error.unwrap_or_default()
        );
    }
    Ok(out.trim_end().to_string())
}

//! `gridsense user add|token|list`: the HTTP API's users. There are no
//! default credentials: the first admin is made here. The password is read
//! from a file or from standard input (one line), never from the command
//! line and never logged; a token is printed once.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::db::{DbArgs, finish};
use crate::api::check_user;
use crate::auth::{hash_password, new_token, token_hash};
use crate::clock::{Clock as _, SystemClock};
use crate::store::{AuthWrite, UserRow};

/// `gridsense user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user, or set an existing user's role and password.
    Add {
        /// Login name.
        name: String,
        /// viewer, operator, installer or admin.
        #[arg(long)]
        role: String,
        /// Read the password from this file (first line) [default: standard input].
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Make a bearer token for a user (machines: Prometheus, integrations); printed once.
    Token {
        /// Whose token.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List users and roles.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The first line of `file`, or of standard input.
fn read_password(file: Option<&Path>) -> Result<String, String> {
    let mut line = String::new();
    match file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            line = text.lines().next().unwrap_or_default().to_string();
        }
        None => {
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("standard input: {e}"))?;
        }
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Runs `user ...`.
pub fn main(cmd: UserCmd) -> ExitCode {
    finish(match cmd {
        UserCmd::Add {
            name,
            role,
            password_file,
            db,
        } => add(&name, &role, password_file.as_deref(), &db),
        UserCmd::Token { name, db } => token(&name, &db),
        UserCmd::List { db } => list(&db),
    })
}

fn add(name: &str, role: &str, file: Option<&Path>, db: &DbArgs) -> Result<String, String> {
    let password = read_password(file)?;
    let role = check_user(name, role, &password)?;
    let hash = hash_password(&password).map_err(|e| e.to_string())?;
    let (mut store, _) = db.open()?;
    let user = UserRow {
        name: name.to_string(),
        role: role.as_str().to_string(),
        hash,
        created_ms: SystemClock.now_ms(),
        disabled: false,
    };
    store
        .write_auth(&AuthWrite::User {
            user,
            by: "cli".into(),
        })
        .map_err(|e| e.to_string())?;
    Ok(format!("user {name} set, role {role}"))
}

fn token(name: &str, db: &DbArgs) -> Result<String, String> {
    let (mut store, _) = db.open()?;
    if store.api_user(name).map_err(|e| e.to_string())?.is_none() {
        return Err(format!(
            "no user {name}: `gridsense user add {name} --role ...` first"
        ));
    }
    let (id, token) = new_token().map_err(|e| e.to_string())?;
    store
        .write_auth(&AuthWrite::Token {
            id: id.clone(),
            user: name.to_string(),
            hash: token_hash(&token),
            at: SystemClock.now_ms(),
            by: "cli".into(),
        })
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "token {id} for {name}\n{token}\n(shown once; only its digest is stored)"
    ))
}

fn list(db: &DbArgs) -> Result<String, String> {
    let (store, _) = db.open()?;
    let users = store.api_users().map_err(|e| e.to_string())?;
    if users.is_empty() {
        return Ok("no users: `gridsense user add NAME --role admin` makes the first".into());
    }
    Ok(users
        .iter()
        .map(|u| {
            let off = if u.disabled { " (disabled)" } else { "" };
            format!("{}\t{}{off}", u.name, u.role)
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

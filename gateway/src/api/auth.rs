//! Who is asking: the [`Caller`] extractor (a console session cookie or a
//! machine's bearer token), login and logout, and the admin's user and
//! token routes. Anonymous requests get 401, a role that may not do the
//! thing 403; every login, refused or not, is audited.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, ApiState};
use crate::auth::{Need, Role, hash_password, new_token, token_hash, verify_password};
use crate::store::{AuthWrite, UserRow, Write};

/// The session cookie's name.
pub const COOKIE: &str = "gs_session";

/// The user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
}

impl Caller {
    /// Refuses with 403 unless the role allows `need`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn need(&self, need: Need, what: &'static str) -> Result<(), ApiError> {
        if self.role.allows(need) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                role: self.role.as_str(),
                what,
            })
        }
    }
}

/// The value of cookie `name` in `headers`.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address, when the server was asked to record it.
pub(super) fn peer(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

fn role_of(u: &UserRow) -> Option<Role> {
    (!u.disabled).then(|| Role::parse(&u.role)).flatten()
}

impl<S> FromRequestParts<S> for Caller
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let s = ApiState::from_ref(state);
        let c = &s.console;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            let hash = token_hash(token.trim());
            let user = c
                .store
                .read(move |st| st.api_token_user(&hash))
                .await
                .map_err(ApiError::Store)?;
            return user
                .and_then(|u| role_of(&u).map(|role| Self { name: u.name, role }))
                .ok_or(ApiError::Unauthorized);
        }
        let now = c.clock.now_ms();
        cookie(&parts.headers, COOKIE)
            .and_then(|id| c.sessions.get(id, now))
            .map(|s| Self {
                name: s.user,
                role: s.role,
            })
            .ok_or(ApiError::Unauthorized)
    }
}

/// Body of `POST /api/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    /// User name.
    pub(super) user: String,
    /// Password.
    password: String,
}

/// A hash no password matches, verified when the user is unknown so a
/// miss costs as much as a wrong password.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy: no user has this").unwrap_or_default())
}

/// `POST /api/login`: checks the password, starts a session (an HttpOnly,
/// SameSite=Strict cookie) and answers who and what role.
#[utoipa::path(post, path = "/api/login", request_body = Login, tag = "auth",
    responses((status = 200, description = "Logged in; the session cookie is set"),
              (status = 401, description = "Wrong user name or password"),
              (status = 429, description = "Too many attempts")))]
pub(super) async fn login(
    State(s): State<ApiState>,
    ConnectInfoOpt(addr): ConnectInfoOpt,
    Json(l): Json<Login>,
) -> Result<Response, ApiError> {
    let c = &s.console;
    let now = c.clock.now_ms();
    let by_user = c.logins.hit(&format!("user:{}", l.user), now);
    let by_addr = c.logins.hit(&format!("addr:{addr}"), now);
    if !(by_user && by_addr) {
        audit(
            &s,
            "api.login.limited",
            &l.user,
            serde_json::json!({ "from": addr }),
        )
        .await;
        return Err(ApiError::TooMany("wait a minute before logging in again"));
    }
    let name = l.user.clone();
    let user = c
        .store
        .read(move |st| st.api_user(&name))
        .await
        .map_err(ApiError::Store)?;
    let hash = user
        .as_ref()
        .map_or_else(|| decoy().to_string(), |u| u.hash.clone());
    let password = l.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    let role = user.as_ref().and_then(role_of);
    let (Some(role), true) = (role, ok) else {
        audit(
            &s,
            "api.login.refused",
            &l.user,
            serde_json::json!({ "from": addr }),
        )
        .await;
        return Err(ApiError::BadLogin);
    };
    let id = c
        .sessions
        .start(&l.user, role, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    audit(
        &s,
        "api.login",
        &l.user,
        serde_json::json!({ "from": addr, "role": role }),
    )
    .await;
    let mut cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        c.sessions.ttl_ms() / 1000
    );
    if c.secure_cookie {
        cookie.push_str("; Secure");
    }
    let mut r = Json(serde_json::json!({ "user": l.user, "role": role })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `POST /api/logout`: ends the session.
pub(super) async fn logout(State(s): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        s.console.sessions.end(id);
    }
    let mut r = Json(serde_json::json!({ "logged_out": true })).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gs_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// `GET /api/me`: who the session or token belongs to.
#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, description = "The caller"), (status = 401, description = "Not logged in")))]
pub(super) async fn me(caller: Caller) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user": caller.name, "role": caller.role }))
}

/// Body of `POST /api/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUser {
    /// Login name.
    name: String,
    /// `viewer`, `operator`, `installer` or `admin`.
    role: String,
    /// Password (at least 10 characters).
    password: String,
}

impl NewUser {
    /// The role asked for, when name, role and password pass [`check_user`].
    pub(super) fn check(&self) -> Result<Role, ApiError> {
        check_user(&self.name, &self.role, &self.password).map_err(ApiError::Body)
    }

    /// The login name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

/// Shortest password accepted.
pub const PASSWORD_MIN: usize = 10;

/// Checks a new user's name, role and password.
///
/// # Errors
/// A message naming what to change.
pub fn check_user(name: &str, role: &str, password: &str) -> Result<Role, String> {
    let role = Role::parse(role)
        .ok_or_else(|| format!("role `{role}`: use viewer, operator, installer or admin"))?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err("name: 1 to 64 of A-Z a-z 0-9 - _ .".into());
    }
    if password.chars().count() < PASSWORD_MIN {
        return Err(format!("password: at least {PASSWORD_MIN} characters"));
    }
    Ok(role)
}

/// `POST /api/users` (admin): adds a user or sets a user's role and password.
pub(super) async fn add_user(
    State(s): State<ApiState>,
    caller: Caller,
    Json(u): Json<NewUser>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Admin, "manage users")?;
    let role = u.check()?;
    let password = u.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let row = UserRow {
        name: u.name.clone(),
        role: role.as_str().to_string(),
        hash,
        created_ms: s.console.clock.now_ms(),
        disabled: false,
    };
    s.console
        .store
        .write(Write::Auth(AuthWrite::User {
            user: row,
            by: caller.name,
        }))
        .await
        .map_err(ApiError::Store)?;
    Ok(Json(serde_json::json!({ "user": u.name, "role": role })))
}

/// `POST /api/tokens` (admin): a bearer token for the caller, shown once.
pub(super) async fn add_token(
    State(s): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Admin, "make tokens")?;
    let (id, token) = new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    s.console
        .store
        .write(Write::Auth(AuthWrite::Token {
            id: id.clone(),
            user: caller.name.clone(),
            hash: token_hash(&token),
            at: s.console.clock.now_ms(),
            by: caller.name,
        }))
        .await
        .map_err(ApiError::Store)?;
    Ok(Json(serde_json::json!({ "id": id, "token": token })))
}

/// Appends an API action to the audit chain; a failure is logged (the
/// action itself has already been stored or refused).
pub(super) async fn audit(s: &ApiState, kind: &str, subject: &str, body: serde_json::Value) {
    let w = Write::Auth(AuthWrite::Action {
        at: s.console.clock.now_ms(),
        kind: kind.to_string(),
        subject: subject.to_string(),
        body,
    });
    if let Err(e) = s.console.store.write(w).await {
        tracing::error!(kind, subject, error = %e, "API action not audited");
    }
}

/// The client's address, or `local` when the server does not record it
/// (handler tests).
#[derive(Debug)]
pub(super) struct ConnectInfoOpt(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer(parts)))
    }
}

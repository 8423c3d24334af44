//! Device registration for installers (`POST /api/devices`): the same
//! checks and writes as `gridsense device add` (the registry's own
//! `add_device`, on its own short-lived connection, as the command line
//! does while the gateway runs); the registry in force is reloaded at once
//! so the device can connect, and the secret is answered once.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::auth::{Caller, audit};
use super::{ApiError, ApiState};
use crate::auth::Need;
use crate::registry::{DeviceFields, ImportError, Registry};
use crate::store::Store;

/// Body of `POST /api/devices`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDevice {
    /// Device id (its MQTT username).
    id: String,
    /// Profile name (`gridsense profiles` lists them).
    profile: String,
    /// Site node id where it is installed.
    location: String,
    /// Fire zone (default: the location's).
    #[serde(default)]
    fire_zone: String,
    /// On an escape route (default: the profile's).
    #[serde(default)]
    escape_route: Option<bool>,
    /// Installation date `YYYY-MM-DD` (default: today).
    #[serde(default)]
    installed: String,
}

impl NewDevice {
    /// The fields as `gridsense device add` takes them.
    pub(super) fn fields(&self) -> DeviceFields {
        DeviceFields {
            id: self.id.clone(),
            profile: self.profile.clone(),
            location: self.location.clone(),
            fire_zone: self.fire_zone.clone(),
            escape_route: self.escape_route.map(|b| b.to_string()).unwrap_or_default(),
            installed: self.installed.clone(),
            gbt: Default::default(),
        }
    }
}

/// `POST /api/devices` (installer): registers a device; answers its MQTT
/// secret once (flash it into the node; it is not stored in clear).
#[utoipa::path(post, path = "/api/devices", tag = "site", request_body = NewDevice,
    responses((status = 200, description = "Registered: `id` and `secret` (shown once)"),
              (status = 403, description = "Not an installer"), (status = 422, description = "A bad field, named")))]
pub(super) async fn register(
    State(s): State<ApiState>,
    caller: Caller,
    Json(d): Json<NewDevice>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.need(Need::Install, "register devices")?;
    let reg = s
        .console
        .registration
        .clone()
        .ok_or(ApiError::Unavailable)?;
    let fields = d.fields();
    let now = s.console.clock.now_ms();
    let added = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&reg.db).map_err(ImportError::from)?;
        crate::registry::add_device(&mut store, &fields, &reg.profiles, now)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let secret = match added {
        Ok(secret) => secret,
        Err(ImportError::Invalid(errors)) => {
            let why: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(ApiError::Body(why.join("; ")));
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let body =
        serde_json::json!({ "user": caller.name, "profile": d.profile, "location": d.location });
    audit(&s, "api.device.added", &d.id, body).await;
    match s.console.store.read(Registry::load).await {
        Ok(r) => s.console.registry.replace(r),
        Err(e) => tracing::warn!(error = %e, "registry reload after registration failed"),
    }
    Ok(Json(serde_json::json!({ "id": d.id, "secret": secret })))
}

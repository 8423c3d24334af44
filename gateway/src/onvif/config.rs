//! `[[cameras]]`: the ONVIF cameras the gateway subscribes to, their
//! credentials and how their event subscription is paced.

use serde::Deserialize;

/// One `[[cameras]]` entry: an ONVIF camera (or NVR channel) whose events
/// the gateway pulls.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// The registry device standing for the camera (a device of kind
    /// `camera`): its events, alarms and availability are this device's.
    pub id: String,
    /// The camera's device service, e.g.
    /// `http://192.168.1.64/onvif/device_service` (plain HTTP; the
    /// credentials travel as a WS-UsernameToken digest, never in clear).
    pub address: String,
    /// The ONVIF user (a camera account of the "operator" or "user" level).
    pub username: String,
    /// Its password (sent only as a PasswordDigest).
    pub password: String,
    /// How long one PullMessages waits at the camera for notifications,
    /// seconds (the request's `Timeout`).
    #[serde(default = "default_pull_timeout")]
    pub pull_timeout_s: u64,
    /// Most notifications one PullMessages returns (`MessageLimit`).
    #[serde(default = "default_message_limit")]
    pub message_limit: u32,
    /// Subscription lifetime asked for (`InitialTerminationTime` and each
    /// Renew), seconds; the gateway renews at half the time granted.
    #[serde(default = "default_termination")]
    pub termination_s: u64,
    /// Longest wait for a request other than PullMessages, ms (a
    /// PullMessages may take `pull_timeout_s` more).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    /// Consecutive failed requests (HTTP errors, timeouts, refused
    /// credentials) after which the camera counts as offline.
    #[serde(default = "default_offline_after")]
    pub offline_after: u32,
    /// Wait before trying again after a failed request, ms.
    #[serde(default = "default_retry")]
    pub retry_ms: u64,
}

impl std::fmt::Debug for CameraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraConfig")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("pull_timeout_s", &self.pull_timeout_s)
            .field("termination_s", &self.termination_s)
            .finish_non_exhaustive()
    }
}

fn default_pull_timeout() -> u64 {
    10
}
fn default_message_limit() -> u32 {
    32
}
fn default_termination() -> u64 {
    60
}
fn default_request_timeout() -> u64 {
    5000
}
fn default_offline_after() -> u32 {
    3
}
fn default_retry() -> u64 {
    2000
}

impl CameraConfig {
    /// Checks this entry, the `i`th; each problem as
    /// `cameras[i].FIELD: what is wrong`.
    pub fn problems(&self, i: usize) -> Vec<String> {
        let mut p = Vec::new();
        let at = |field: &str| format!("cameras[{i}].{field}");
        if protocol::DeviceId::new(&self.id).is_err() {
            p.push(format!(
                "{}: must be a device id (1 to 32 of [A-Za-z0-9_-]), got `{}`",
                at("id"),
                self.id
            ));
        }
        if let Err(e) = super::http::Endpoint::parse(&self.address) {
            p.push(format!("{}: {e}", at("address")));
        }
        if self.username.is_empty() {
            p.push(format!(
                "{}: must not be empty (the camera's ONVIF user)",
                at("username")
            ));
        }
        if self.password.is_empty() {
            p.push(format!("{}: must not be empty", at("password")));
        }
        if !(1..=60).contains(&self.pull_timeout_s) {
            p.push(format!(
                "{}: must be 1..=60, got {}",
                at("pull_timeout_s"),
                self.pull_timeout_s
            ));
        }
        if !(1..=1024).contains(&self.message_limit) {
            p.push(format!(
                "{}: must be 1..=1024, got {}",
                at("message_limit"),
                self.message_limit
            ));
        }
        if self.termination_s < 10 || self.termination_s > 86_400 {
            p.push(format!(
                "{}: must be 10..=86400 seconds, got {}",
                at("termination_s"),
                self.termination_s
            ));
        } else if self.termination_s <= self.pull_timeout_s * 2 {
            p.push(format!(
                "{}: must be more than twice pull_timeout_s ({}), got {} (the subscription would end between renewals)",
                at("termination_s"),
                self.pull_timeout_s,
                self.termination_s
            ));
        }
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            p.push(format!(
                "{}: must be 100..=60000, got {}",
                at("request_timeout_ms"),
                self.request_timeout_ms
            ));
        }
        if self.offline_after == 0 {
            p.push(format!("{}: must be at least 1", at("offline_after")));
        }
        if self.retry_ms == 0 {
            p.push(format!("{}: must be at least 1", at("retry_ms")));
        }
        p
    }
}

/// Checks every `[[cameras]]` entry and that no camera is listed twice.
///
/// # Errors
/// Each problem found, as `cameras[i].FIELD: what is wrong`.
pub fn validate(cameras: &[CameraConfig]) -> Result<(), Vec<String>> {
    let mut p: Vec<String> = cameras
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.problems(i))
        .collect();
    for (i, c) in cameras.iter().enumerate() {
        if let Some(first) = cameras[..i].iter().position(|o| o.id == c.id) {
            p.push(format!(
                "cameras[{i}].id: `{}` is already cameras[{first}]; one entry per camera",
                c.id
            ));
        }
    }
    if p.is_empty() { Ok(()) } else { Err(p) }
}

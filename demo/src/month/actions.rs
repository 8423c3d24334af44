//! What people do through the gateway's HTTP API during the month: the
//! guard room cancels false pre-alarms (`POST /api/alarms/{id}/cancel`,
//! with its operator token), residents file reports (`POST /report/{site}`).

use serde::Serialize;

/// The outcome of one guard-room or resident action, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Virtual ms it was done.
    pub at: u64,
    /// `cancel` or `report`.
    pub what: String,
    /// The device or place.
    pub subject: String,
    /// HTTP status, or 0 when nothing was sent.
    pub status: u16,
    /// The alarm or report id, or why not.
    pub detail: String,
}

/// The gateway's API as the month's people use it.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// Done (the alarm id).
    Done(String),
    /// Refused for now (a detector still in alarm): try again later.
    Later(String),
    /// No open alarm of the device (never raised, or already over).
    Nothing,
    /// The API did not answer.
    Failed(String),
}

impl Api {
    /// The API on `127.0.0.1:port`, as the guard room with `token`.
    pub fn new(port: u16, token: String) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(10))
            .build();
        Self {
            base: format!("http://127.0.0.1:{port}"),
            token,
            agent,
        }
    }

    /// Cancels the open fire alarm `device` is part of, as a false alarm.
    pub fn cancel_false(&self, device: &str) -> Cancel {
        let auth = format!("Bearer {}", self.token);
        let list: serde_json::Value = match self
            .agent
            .get(&format!("{}/api/alarms", self.base))
            .set("Authorization", &auth)
            .call()
        {
            Ok(r) => r
                .into_string()
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            Err(e) => return Cancel::Failed(e.to_string()),
        };
        let found = list.as_array().into_iter().flatten().find(|a| {
            a["kind"] == "fire"
                && a["test"] != true
                && matches!(a["state"].as_str(), Some("pre-alarm" | "active"))
                && a["devices"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x == device))
        });
        let Some(id) = found.and_then(|a| a["id"].as_str()).map(str::to_string) else {
            return Cancel::Nothing;
        };
        let r = self
            .agent
            .post(&format!("{}/api/alarms/{id}/cancel", self.base))
            .set("Authorization", &auth)
            .set("Content-Type", "application/json")
            .send_string(
                &serde_json::json!({
                    "by": "guard-room",
                    "reason": "checked on site: cooking steam / dust, no fire"
                })
                .to_string(),
            );
        match r {
            Ok(_) => Cancel::Done(id),
            Err(ureq::Error::Status(409, _)) => Cancel::Later(id),
            Err(e) => Cancel::Failed(e.to_string()),
        }
    }

    /// Files a resident's report; returns the HTTP status and the receipt id.
    pub fn report(&self, site: &str, place: &str, text: &str) -> (u16, String) {
        let r = self
            .agent
            .post(&format!("{}/report/{site}", self.base))
            .set("Content-Type", "application/json")
            .send_string(&serde_json::json!({ "place": place, "text": text }).to_string());
        match r {
            Ok(r) => {
                let v: serde_json::Value = r
                    .into_string()
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                (200, v["id"].as_str().unwrap_or("?").to_string())
            }
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }
}

//! `[fire_centre]`: where the fire remote-monitoring centre is and how the
//! link to it behaves.

use serde::Deserialize;

/// `[fire_centre]`: the GB/T 26875.3 link to the fire remote-monitoring centre.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FireCentreConfig {
    /// The centre, `host:port` (TCP).
    pub addr: String,
    /// This gateway's 6-byte address as a transmission device (a number
    /// below 2^48, assigned by the centre).
    pub address: u64,
    /// The centre's 6-byte address.
    #[serde(default)]
    pub centre_address: u64,
    /// Longest wait for a TCP connection, ms.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// A frame without the centre's confirmation after this long is sent
    /// again, ms (the standard: at most 10 s).
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_ms: u64,
    /// Re-sends without a confirmation before the link counts as failed
    /// and is reconnected (the standard suggests 3). Queued rows are kept
    /// and sent on the next link.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Interval of the heartbeat (a transmission device state, type 21),
    /// seconds; the standard's examples use 20 to 30.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_s: u64,
    /// Wait between reconnection attempts, ms.
    #[serde(default = "default_reconnect")]
    pub reconnect_ms: u64,
    /// A link down this long is reported as a fault, ms.
    #[serde(default = "default_fault_after")]
    pub fault_after_ms: u64,
    /// The registry device whose `device-offline` fault stands for a failed
    /// link (profile `fire-centre-link`); without one, a failure is only logged.
    #[serde(default)]
    pub link_device: Option<String>,
    /// Frames sent and waiting for confirmation at once (fire frames are
    /// sent even when the window is full).
    #[serde(default = "default_window")]
    pub window: usize,
    /// GB/T system type of the gateway's fire alarm system (1: fire alarm
    /// system), for devices without their own in the device list.
    #[serde(default = "default_system_type")]
    pub system_type: u8,
    /// GB/T system address, for devices without their own.
    #[serde(default = "default_system_addr")]
    pub system_addr: u8,
}

fn default_connect_timeout() -> u64 {
    3000
}
fn default_confirm_timeout() -> u64 {
    3000
}
fn default_retries() -> u32 {
    3
}
fn default_heartbeat() -> u64 {
    30
}
fn default_reconnect() -> u64 {
    1000
}
fn default_fault_after() -> u64 {
    10_000
}
fn default_window() -> usize {
    8
}
fn default_system_type() -> u8 {
    1
}
fn default_system_addr() -> u8 {
    1
}

impl FireCentreConfig {
    /// Checks the fields; every problem as `fire_centre.FIELD: what is wrong`.
    ///
    /// # Errors
    /// Each problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut p = Vec::new();
        if self
            .addr
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            p.push(format!(
                "fire_centre.addr: must be host:port, got `{}`",
                self.addr
            ));
        }
        if self.address > protocol::gbt26875::Address::MAX {
            p.push("fire_centre.address: must be below 2^48 (six bytes)".into());
        }
        if self.centre_address > protocol::gbt26875::Address::MAX {
            p.push("fire_centre.centre_address: must be below 2^48 (six bytes)".into());
        }
        if self.confirm_timeout_ms == 0 || self.confirm_timeout_ms > 10_000 {
            p.push("fire_centre.confirm_timeout_ms: must be 1..=10000 (GB/T 26875.3 6.5: at most 10 s)".into());
        }
        if self.heartbeat_s == 0 {
            p.push("fire_centre.heartbeat_s: must be at least 1".into());
        }
        if self.window == 0 {
            p.push("fire_centre.window: must be at least 1".into());
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }
}

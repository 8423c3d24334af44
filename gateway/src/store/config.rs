//! `[store]`: where the database is and how long telemetry is kept.

use std::path::PathBuf;

use serde::Deserialize;

/// `[store]`: where and how long data is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// SQLite database file.
    #[serde(default = "default_db")]
    pub path: PathBuf,
    /// Days of telemetry kept; events, alarms and orders are kept for good.
    #[serde(default = "default_retention")]
    pub telemetry_retention_days: u32,
    /// Most telemetry rows kept (oldest deleted first): bounds the disk.
    #[serde(default = "default_max_rows")]
    pub max_telemetry_rows: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: default_db(),
            telemetry_retention_days: default_retention(),
            max_telemetry_rows: default_max_rows(),
        }
    }
}

fn default_db() -> PathBuf {
    PathBuf::from("gridsense.db")
}
const fn default_retention() -> u32 {
    30
}
const fn default_max_rows() -> u64 {
    50_000_000
}

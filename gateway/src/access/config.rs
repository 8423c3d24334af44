//! `[access]`: how long access events are kept, how lists are synced.

use serde::{Deserialize, Serialize};

/// The `[access]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSection {
    /// Days an access event is kept before the pruning task deletes it
    /// (privacy: docs/access.md). 0 keeps none past the next prune.
    pub keep_days: u32,
    /// Days a revoked credential stays on door lists as `revoked` (so a
    /// door refuses it by that name), and an expired pass as expired.
    pub tombstone_days: u32,
    /// The doors' offset from UTC in minutes (time windows are local).
    pub tz_min: i16,
    /// List parts in flight to one door before its answer.
    pub window: u16,
    /// Resend the parts not answered after this many ms.
    pub retry_ms: u64,
    /// How often the stage looks for changed credentials, in ms.
    pub poll_ms: u64,
    /// How often old events are pruned, in seconds.
    pub prune_every_s: u64,
}

impl Default for AccessSection {
    /// 90 days of events, 30 days of tombstones, UTC+8, 8 parts in flight,
    /// 2 s resend, 1 s poll, hourly pruning.
    fn default() -> Self {
        Self {
            keep_days: 90,
            tombstone_days: 30,
            tz_min: 480,
            window: 8,
            retry_ms: 2_000,
            poll_ms: 1_000,
            prune_every_s: 3_600,
        }
    }
}

impl AccessSection {
    /// The problems of the section, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(-840..=840).contains(&self.tz_min) {
            out.push(format!(
                "access.tz_min: must be within -840..=840 minutes, got {}",
                self.tz_min
            ));
        }
        if self.window == 0 {
            out.push("access.window: must be at least 1 part".into());
        }
        if self.retry_ms < 100 || self.poll_ms < 100 {
            out.push("access.retry_ms, access.poll_ms: must be at least 100 ms".into());
        }
        if self.prune_every_s == 0 {
            out.push("access.prune_every_s: must be at least 1 s".into());
        }
        out
    }
}

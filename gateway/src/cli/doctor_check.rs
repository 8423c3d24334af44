//! One line of `gridsense doctor`'s report: an outcome, what was checked,
//! what was found.

use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Ok,
    /// Works, but deserves a look.
    Warn,
    /// Stops the gateway from working.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// The outcome.
    pub status: Status,
    /// What was checked (`config`, `port mqtt 0.0.0.0:1883`).
    pub what: String,
    /// What was found; on a failure, what to do.
    pub detail: String,
}

impl Check {
    /// A check with this outcome.
    pub fn new(status: Status, what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        write!(f, "{s:<5} {}: {}", self.what, self.detail)
    }
}

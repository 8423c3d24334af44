//! Credentials and what they open, as the gateway keeps them.

use protocol::access::{CredKind, Window};
use serde::Serialize;

/// A credential: a resident's card or PIN, or a visitor's QR pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Card, PIN or QR code.
    pub kind: CredKind,
    /// The id the reader delivers.
    pub id: String,
    /// Whose it is (a flat, a name, a visitor's host): for people, never sent to doors.
    pub holder: String,
    /// A visitor pass (has a period).
    pub visitor: bool,
    /// Valid from, in seconds since the epoch.
    pub valid_from: Option<u32>,
    /// Valid until (exclusive), in seconds since the epoch.
    pub valid_until: Option<u32>,
    /// When it was revoked (ms since the epoch).
    pub revoked_ms: Option<u64>,
    /// What it opens.
    pub grants: Vec<Grant>,
}

/// One thing a credential opens: a door, or every door under a site node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// A door's device id or a site node's id (a building, unit, car park).
    pub target: String,
    /// When in the week (absent: always).
    pub window: Option<Window>,
}

impl Credential {
    /// `kind:id`, how the audit and the command line name it.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }
}

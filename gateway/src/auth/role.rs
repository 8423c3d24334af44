//! Roles and what each may do.

use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees everything, changes nothing (a screen in the command centre).
    Viewer,
    /// Acknowledges and resets alarms, works orders, sets maintenance windows
    /// (the guard room, grid workers).
    Operator,
    /// Registers devices, reads rejects and quarantine, sets maintenance
    /// windows (the installer on a ladder with a phone).
    Installer,
    /// Everything, users and tokens included.
    Admin,
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read any view.
    Read,
    /// Act on alarms and orders.
    Operate,
    /// Set or end maintenance windows.
    Maintain,
    /// Register devices, see rejects.
    Install,
    /// Manage users and tokens, export the audit chain.
    Admin,
}

impl Role {
    /// Every role, for help texts and tests.
    pub const ALL: [Self; 4] = [Self::Viewer, Self::Operator, Self::Installer, Self::Admin];

    /// The role's name as stored and typed.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Installer => "installer",
            Self::Admin => "admin",
        }
    }

    /// The role called `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `need` names.
    pub const fn allows(self, need: Need) -> bool {
        matches!(
            (self, need),
            (Self::Admin, _)
                | (_, Need::Read)
                | (Self::Operator, Need::Operate | Need::Maintain)
                | (Self::Installer, Need::Install | Need::Maintain)
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_their_work_needs_and_no_more() {
        assert!(Role::Viewer.allows(Need::Read));
        assert!(!Role::Viewer.allows(Need::Operate));
        assert!(Role::Operator.allows(Need::Operate));
        assert!(!Role::Operator.allows(Need::Install));
        assert!(Role::Installer.allows(Need::Install));
        assert!(!Role::Installer.allows(Need::Operate));
        assert!(!Role::Installer.allows(Need::Admin));
        assert!(Role::Admin.allows(Need::Admin));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

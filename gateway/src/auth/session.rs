//! Console sessions: a random id in an HttpOnly cookie, kept in memory as
//! its SHA-256 (a restart logs everyone out, which is the safe side).

use std::collections::HashMap;
use std::sync::Mutex;

use super::Role;
use super::secret::{SecretError, session_id, token_hash};

/// A logged-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who.
    pub user: String,
    /// Their role when they logged in.
    pub role: Role,
    /// When it expires (ms since the epoch).
    pub until: u64,
}

/// The sessions in force.
#[derive(Debug)]
pub struct Sessions {
    ttl_ms: u64,
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Sessions lasting `ttl_ms`.
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `user` at `now`; returns the cookie value.
    ///
    /// # Errors
    /// [`SecretError::Random`].
    pub fn start(&self, user: &str, role: Role, now: u64) -> Result<String, SecretError> {
        let id = session_id()?;
        let s = Session {
            user: user.to_string(),
            role,
            until: now.saturating_add(self.ttl_ms),
        };
        let mut map = self.lock();
        map.retain(|_, s| s.until > now);
        map.insert(token_hash(&id), s);
        Ok(id)
    }

    /// The session behind cookie value `id`, if it is in force at `now`.
    pub fn get(&self, id: &str, now: u64) -> Option<Session> {
        self.lock()
            .get(&token_hash(id))
            .filter(|s| s.until > now)
            .cloned()
    }

    /// Ends the session behind `id`.
    pub fn end(&self, id: &str) {
        self.lock().remove(&token_hash(id));
    }

    /// How long a session lasts, in ms.
    pub const fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_until_it_expires_or_ends() {
        let s = Sessions::new(1000);
        let id = s.start("li", Role::Operator, 10).expect("start");
        assert_eq!(s.get(&id, 500).map(|s| s.user), Some("li".into()));
        assert_eq!(s.get(&id, 1010), None, "expired");
        let id = s.start("li", Role::Operator, 10).expect("start");
        s.end(&id);
        assert_eq!(s.get(&id, 20), None, "ended");
        assert_eq!(s.get("forged", 20), None);
    }
}

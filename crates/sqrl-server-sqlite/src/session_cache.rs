//! Sessions and display names kept in memory beside the file, so that a forward-auth check
//! (a session lookup on every request a protected app receives) reads nothing.
//!
//! Exact for the same reason as the account cache (see the `cache` module): the store owns
//! its file, every write that ends a session or renames an account goes through its writer
//! thread, which forgets what it touched after its commit and before the write is
//! acknowledged; a read keeps what it found only if no such write finished meanwhile (a
//! generation count). Only sessions that exist are kept (a cookie an attacker makes up costs
//! a read each time, but fills nothing); at most [`CAPACITY`] entries, started over when full.

use std::collections::HashMap;
use std::sync::Mutex;

use sqrl_server::{AccountId, Session};

/// Most sessions (and names) kept.
pub(crate) const CAPACITY: usize = 100_000;

#[derive(Default)]
struct Inner {
    generation: u64,
    sessions: HashMap<[u8; 32], Session>,
    names: HashMap<AccountId, String>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct SessionCache {
    inner: Mutex<Inner>,
}

impl SessionCache {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    /// The generation to pass to `keep_*` after reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.with(|inner| inner.generation)
    }

    pub(crate) fn session(&self, id_hash: &[u8; 32]) -> Option<Session> {
        self.with(|inner| inner.sessions.get(id_hash).cloned())
    }

    pub(crate) fn name(&self, account: &AccountId) -> Option<String> {
        self.with(|inner| inner.names.get(account).cloned())
    }

    /// Keeps a session a read found, unless a write finished since `generation`.
    pub(crate) fn keep_session(&self, generation: u64, session: Session) {
        self.with(|inner| {
            if inner.generation != generation {
                return;
            }
            if inner.sessions.len() >= CAPACITY {
                inner.sessions.clear();
            }
            inner.sessions.insert(session.id_hash, session);
        })
    }

    /// Keeps a display name a read found, unless a write finished since `generation`.
    pub(crate) fn keep_name(&self, generation: u64, account: AccountId, name: String) {
        self.with(|inner| {
            if inner.generation != generation {
                return;
            }
            if inner.names.len() >= CAPACITY {
                inner.names.clear();
            }
            inner.names.insert(account, name);
        })
    }

    /// Forgets one session (after its deletion committed).
    pub(crate) fn forget_session(&self, id_hash: &[u8; 32]) {
        self.with(|inner| {
            inner.generation = inner.generation.wrapping_add(1);
            inner.sessions.remove(id_hash);
        })
    }

    /// Forgets an account's name, and with `sessions` all its sessions (after a rename or a
    /// removal committed).
    pub(crate) fn forget_account(&self, account: &AccountId, sessions: bool) {
        self.with(|inner| {
            inner.generation = inner.generation.wrapping_add(1);
            inner.names.remove(account);
            if sessions {
                inner.sessions.retain(|_, s| s.account != *account);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(byte: u8) -> Session {
        Session {
            id_hash: [byte; 32],
            account: AccountId([byte; 16]),
            created_at: 1,
            ip: "192.0.2.1".into(),
            browser: "Firefox on Linux".into(),
        }
    }

    #[test]
    fn a_read_that_began_before_a_logout_does_not_put_the_session_back() {
        let cache = SessionCache::default();
        let before = cache.generation();
        cache.forget_session(&[1; 32]);
        cache.keep_session(before, session(1));
        assert_eq!(cache.session(&[1; 32]), None);
        cache.keep_session(cache.generation(), session(1));
        assert_eq!(cache.session(&[1; 32]), Some(session(1)));
        cache.forget_account(&AccountId([1; 16]), true);
        assert_eq!(
            cache.session(&[1; 32]),
            None,
            "a removed account's sessions go"
        );
    }
}

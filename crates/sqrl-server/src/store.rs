//! Where the server keeps accounts and flows: a trait, and an in-memory implementation.
//!
//! Every state change of one SQRL command is one [`Commit`], applied atomically and only if
//! the flow's version is still the one the command read (optimistic concurrency): of two
//! concurrent commands on one nut, exactly one wins and the other changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use sqrl_proto::Bytes32;

use crate::flow::Flow;
use crate::nut::FlowId;

/// An identity's association with this site. The `idk` is the account's username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The site public key of the identity.
    pub idk: Bytes32,
    /// Server Unlock Key, returned to the client for unlock requests.
    pub suk: Bytes32,
    /// Verify Unlock Key, checks `urs`.
    pub vuk: Bytes32,
    /// SQRL login disabled by the user (`disable`).
    pub disabled: bool,
    /// The user asks that only SQRL may log in (`opt=sqrlonly`).
    pub sqrlonly: bool,
    /// The user asks that other recovery be disabled (`opt=hardlock`).
    pub hardlock: bool,
    /// When the association was made (seconds since the epoch).
    pub created_at: u64,
    /// The identity's indexed secret for the site's `sin` (when the site sends one): a value
    /// only this identity can reproduce.
    pub ins: Option<Bytes32>,
}

/// The account part of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// No account changes.
    Keep,
    /// Insert or replace this account.
    Put(Account),
    /// Replace the account of `previous` with `account` (keyed by the new idk) and remember
    /// `previous` as superseded, in one step.
    Rekey {
        /// The replaced identity.
        previous: Bytes32,
        /// The account under its new identity.
        account: Account,
    },
    /// Delete the account of this idk.
    Remove(Bytes32),
}

/// One command's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The flow after the command; its `version` must be `expected_version + 1` (or 0).
    pub flow: Flow,
    /// The version the command read (`None`: the flow must not exist yet).
    pub expected_version: Option<u64>,
    /// Account changes.
    pub account: AccountChange,
}

/// A store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The flow changed since it was read: another request won.
    #[error("concurrent update")]
    Conflict,
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
}

/// Storage for accounts and flows.
pub trait Store: Send + Sync {
    /// The account of `idk`.
    fn account(&self, idk: &Bytes32) -> Result<Option<Account>, StoreError>;
    /// `true` if `idk` was replaced by a re-key.
    fn is_superseded(&self, idk: &Bytes32) -> Result<bool, StoreError>;
    /// A stored flow.
    fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError>;
    /// Applies a commit atomically, or fails with [`StoreError::Conflict`] changing nothing.
    fn commit(&self, commit: Commit) -> Result<(), StoreError>;
    /// Replaces a flow if its version is still `expected_version` (for redemption).
    fn update_flow(&self, flow: Flow, expected_version: u64) -> Result<(), StoreError> {
        self.commit(Commit {
            flow,
            expected_version: Some(expected_version),
            account: AccountChange::Keep,
        })
    }
    /// Deletes flows issued before `before` (housekeeping).
    fn purge_flows(&self, before: u64) -> Result<usize, StoreError>;
    /// How many stored flows were issued at or after `since` (the open ones).
    fn count_flows_since(&self, since: u64) -> Result<usize, StoreError>;
}

#[derive(Debug, Default)]
struct Memory {
    accounts: HashMap<Bytes32, Account>,
    superseded: HashSet<Bytes32>,
    flows: HashMap<FlowId, Flow>,
    sessions: Vec<Session>,
    names: HashMap<Bytes32, String>,
}

/// An in-memory store (tests, single-process demos).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Memory>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("poisoned lock".into()))
    }

    /// Number of accounts (for tests).
    pub fn account_count(&self) -> usize {
        self.lock().map_or(0, |m| m.accounts.len())
    }

    /// Number of stored flows (for tests).
    pub fn flow_count(&self) -> usize {
        self.lock().map_or(0, |m| m.flows.len())
    }
}

impl Store for MemoryStore {
    fn account(&self, idk: &Bytes32) -> Result<Option<Account>, StoreError> {
        Ok(self.lock()?.accounts.get(idk).cloned())
    }

    fn is_superseded(&self, idk: &Bytes32) -> Result<bool, StoreError> {
        Ok(self.lock()?.superseded.contains(idk))
    }

    fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        Ok(self.lock()?.flows.get(id).cloned())
    }

    fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        let current = memory.flows.get(&commit.flow.id).map(|f| f.version);
        if current != commit.expected_version {
            return Err(StoreError::Conflict);
        }
        match commit.account {
            AccountChange::Keep => {}
            AccountChange::Put(account) => {
                memory.accounts.insert(account.idk, account);
            }
            AccountChange::Rekey { previous, account } => {
                memory.accounts.remove(&previous);
                memory.superseded.insert(previous);
                for session in memory.sessions.iter_mut().filter(|s| s.idk == previous) {
                    session.idk = account.idk;
                }
                if let Some(name) = memory.names.remove(&previous) {
                    memory.names.insert(account.idk, name);
                }
                memory.accounts.insert(account.idk, account);
            }
            AccountChange::Remove(idk) => {
                memory.accounts.remove(&idk);
                memory.sessions.retain(|s| s.idk != idk);
                memory.names.remove(&idk);
            }
        }
        memory.flows.insert(commit.flow.id, commit.flow);
        Ok(())
    }

    fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        let mut memory = self.lock()?;
        let count = memory.flows.len();
        memory.flows.retain(|_, f| f.issued_at >= before);
        Ok(count - memory.flows.len())
    }

    fn count_flows_since(&self, since: u64) -> Result<usize, StoreError> {
        Ok(self
            .lock()?
            .flows
            .values()
            .filter(|f| f.issued_at >= since)
            .count())
    }
}

/// A browser session after login. The cookie holds a random id; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id (also the public handle used to revoke it).
    pub id_hash: [u8; 32],
    /// The account.
    pub idk: Bytes32,
    /// Created (seconds since the epoch).
    pub created_at: u64,
    /// The IP address that logged in.
    pub ip: String,
    /// Browser and OS, as shown on the account page.
    pub browser: String,
}

/// Sessions and the site's own per-account data.
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The session with this id hash.
    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError>;
    /// All sessions of an account, oldest first.
    fn sessions_of(&self, idk: &Bytes32) -> Result<Vec<Session>, StoreError>;
    /// Deletes a session of `idk`; `false` if there was none.
    fn delete_session(&self, idk: &Bytes32, id_hash: &[u8; 32]) -> Result<bool, StoreError>;
    /// The account's display name (empty if never set).
    fn display_name(&self, idk: &Bytes32) -> Result<String, StoreError>;
    /// Sets the display name.
    fn set_display_name(&self, idk: &Bytes32, name: &str) -> Result<(), StoreError>;
}

impl SessionStore for MemoryStore {
    fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.lock()?.sessions.push(session.clone());
        Ok(())
    }

    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        Ok(self
            .lock()?
            .sessions
            .iter()
            .find(|s| &s.id_hash == id_hash)
            .cloned())
    }

    fn sessions_of(&self, idk: &Bytes32) -> Result<Vec<Session>, StoreError> {
        Ok(self
            .lock()?
            .sessions
            .iter()
            .filter(|s| &s.idk == idk)
            .cloned()
            .collect())
    }

    fn delete_session(&self, idk: &Bytes32, id_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        let before = inner.sessions.len();
        inner
            .sessions
            .retain(|s| !(&s.id_hash == id_hash && &s.idk == idk));
        Ok(inner.sessions.len() != before)
    }

    fn display_name(&self, idk: &Bytes32) -> Result<String, StoreError> {
        Ok(self.lock()?.names.get(idk).cloned().unwrap_or_default())
    }

    fn set_display_name(&self, idk: &Bytes32, name: &str) -> Result<(), StoreError> {
        self.lock()?.names.insert(*idk, name.to_owned());
        Ok(())
    }
}

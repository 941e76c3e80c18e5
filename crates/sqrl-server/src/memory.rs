//! The in-memory [`Store`]: tests, and single-process sites that may forget everything on
//! restart. One lock makes each commit atomic.
//!
//! A single-process site can keep its flows here and its accounts in a database
//! (`SplitStore { flows: MemoryStore, accounts }`): flows are short-lived login state, so keeping
//! them in memory saves most of a login's database work. A restart then forgets the logins in
//! progress; set [`Config::codes_not_before`](crate::Config::codes_not_before) to the start
//! time so that codes issued before it are refused rather than opening new flows.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use sqrl_proto::Bytes32;
use zeroize::Zeroizing;

use crate::account::{Account, AccountChange, AccountGuard, AccountId, Accounts, Session};
use crate::flow::{Flow, Phase};
use crate::nut::FlowId;
use crate::store::{
    AccountStore, Commit, FlowStore, RedeemCommit, SessionStore, Store, StoreError,
};

#[derive(Debug, Default)]
struct Memory {
    accounts: HashMap<AccountId, Account>,
    by_idk: HashMap<Bytes32, AccountId>,
    superseded: HashSet<Bytes32>,
    flows: HashMap<FlowId, Flow>,
    /// New flows in the order they arrived (ids of flows since purged or past `scanned` are
    /// skipped when met): who is evicted first when the store is full.
    arrivals: VecDeque<FlowId>,
    sessions: Vec<Session>,
    names: HashMap<AccountId, String>,
    keys: HashMap<String, [u8; 32]>,
}

impl Memory {
    fn check_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        if self.flows.get(&flow.id()).map(Flow::version) == expected {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Forgets the flow that arrived first of those a phone has scanned but not confirmed
    /// (nor declined); `false` when there is none. Such a flow only binds its code to the
    /// phone that scanned it: forgetting it costs that phone a retry with a new code, and
    /// its code opens a fresh flow if scanned again, as an unscanned one would. Confirmed and
    /// ended flows are never evicted: they keep logins and used codes as they are.
    fn evict_oldest_unconfirmed(&mut self) -> bool {
        while let Some(id) = self.arrivals.pop_front() {
            let unconfirmed = self
                .flows
                .get(&id)
                .is_some_and(|f| matches!(f.phase(), Phase::Scanned | Phase::ScannedDisabled));
            if unconfirmed {
                self.flows.remove(&id);
                return true;
            }
        }
        false
    }

    fn check(&self, guards: &[AccountGuard]) -> Result<(), StoreError> {
        for guard in guards {
            let account = self
                .by_idk
                .get(&guard.idk)
                .and_then(|id| self.accounts.get(id));
            let superseded = self.superseded.contains(&guard.idk);
            if account != guard.account.as_ref()
                || guard.superseded.is_some_and(|s| s != superseded)
            {
                return Err(StoreError::Conflict);
            }
        }
        Ok(())
    }

    fn apply(&mut self, change: &AccountChange) {
        match change {
            AccountChange::Keep => {}
            AccountChange::Put(account) => self.put(account.clone()),
            AccountChange::Rekey { previous, account } => {
                self.by_idk.remove(previous);
                self.superseded.insert(*previous);
                self.put(account.clone());
            }
            AccountChange::Remove(id) => {
                if let Some(account) = self.accounts.remove(id) {
                    self.by_idk.remove(&account.idk);
                }
                self.sessions.retain(|s| &s.account != id);
                self.names.remove(id);
            }
        }
    }

    fn put(&mut self, account: Account) {
        if let Some(old) = self.accounts.get(&account.id) {
            if old.idk != account.idk {
                self.by_idk.remove(&old.idk);
            }
        }
        self.by_idk.insert(account.idk, account.id);
        self.accounts.insert(account.id, account);
    }
}

/// Everything in one process's memory.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
    flow_limit: usize,
    /// Flows evicted to make room (see [`MemoryStore::with_flow_limit`]).
    evicted: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            flow_limit: usize::MAX,
            evicted: AtomicU64::new(0),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that holds at most `limit` flows. A new flow beyond it evicts the
    /// oldest flow that is scanned but not confirmed (a flood of scans from many addresses
    /// then only shortens how long an unconfirmed scan is kept, and an honest login, which
    /// confirms within seconds, still goes through); only when every flow is confirmed or
    /// ended is a new one a backend error (the phone is told to retry) until housekeeping
    /// purges expired ones.
    pub fn with_flow_limit(limit: usize) -> Self {
        Self {
            flow_limit: limit,
            ..Self::default()
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Memory>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::backend("poisoned lock"))
    }

    /// Number of accounts (for tests).
    pub fn account_count(&self) -> usize {
        self.lock().map_or(0, |m| m.accounts.len())
    }

    /// Number of stored flows (for tests).
    pub fn flow_count(&self) -> usize {
        self.lock().map_or(0, |m| m.flows.len())
    }

    /// Flows evicted so far to make room for new ones.
    pub fn evicted_flows(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        Ok(self.lock()?.flows.get(id).cloned())
    }

    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        memory.check_flow(flow, expected)?;
        if expected.is_none() {
            if memory.flows.len() >= self.flow_limit {
                if !memory.evict_oldest_unconfirmed() {
                    return Err(StoreError::backend(format!(
                        "{} login flows in memory, the limit, all confirmed or ended",
                        memory.flows.len()
                    )));
                }
                let evicted = self.evicted.fetch_add(1, Ordering::Relaxed);
                if evicted.is_multiple_of(10_000) {
                    tracing::warn!(
                        limit = self.flow_limit,
                        evicted_so_far = evicted.saturating_add(1),
                        "login flows in memory at the limit: evicting the oldest unconfirmed \
                         scans (a flood of scans?)"
                    );
                }
            }
            memory.arrivals.push_back(flow.id());
        }
        memory.flows.insert(flow.id(), flow.clone());
        Ok(())
    }

    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        let mut memory = self.lock()?;
        let count = memory.flows.len();
        memory.flows.retain(|_, f| f.issued_at() >= before);
        let Memory {
            flows, arrivals, ..
        } = &mut *memory;
        arrivals.retain(|id| flows.contains_key(id));
        Ok(count.saturating_sub(memory.flows.len()))
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        let memory = self.lock()?;
        let find = |k: &Bytes32| {
            memory
                .by_idk
                .get(k)
                .and_then(|id| memory.accounts.get(id))
                .cloned()
        };
        Ok(Accounts {
            current: find(idk),
            previous: pidk.and_then(find),
            superseded: memory.superseded.contains(idk),
        })
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.lock()?.accounts.get(id).cloned())
    }

    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        memory.check(guards)?;
        memory.apply(change);
        Ok(())
    }

    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let mut memory = self.lock()?;
        Ok(Zeroizing::new(
            *memory.keys.entry(name.to_owned()).or_insert(*candidate),
        ))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.lock()?.sessions.push(session.clone());
        Ok(())
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        Ok(self
            .lock()?
            .sessions
            .iter()
            .find(|s| &s.id_hash == id_hash)
            .cloned())
    }

    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        Ok(self
            .lock()?
            .sessions
            .iter()
            .filter(|s| &s.account == account)
            .cloned()
            .collect())
    }

    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let mut memory = self.lock()?;
        let before = memory.sessions.len();
        memory
            .sessions
            .retain(|s| !(&s.id_hash == id_hash && &s.account == account));
        Ok(memory.sessions.len() != before)
    }

    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        Ok(self.lock()?.names.get(account).cloned().unwrap_or_default())
    }

    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.lock()?.names.insert(*account, name.to_owned());
        Ok(())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        memory.check_flow(&commit.flow, commit.expected_version)?;
        memory.check(&commit.guards)?;
        memory.apply(&commit.account);
        memory.flows.insert(commit.flow.id(), commit.flow.clone());
        Ok(())
    }

    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        let mut memory = self.lock()?;
        memory.check_flow(&redeem.flow, Some(redeem.expected_version))?;
        memory.flows.insert(redeem.flow.id(), redeem.flow.clone());
        memory.sessions.push(redeem.session.clone());
        Ok(())
    }
}

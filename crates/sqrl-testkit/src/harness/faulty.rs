//! A store that fails on demand.

use super::*;

/// A `MemoryStore` that fails where a test says: session deletion (a database that went
/// away), or commits (a lost race, a failed backend).
#[derive(Debug, Default)]
pub struct Faulty {
    inner: MemoryStore,
    fail_delete: bool,
    fail_commit: Mutex<Option<StoreError>>,
}

impl Faulty {
    /// Every session deletion fails with a backend error.
    pub fn failing_delete() -> Self {
        Self {
            fail_delete: true,
            ..Self::default()
        }
    }

    /// Every commit fails with `error` from now on (`None`: commits work again).
    pub fn fail_commits(&self, error: Option<StoreError>) {
        *self.fail_commit.lock().unwrap() = error;
    }
}

#[async_trait]
impl FlowStore for Faulty {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.inner.flow(id).await
    }
    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        self.inner.put_flow(flow, expected).await
    }
    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.inner.purge_flows(before).await
    }
}

#[async_trait]
impl AccountStore for Faulty {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        self.inner.accounts(idk, pidk).await
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.inner.account(id).await
    }
    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[sqrl_server::AccountGuard],
    ) -> Result<(), StoreError> {
        self.inner.apply(change, guards).await
    }
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.inner.site_key(name, candidate).await
    }
}

#[async_trait]
impl SessionStore for Faulty {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.inner.session(id_hash).await
    }
    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        self.inner.sessions_of(account).await
    }
    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        if self.fail_delete {
            return Err(StoreError::Backend("disk on fire".into()));
        }
        self.inner.delete_session(account, id_hash).await
    }
    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        self.inner.display_name(account).await
    }
    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.inner.set_display_name(account, name).await
    }
}

#[async_trait]
impl Store for Faulty {
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let failure = self.fail_commit.lock().unwrap().clone();
        match failure {
            Some(error) => Err(error),
            None => self.inner.commit(commit).await,
        }
    }
    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        Store::redeem(&self.inner, redeem).await
    }
}

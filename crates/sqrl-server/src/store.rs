//! What the server keeps, and the async traits a backend implements.
//!
//! Two seams, so that several instances can share state: [`FlowStore`] (login flows: short
//! lived, written on every request; in memory, SQLite, PostgreSQL or Redis) and
//! [`AccountStore`] with [`SessionStore`] (accounts and the site's keys; sessions and display
//! names: durable; in memory, SQLite or PostgreSQL). [`Store`] is all of them together, with
//! the two operations that must be atomic across them: a command's [`Commit`] (flow +
//! account) and a browser's redemption (flow + session). A backend that holds both in one database overrides those with one
//! transaction; [`SplitStore`] combines two backends with a claim–write–finalize order that never
//! produces a wrong login (see `spec/server.md`).
//!
//! Every state change is optimistic: it applies only if the flow's version is still the one
//! read, so of two concurrent commands on one nut exactly one wins and the other changes
//! nothing.

use async_trait::async_trait;
use sqrl_proto::Bytes32;
use zeroize::Zeroizing;

use crate::account::{Account, AccountChange, AccountGuard, AccountId, Accounts, Session};
use crate::flow::{Flow, Status};
use crate::nut::FlowId;

/// One command's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The flow after the command; its `version` is `expected_version + 1` (or 0).
    pub flow: Flow,
    /// The version the command read (`None`: the flow must not exist yet).
    pub expected_version: Option<u64>,
    /// Account changes.
    pub account: AccountChange,
    /// The accounts the decision depended on, as it read them. If any changed since (a
    /// `disable` committed in between, a re-key, a removal), the commit is a
    /// [`StoreError::Conflict`] and changes nothing, so a login never confirms, nor an
    /// account change lands, on a stale view of an account.
    pub guards: Vec<AccountGuard>,
}

/// One redemption's changes, decided by [`Endpoint::redeem`](crate::Endpoint::redeem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemCommit {
    /// The flow, redeemed; its `version` is `expected_version + 1`.
    pub flow: Flow,
    /// The version the redemption read.
    pub expected_version: u64,
    /// The browser's new session.
    pub session: Session,
    /// The flow's new status, for its waiting page.
    pub status: Status,
}

/// A store failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The flow changed since it was read: another request won.
    #[error("concurrent update")]
    Conflict,
    /// The backend failed (unreachable, full disk, ...): nothing was changed.
    #[error("store backend: {0}")]
    Backend(String),
}

impl StoreError {
    /// A backend error from anything printable.
    pub fn backend(e: impl core::fmt::Display) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// What one SQRL request needs from the store, loaded in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The flow of the nut.
    pub flow: FlowId,
    /// The identity that signed the request.
    pub idk: Bytes32,
    /// The previous identity it presents, if any.
    pub pidk: Option<Bytes32>,
}

/// What the store knew when a request was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The flow's record (`None`: no request has reached it yet).
    pub flow: Option<Flow>,
    /// The account of `idk`.
    pub current: Option<Account>,
    /// The account of `pidk`.
    pub previous: Option<Account>,
    /// `idk` was replaced by a re-key.
    pub superseded: bool,
}

impl Snapshot {
    /// The snapshot of a loaded flow and the request's accounts.
    pub fn new(flow: Option<Flow>, accounts: Accounts) -> Self {
        let Accounts {
            current,
            previous,
            superseded,
        } = accounts;
        Self {
            flow,
            current,
            previous,
            superseded,
        }
    }
}

/// Login flows.
#[async_trait]
pub trait FlowStore: Send + Sync + 'static {
    /// A stored flow.
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError>;
    /// Writes `flow` if the stored version is `expected` (`None`: absent), else
    /// [`StoreError::Conflict`] changing nothing. `flow.version` is stored as given (it may
    /// equal `expected`: a claimed flow is finalized at its own version).
    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError>;
    /// Deletes flows issued before `before` (housekeeping); how many.
    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError>;
}

/// Accounts and the site's keys.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The accounts of `idk` and `pidk`, and whether `idk` was superseded.
    async fn accounts(&self, idk: &Bytes32, pidk: Option<&Bytes32>)
        -> Result<Accounts, StoreError>;
    /// The account with this id.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError>;
    /// Applies an account change if every guard still holds (else
    /// [`StoreError::Conflict`], changing nothing). Idempotent: applying it twice leaves the
    /// same state.
    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError>;
    /// The site key named `name`: the stored one, or `candidate` stored now if there is none.
    /// Every instance sharing the store gets the same key (the first writer wins).
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError>;
}

/// Browser sessions and display names: what the site keeps per account besides the SQRL
/// association. Removing an account (an [`AccountChange::Remove`] applied by its
/// [`AccountStore`]) deletes them too.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The session with this id hash.
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError>;
    /// All sessions of an account, oldest first.
    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError>;
    /// Deletes a session of `account`; `false` if there was none.
    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError>;
    /// The account's display name (empty if never set).
    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError>;
    /// Sets the display name.
    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError>;
}

/// Flows, accounts and sessions together, with the two atomic operations across them.
///
/// The provided methods work over any [`FlowStore`] + [`AccountStore`] + [`SessionStore`] in the
/// claim–write–finalize order; a backend that keeps both in one database overrides them with
/// one transaction.
#[async_trait]
pub trait Store: FlowStore + AccountStore + SessionStore {
    /// Everything a request needs.
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        let flow = self.flow(&needs.flow).await?;
        let accounts = self.accounts(&needs.idk, needs.pidk.as_ref()).await?;
        Ok(Snapshot::new(flow, accounts))
    }

    /// Applies a commit: the flow only if its version is still `expected_version`, and then
    /// the account change; or [`StoreError::Conflict`] changing nothing.
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.account == AccountChange::Keep && commit.guards.is_empty() {
            return self.put_flow(&commit.flow, commit.expected_version).await;
        }
        // Claim: the flow record moves on with a nut nobody holds, so a concurrent request
        // on the same nut loses here, before any account changes (see `Flow::claimed`).
        let claim = commit.flow.claimed();
        self.put_flow(&claim, commit.expected_version).await?;
        // Write: the account change, if the accounts are still as the decision saw them
        // (idempotent, so a retry after a crash is harmless). A guard that fails leaves the
        // flow claimed: its page sees no confirmation and the client is told to retry.
        self.apply(&commit.account, &commit.guards).await?;
        // Finalize: the flow as the command left it, at the claim's version (only the
        // claimer can get here: nobody else holds the claim's empty nut).
        self.put_flow(&commit.flow, Some(claim.version())).await
    }

    /// Marks the flow redeemed (if its version is still `expected_version`) and creates the
    /// browser's session.
    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        self.put_flow(&redeem.flow, Some(redeem.expected_version))
            .await?;
        self.create_session(&redeem.session).await
    }
}

/// Flows in one backend, accounts and sessions in another (e.g. Redis and PostgreSQL), combined into a
/// [`Store`] by the claim–write–finalize order of its provided methods.
#[derive(Debug, Clone)]
pub struct SplitStore<F, A> {
    /// Where flows live.
    pub flows: F,
    /// Where accounts, sessions and keys live.
    pub accounts: A,
}

#[async_trait]
impl<F: FlowStore, A: AccountStore> FlowStore for SplitStore<F, A> {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.flows.flow(id).await
    }
    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        self.flows.put_flow(flow, expected).await
    }
    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.flows.purge_flows(before).await
    }
}

#[async_trait]
impl<F: FlowStore, A: AccountStore> AccountStore for SplitStore<F, A> {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        self.accounts.accounts(idk, pidk).await
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.accounts.account(id).await
    }
    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        self.accounts.apply(change, guards).await
    }
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.accounts.site_key(name, candidate).await
    }
}

#[async_trait]
impl<F: FlowStore, A: SessionStore> SessionStore for SplitStore<F, A> {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.accounts.create_session(session).await
    }
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.accounts.session(id_hash).await
    }
    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        self.accounts.sessions_of(account).await
    }
    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        self.accounts.delete_session(account, id_hash).await
    }
    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        self.accounts.display_name(account).await
    }
    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.accounts.set_display_name(account, name).await
    }
}

impl<F: FlowStore, A: AccountStore + SessionStore> Store for SplitStore<F, A> {}

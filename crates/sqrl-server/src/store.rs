//! What the server keeps, and the async traits a backend implements.
//!
//! Two seams, so that several instances can share state: [`FlowStore`] (login flows: short
//! lived, written on every request; in memory, SQLite, PostgreSQL or Redis) and
//! [`AccountStore`] (accounts, sessions, display names and the site's keys: durable; in memory,
//! SQLite or PostgreSQL). [`Store`] is both together, with the two operations that must be
//! atomic across them: a command's [`Commit`] (flow + account) and a browser's redemption
//! (flow + session). A backend that holds both in one database overrides those with one
//! transaction; [`Split`] combines two backends with a claim–write–finalize order that never
//! produces a wrong login (see `spec/server.md`).
//!
//! Every state change is optimistic: it applies only if the flow's version is still the one
//! read, so of two concurrent commands on one nut exactly one wins and the other changes
//! nothing.

use async_trait::async_trait;
use rand_core::CryptoRngCore;
use sqrl_proto::Bytes32;
use zeroize::Zeroizing;

use crate::flow::Flow;
use crate::nut::FlowId;

/// An account's stable id: it survives re-keys (the identity key changes, the account does
/// not), so sessions and the app's own data point at it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub [u8; 16]);

impl AccountId {
    /// A fresh random id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }

    /// Lower-case hex (32 characters).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From 32 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            let pair = text.get(i * 2..i * 2 + 2)?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(id))
    }
}

impl core::fmt::Debug for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AccountId({})", self.to_hex())
    }
}

impl core::fmt::Display for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An identity's association with this site. The `idk` is the identity's username here; the
/// `id` is what the site's own data refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable across re-keys.
    pub id: AccountId,
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
    /// The identity's indexed secret for the site's `sin` (when the site sends one).
    pub ins: Option<Bytes32>,
}

/// The account part of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// No account changes.
    Keep,
    /// Insert this account, or replace the one with its `id`.
    Put(Account),
    /// The account `account.id` moves from identity `previous` to `account.idk`; `previous` is
    /// remembered as superseded, in one step. Sessions and display names stay with the id.
    Rekey {
        /// The replaced identity.
        previous: Bytes32,
        /// The account under its new identity.
        account: Account,
    },
    /// Delete the account, its sessions and its display name.
    Remove(AccountId),
}

/// What a decision saw of one identity's account: the commit applies only if it is still so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGuard {
    /// The identity key.
    pub idk: Bytes32,
    /// Its account as read (`None`: it had none).
    pub account: Option<Account>,
    /// It was superseded by a re-key (`None`: the decision did not depend on it).
    pub superseded: Option<bool>,
}

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

/// A browser session after login. The cookie holds a random id; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id (also the public handle used to revoke it).
    pub id_hash: [u8; 32],
    /// The account.
    pub account: AccountId,
    /// Created (seconds since the epoch).
    pub created_at: u64,
    /// The IP address that logged in.
    pub ip: String,
    /// Browser and OS, as shown on the account page.
    pub browser: String,
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

/// Accounts, sessions, display names and the site's keys.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The accounts of `idk` and `pidk`, and whether `idk` was superseded.
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<(Option<Account>, Option<Account>, bool), StoreError>;
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
    /// The site key named `name`: the stored one, or `candidate` stored now if there is none.
    /// Every instance sharing the store gets the same key (the first writer wins).
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError>;
}

/// Flows and accounts together, with the two atomic operations across them.
///
/// The provided methods work over any [`FlowStore`] + [`AccountStore`] pair in the
/// claim–write–finalize order; a backend that keeps both in one database overrides them with
/// one transaction.
#[async_trait]
pub trait Store: FlowStore + AccountStore {
    /// Everything a request needs.
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        let flow = self.flow(&needs.flow).await?;
        let (current, previous, superseded) =
            self.accounts(&needs.idk, needs.pidk.as_ref()).await?;
        Ok(Snapshot {
            flow,
            current,
            previous,
            superseded,
        })
    }

    /// Applies a commit: the flow only if its version is still `expected_version`, and then
    /// the account change; or [`StoreError::Conflict`] changing nothing.
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if commit.account == AccountChange::Keep && commit.guards.is_empty() {
            return self.put_flow(&commit.flow, commit.expected_version).await;
        }
        // Claim: the flow record moves on with a nut nobody holds, so a concurrent request
        // on the same nut loses here, before any account changes.
        // Commands run only on scanned flows, so the claim still shows "scanned".
        let mut claim = commit.flow.clone();
        claim.expected_nut = String::new();
        claim.phase = crate::flow::Phase::Scanned;
        self.put_flow(&claim, commit.expected_version).await?;
        // Write: the account change, if the accounts are still as the decision saw them
        // (idempotent, so a retry after a crash is harmless). A guard that fails leaves the
        // flow claimed: its page sees no confirmation and the client is told to retry.
        self.apply(&commit.account, &commit.guards).await?;
        // Finalize: the flow as the command left it, at the claim's version (only the
        // claimer can get here: nobody else holds the claim's empty nut).
        self.put_flow(&commit.flow, Some(claim.version)).await
    }

    /// Marks the flow redeemed (if its version is still `expected_version`) and creates the
    /// browser's session.
    async fn redeem(
        &self,
        flow: &Flow,
        expected_version: u64,
        session: &Session,
    ) -> Result<(), StoreError> {
        self.put_flow(flow, Some(expected_version)).await?;
        self.create_session(session).await
    }
}

/// Flows in one backend, accounts in another (e.g. Redis and PostgreSQL), combined into a
/// [`Store`] by the claim–write–finalize order of its provided methods.
#[derive(Debug, Clone)]
pub struct Split<F, A> {
    /// Where flows live.
    pub flows: F,
    /// Where accounts, sessions and keys live.
    pub accounts: A,
}

#[async_trait]
impl<F: FlowStore, A: AccountStore> FlowStore for Split<F, A> {
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
impl<F: FlowStore, A: AccountStore> AccountStore for Split<F, A> {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<(Option<Account>, Option<Account>, bool), StoreError> {
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
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.accounts.site_key(name, candidate).await
    }
}

impl<F: FlowStore, A: AccountStore> Store for Split<F, A> {}

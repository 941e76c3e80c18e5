//! Accounts and sessions: what a login is for. An [`Account`] is an identity's association
//! with the site, named by a stable [`AccountId`]; a [`Session`] is a browser logged in to it.
//! The stores keep them ([`AccountStore`](crate::AccountStore),
//! [`SessionStore`](crate::SessionStore)); the decisions read them and say how they change
//! ([`AccountChange`], guarded by [`AccountGuard`]).

use rand_core::CryptoRngCore;
use sqrl_proto::Bytes32;

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
    /// When the association was made (seconds since the Unix epoch).
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

/// What happened to an account, for the embedding app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountNotice {
    /// A new account was created.
    Created(AccountId),
    /// The account's identity was replaced (`previous` → `current`); its id stays.
    Rekeyed {
        /// The account.
        account: AccountId,
        /// The old identity key.
        previous: Bytes32,
        /// The new identity key.
        current: Bytes32,
    },
    /// SQRL login was disabled for the account.
    Disabled(AccountId),
    /// SQRL login was enabled again.
    Enabled(AccountId),
    /// The association was removed (the account, its sessions and name are gone).
    Removed(AccountId),
}

/// The accounts one SQRL request is about, as [`AccountStore::accounts`](crate::AccountStore::accounts)
/// reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    /// The account of the identity that signed the request (`idk`).
    pub current: Option<Account>,
    /// The account of the previous identity it presents (`pidk`), if any.
    pub previous: Option<Account>,
    /// `idk` was replaced by a re-key.
    pub superseded: bool,
}

/// A browser session after login. The cookie holds a random id; only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id (also the public handle used to revoke it).
    pub id_hash: [u8; 32],
    /// The account this session is signed in to.
    pub account: AccountId,
    /// Created (seconds since the Unix epoch).
    pub created_at: u64,
    /// The IP address that logged in.
    pub ip: String,
    /// Browser and OS, as shown on the account page.
    pub browser: String,
}

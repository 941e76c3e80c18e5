//! Accounts kept in memory beside the file, so that a returning user's login reads nothing.
//!
//! A login by a known identity looks its account up three or four times (the `query`, the
//! `ident`, the check that the account did not change in between, the redemption). Each
//! lookup on a reader connection costs two thread switches and a read transaction, which
//! together cost more than the SQRL work itself. This cache answers them from memory.
//!
//! It is exact, not merely recent, because the store owns its file (see
//! [`crate::SqliteStore::open`]): every change to an account goes through the store's writer
//! thread, which forgets the accounts a write touched right after its commit and before the
//! write is acknowledged. A lookup that missed reads the database and keeps what it read only
//! if no account write finished in the meantime (a generation count): so a read that began
//! before a commit can never put back what the commit changed.
//!
//! Only accounts that exist are kept (a new user's lookups still read the database); the
//! cache holds at most [`CAPACITY`] of them and starts over when full.

use std::collections::HashMap;
use std::sync::Mutex;

use sqrl_proto::Bytes32;
use sqrl_server::{Account, AccountChange, AccountGuard, AccountId};

/// Most accounts kept (a few hundred bytes each).
pub(crate) const CAPACITY: usize = 100_000;

/// An account as a lookup by identity key finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    pub account: Account,
    /// The identity key is also listed as superseded (only by a damaged database).
    pub superseded: bool,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every account write, after its commit.
    generation: u64,
    by_idk: HashMap<Bytes32, Known>,
    by_id: HashMap<AccountId, Bytes32>,
}

/// See the module documentation.
pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl AccountCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while the lock was held can only have come from a bug in this module; the
        // maps stay consistent pair by pair, so carry on with them.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    /// The generation to pass to [`AccountCache::keep`] after reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.with(|inner| inner.generation)
    }

    pub(crate) fn by_idk(&self, idk: &Bytes32) -> Option<Known> {
        self.with(|inner| inner.by_idk.get(idk).cloned())
    }

    pub(crate) fn by_id(&self, id: &AccountId) -> Option<Account> {
        self.with(|inner| {
            let idk = inner.by_id.get(id)?;
            inner.by_idk.get(idk).map(|known| known.account.clone())
        })
    }

    /// Whether `guards` hold, if every guarded identity is known here; `None` when one is not
    /// (the database must answer).
    pub(crate) fn check(&self, guards: &[AccountGuard]) -> Option<bool> {
        self.with(|inner| {
            let mut holds = true;
            for guard in guards {
                let known = inner.by_idk.get(&guard.idk)?;
                holds &= guard.account.as_ref() == Some(&known.account)
                    && guard.superseded.is_none_or(|s| s == known.superseded);
            }
            Some(holds)
        })
    }

    /// Keeps what a read found, unless an account write finished since `generation`.
    pub(crate) fn keep(&self, generation: u64, known: Known) {
        self.with(|inner| {
            if inner.generation != generation || self.capacity == 0 {
                return;
            }
            if inner.by_idk.len() >= self.capacity {
                inner.by_idk.clear();
                inner.by_id.clear();
            }
            // An account met under another key before (it cannot be, unless a write was
            // missed) loses that entry, so the two maps stay a pair.
            if let Some(old) = inner.by_id.insert(known.account.id, known.account.idk) {
                inner.by_idk.remove(&old);
            }
            inner.by_idk.insert(known.account.idk, known);
        })
    }

    /// Forgets every account `change` touches. Called by the writer thread after the write's
    /// group committed (or failed), before the write is acknowledged.
    pub(crate) fn forget(&self, change: &AccountChange) {
        self.with(|inner| {
            inner.generation = inner.generation.wrapping_add(1);
            let (id, idks) = match change {
                AccountChange::Keep => return,
                AccountChange::Put(account) => (account.id, [Some(account.idk), None]),
                AccountChange::Rekey { previous, account } => {
                    (account.id, [Some(account.idk), Some(*previous)])
                }
                AccountChange::Remove(id) => (*id, [None, None]),
            };
            if let Some(idk) = inner.by_id.remove(&id) {
                inner.by_idk.remove(&idk);
            }
            for idk in idks.into_iter().flatten() {
                if let Some(known) = inner.by_idk.remove(&idk) {
                    inner.by_id.remove(&known.account.id);
                }
            }
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.with(|inner| inner.by_idk.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u8, idk: u8) -> Account {
        Account {
            id: AccountId([n; 16]),
            idk: Bytes32([idk; 32]),
            suk: Bytes32([2; 32]),
            vuk: Bytes32([3; 32]),
            disabled: false,
            sqrlonly: false,
            hardlock: false,
            created_at: 1,
            ins: None,
        }
    }

    fn known(a: Account) -> Known {
        Known {
            account: a,
            superseded: false,
        }
    }

    #[test]
    fn a_read_that_began_before_a_write_does_not_put_back_what_it_changed() {
        let cache = AccountCache::new(10);
        let seen = cache.generation();
        // The write commits and forgets while the read is in flight with the old row.
        cache.forget(&AccountChange::Put(Account {
            disabled: true,
            ..account(1, 1)
        }));
        cache.keep(seen, known(account(1, 1)));
        assert_eq!(cache.by_idk(&Bytes32([1; 32])), None);
        // A read that began after it is kept.
        let seen = cache.generation();
        cache.keep(seen, known(account(1, 1)));
        assert_eq!(cache.by_id(&AccountId([1; 16])), Some(account(1, 1)));
    }

    #[test]
    fn a_rekey_forgets_both_keys_and_a_removal_the_account() {
        let cache = AccountCache::new(10);
        cache.keep(cache.generation(), known(account(1, 1)));
        cache.keep(cache.generation(), known(account(2, 2)));
        cache.forget(&AccountChange::Rekey {
            previous: Bytes32([1; 32]),
            account: account(1, 9),
        });
        assert_eq!(cache.by_idk(&Bytes32([1; 32])), None);
        assert_eq!(cache.by_id(&AccountId([1; 16])), None);
        assert_eq!(cache.len(), 1);
        cache.forget(&AccountChange::Remove(AccountId([2; 16])));
        assert_eq!(cache.by_idk(&Bytes32([2; 32])), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn guards_are_answered_only_when_every_identity_is_known() {
        let cache = AccountCache::new(10);
        cache.keep(cache.generation(), known(account(1, 1)));
        let guard = |a: Option<Account>, idk: u8| AccountGuard {
            idk: Bytes32([idk; 32]),
            account: a,
            superseded: Some(false),
        };
        assert_eq!(cache.check(&[guard(Some(account(1, 1)), 1)]), Some(true));
        let changed = Account {
            disabled: true,
            ..account(1, 1)
        };
        assert_eq!(cache.check(&[guard(Some(changed), 1)]), Some(false));
        assert_eq!(cache.check(&[guard(None, 1)]), Some(false));
        assert_eq!(
            cache.check(&[guard(Some(account(1, 1)), 1), guard(None, 7)]),
            None
        );
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = AccountCache::new(2);
        for n in 1..=3 {
            cache.keep(cache.generation(), known(account(n, n)));
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.by_id(&AccountId([3; 16])), Some(account(3, 3)));
    }
}

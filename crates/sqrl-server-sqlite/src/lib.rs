//! The embedded default store for `sqrl-server`: one SQLite file, WAL journal,
//! `synchronous=FULL` (a command acknowledged to a client survives a crash, a power loss
//! included; only a new session is written lazily, see the `db` module), versioned
//! migrations. A command's commit and a browser's redemption are each atomic; writes are
//! committed in groups by one writer thread (one fsync per group: see the `db` module), reads
//! run on their own connections on tokio's blocking pool, never on the async workers. The
//! store owns its file (an exclusive lock on `<file>-lock`) and so keeps accounts in memory
//! once read: a returning user's login reads nothing from the database (see the `cache`
//! module).

mod cache;
mod db;
mod oidc;
mod schema;
mod session_cache;
mod sql;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use sqrl_proto::Bytes32;
use sqrl_server::{
    Account, AccountChange, AccountGuard, AccountId, AccountStore, Accounts, Commit, Flow, FlowId,
    FlowStore, Needs, RedeemCommit, Session, SessionStore, Snapshot, Store, StoreError,
};
use zeroize::Zeroizing;

use cache::{AccountCache, Known};
use db::Db;
use sql::{
    account_by_idk, apply, backend, check, create_session, flow_by_id, put_flow, read_account,
    read_session, superseded, to_i64, ACCOUNT_COLUMNS,
};

pub use db::MAX_BATCH;
pub use oidc::SqliteClients;

/// A SQLite-backed [`Store`].
///
/// The store owns its file: opening it takes an exclusive lock (`<file>-lock`), and accounts
/// are kept in memory once read, which is exact only while every change goes through this
/// store (see the `cache` module). Change accounts through it, never behind its back with
/// another SQLite tool while it runs.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    cache: Arc<AccountCache>,
    sessions: Arc<session_cache::SessionCache>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    ///
    /// A database serves one store: while this one lives, opening the same file again, from
    /// this process or another, fails with an error that says so.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self::with_db(Db::open(Some(path.as_ref()))?))
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self::with_db(Db::open(None)?))
    }

    fn with_db(db: Arc<Db>) -> Self {
        Self {
            db,
            cache: Arc::new(AccountCache::new(cache::CAPACITY)),
            sessions: Arc::new(session_cache::SessionCache::default()),
        }
    }

    /// Runs an account write on the writer; the accounts it touches are forgotten by the
    /// cache after its commit, before it is answered.
    async fn write_accounts<T: Send + 'static>(
        &self,
        change: &AccountChange,
        work: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (cache, change) = (Arc::clone(&self.cache), change.clone());
        let sessions = Arc::clone(&self.sessions);
        self.db
            .write_then(work, move || {
                cache.forget(&change);
                if let AccountChange::Remove(id) = &change {
                    sessions.forget_account(id, true);
                }
            })
            .await
    }

    /// How many group commits the writer has made (each is one fsync; for metrics).
    pub fn group_commits(&self) -> u64 {
        self.db.groups()
    }

    /// The journal mode in force (`wal` for a file database).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        self.db.read_blocking(|c| {
            c.query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .map_err(backend)
        })
    }

    /// The number of schema migrations applied.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.db.read_blocking(|c| {
            c.query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(backend)
        })
    }
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        let id = *id;
        self.db.read(move |c| flow_by_id(c, &id)).await
    }

    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        let flow = flow.clone();
        self.db.write(move |tx| put_flow(tx, &flow, expected)).await
    }

    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.db
            .write(move |c| {
                c.execute("DELETE FROM flows WHERE issued_at < ?1", [to_i64(before)])
                    .map_err(backend)
            })
            .await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        let (idk, pidk) = (*idk, pidk.copied());
        if pidk.is_none() {
            if let Some(known) = self.cache.by_idk(&idk) {
                return Ok(Accounts {
                    current: Some(known.account),
                    previous: None,
                    superseded: known.superseded,
                });
            }
        }
        let generation = self.cache.generation();
        let found = self
            .db
            .read(move |c| {
                let previous = match pidk {
                    Some(pidk) => account_by_idk(c, &pidk)?,
                    None => None,
                };
                Ok(Accounts {
                    current: account_by_idk(c, &idk)?,
                    previous,
                    superseded: superseded(c, &idk)?,
                })
            })
            .await?;
        if let Some(account) = &found.current {
            self.cache.keep(
                generation,
                Known {
                    account: account.clone(),
                    superseded: found.superseded,
                },
            );
        }
        Ok(found)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let id = *id;
        if let Some(account) = self.cache.by_id(&id) {
            return Ok(Some(account));
        }
        let generation = self.cache.generation();
        let found = self
            .db
            .read(move |c| {
                let Some(account) = c
                    .prepare_cached(&format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE uid = ?1"
                    ))
                    .and_then(|mut s| s.query_row([id.0.to_vec()], read_account).optional())
                    .map_err(backend)?
                else {
                    return Ok(None);
                };
                let superseded = superseded(c, &account.idk)?;
                Ok(Some(Known {
                    account,
                    superseded,
                }))
            })
            .await?;
        Ok(found.map(|known| {
            let account = known.account.clone();
            self.cache.keep(generation, known);
            account
        }))
    }

    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        let (change, guards) = (change.clone(), guards.to_vec());
        if change == AccountChange::Keep {
            // Nothing to write: the guards are checked against the accounts in memory when
            // they are all there, else in one read transaction on a reader.
            if let Some(holds) = self.cache.check(&guards) {
                return if holds {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                };
            }
            return self
                .db
                .read(move |c| {
                    // (An in-memory database reads on the writer, inside its transaction.)
                    let own = c.is_autocommit();
                    if own {
                        c.execute_batch("BEGIN").map_err(backend)?;
                    }
                    let checked = check(c, &guards);
                    if own {
                        c.execute_batch("COMMIT").map_err(backend)?;
                    }
                    checked
                })
                .await;
        }
        let work = {
            let change = change.clone();
            move |tx: &rusqlite::Connection| {
                check(tx, &guards)?;
                apply(tx, &change)
            }
        };
        self.write_accounts(&change, work).await
    }

    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let (name, candidate) = (name.to_owned(), Zeroizing::new(*candidate));
        self.db
            .write(move |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO site_keys (name, key) VALUES (?1, ?2)",
                    params![name, candidate.to_vec()],
                )
                .map_err(backend)?;
                let key: Vec<u8> = tx
                    .query_row("SELECT key FROM site_keys WHERE name = ?1", [&name], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                let key = Zeroizing::new(key);
                let mut out = Zeroizing::new([0u8; 32]);
                if key.len() != 32 {
                    return Err(StoreError::backend(format!(
                        "site key {name} is not 32 bytes"
                    )));
                }
                out.copy_from_slice(&key);
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        // Lazy: a power loss in the moment after a login costs its user a new login; a crash
        // of the process loses nothing. Logouts and account changes stay durable.
        self.db
            .write_lazy(move |c| create_session(c, &session))
            .await
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        if let Some(session) = self.sessions.session(id_hash) {
            return Ok(Some(session));
        }
        let id_hash = *id_hash;
        let generation = self.sessions.generation();
        let found = self
            .db
            .read(move |c| {
                c.prepare_cached(
                "SELECT id_hash, account, created_at, ip, browser FROM sessions WHERE id_hash = ?1",
            )
            .and_then(|mut s| s.query_row([id_hash.to_vec()], read_session).optional())
            .map_err(backend)
            })
            .await?;
        if let Some(session) = &found {
            self.sessions.keep_session(generation, session.clone());
        }
        Ok(found)
    }

    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        let account = *account;
        self.db
            .read(move |c| {
                let mut statement = c
                    .prepare_cached(
                        "SELECT id_hash, account, created_at, ip, browser FROM sessions \
                     WHERE account = ?1 ORDER BY created_at, rowid",
                    )
                    .map_err(backend)?;
                let rows = statement
                    .query_map([account.0.to_vec()], read_session)
                    .map_err(backend)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend)
            })
            .await
    }

    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let (account, id_hash) = (*account, *id_hash);
        let sessions = Arc::clone(&self.sessions);
        self.db
            .write_then(
                move |c| {
                    c.execute(
                        "DELETE FROM sessions WHERE id_hash = ?1 AND account = ?2",
                        params![id_hash.to_vec(), account.0.to_vec()],
                    )
                    .map(|n| n > 0)
                    .map_err(backend)
                },
                move || sessions.forget_session(&id_hash),
            )
            .await
    }

    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        if let Some(name) = self.sessions.name(account) {
            return Ok(name);
        }
        let account = *account;
        let generation = self.sessions.generation();
        let name: String = self
            .db
            .read(move |c| {
                c.query_row(
                    "SELECT display_name FROM accounts WHERE uid = ?1",
                    [account.0.to_vec()],
                    |r| r.get(0),
                )
                .optional()
                .map(Option::unwrap_or_default)
                .map_err(backend)
            })
            .await?;
        self.sessions.keep_name(generation, account, name.clone());
        Ok(name)
    }

    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        let (account, name) = (*account, name.to_owned());
        let sessions = Arc::clone(&self.sessions);
        self.db
            .write_then(
                move |c| {
                    c.execute(
                        "UPDATE accounts SET display_name = ?2 WHERE uid = ?1",
                        params![account.0.to_vec(), name],
                    )
                    .map(|_| ())
                    .map_err(backend)
                },
                move || sessions.forget_account(&account, false),
            )
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// The flow and the accounts at once; the accounts through [`AccountStore::accounts`], so
    /// a returning user's account comes from memory like every other account read.
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        let (flow, accounts) = tokio::try_join!(
            self.flow(&needs.flow),
            self.accounts(&needs.idk, needs.pidk.as_ref())
        )?;
        Ok(Snapshot::new(flow, accounts))
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let change = commit.account.clone();
        let commit = commit.clone();
        self.write_accounts(&change, move |tx| {
            put_flow(tx, &commit.flow, commit.expected_version)?;
            check(tx, &commit.guards)?;
            apply(tx, &commit.account)
        })
        .await
    }

    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        let redeem = redeem.clone();
        self.db
            .write(move |tx| {
                put_flow(tx, &redeem.flow, Some(redeem.expected_version))?;
                create_session(tx, &redeem.session)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A browser that leaves in the middle of a write drops the future that waits for it; the
    /// write still commits, and the account kept in memory must still be forgotten.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_caller_stopped_waiting_still_refreshes_the_account_in_memory() {
        use sqrl_server::testkit::account;
        let store = SqliteStore::in_memory().unwrap();
        let idk = account(2).idk;
        let disabled = Account {
            disabled: true,
            ..account(2)
        };
        store
            .apply(&AccountChange::Put(account(2)), &[])
            .await
            .unwrap();
        assert_eq!(
            store.accounts(&idk, None).await.unwrap().current,
            Some(account(2))
        );
        // The writer is busy, so the change waits in the queue while its caller gives up.
        let busy = store.db.write(|_| {
            // Holding the writer busy is the point: the change queues up behind this one.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let change = AccountChange::Put(disabled.clone());
        let gave_up = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            tokio::time::timeout(
                std::time::Duration::from_millis(10),
                store.apply(&change, &[]),
            )
            .await
        };
        let (busy, gave_up) = tokio::join!(busy, gave_up);
        busy.unwrap();
        assert!(gave_up.is_err(), "the caller stopped waiting");
        // Writes commit in order: once a later one is answered, the dropped one has too.
        store
            .set_display_name(&account(2).id, "after")
            .await
            .unwrap();
        assert_eq!(
            store.accounts(&idk, None).await.unwrap().current,
            Some(disabled)
        );
    }

    /// A database written by the first schema upgrades in place and keeps its rows.
    #[test]
    fn upgrades_a_version_1_database() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(schema::MIGRATIONS[0]).unwrap();
        connection.execute_batch("PRAGMA user_version = 1").unwrap();
        connection
            .execute(
                "INSERT INTO accounts (idk, suk, vuk, disabled, sqrlonly, hardlock, created_at) VALUES (?1, ?2, ?3, 0, 1, 0, 5)",
                params![vec![1u8; 32], vec![2u8; 32], vec![3u8; 32]],
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO sessions (id_hash, idk, created_at, ip, browser) VALUES (?1, ?2, 7, 'ip', 'b')",
                params![vec![9u8; 32], vec![1u8; 32]],
            )
            .unwrap();
        let mut connection = connection;
        schema::init(&mut connection).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema::MIGRATIONS.len() as i64);
        let account = account_by_idk(&connection, &Bytes32([1; 32]))
            .unwrap()
            .unwrap();
        assert!(account.sqrlonly);
        assert_eq!(account.ins, None);
        let session: Vec<u8> = connection
            .query_row(
                "SELECT account FROM sessions WHERE id_hash = ?1",
                [vec![9u8; 32]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            session,
            account.id.0.to_vec(),
            "a session follows its account to the new id"
        );
    }
}

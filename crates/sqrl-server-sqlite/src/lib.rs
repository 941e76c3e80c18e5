//! The embedded default store for `sqrl-server`: one SQLite file, WAL journal,
//! `synchronous=FULL` (a command acknowledged to a client survives a crash, a power loss
//! included; only a new session is written lazily, see [`db`]), versioned migrations. A command's commit and a browser's redemption are each atomic; writes are
//! committed in groups by one writer thread (one fsync per group: see [`db`]), reads run on
//! their own connections on tokio's blocking pool, never on the async workers.

mod db;
mod schema;
mod sql;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use sqrl_proto::Bytes32;
use sqrl_server::{
    Account, AccountChange, AccountGuard, AccountId, AccountStore, Commit, Flow, FlowId, FlowStore,
    Needs, Session, Snapshot, Store, StoreError,
};
use zeroize::Zeroizing;

use db::Db;
use sql::{
    account_by_idk, apply, backend, check, create_session, flow_by_id, put_flow, read_account,
    read_session, superseded, to_i64, ACCOUNT_COLUMNS,
};

pub use db::MAX_BATCH;

/// A SQLite-backed [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(Some(path.as_ref()))?,
        })
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(None)?,
        })
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
    ) -> Result<(Option<Account>, Option<Account>, bool), StoreError> {
        let (idk, pidk) = (*idk, pidk.copied());
        self.db
            .read(move |c| {
                let previous = match pidk {
                    Some(pidk) => account_by_idk(c, &pidk)?,
                    None => None,
                };
                Ok((account_by_idk(c, &idk)?, previous, superseded(c, &idk)?))
            })
            .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let id = *id;
        self.db
            .read(move |c| {
                c.query_row(
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE uid = ?1"),
                    [id.0.to_vec()],
                    read_account,
                )
                .optional()
                .map_err(backend)
            })
            .await
    }

    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        let (change, guards) = (change.clone(), guards.to_vec());
        if change == AccountChange::Keep {
            // Nothing to write: the guards are checked in one read transaction on a reader.
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
        self.db
            .write(move |tx| {
                check(tx, &guards)?;
                apply(tx, &change)
            })
            .await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        // Lazy: a power loss in the moment after a login costs its user a new login; a crash
        // of the process loses nothing. Logouts and account changes stay durable.
        self.db
            .write_lazy(move |c| create_session(c, &session))
            .await
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        let id_hash = *id_hash;
        self.db
            .read(move |c| {
                c.prepare_cached(
                "SELECT id_hash, account, created_at, ip, browser FROM sessions WHERE id_hash = ?1",
            )
            .and_then(|mut s| s.query_row([id_hash.to_vec()], read_session).optional())
            .map_err(backend)
            })
            .await
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
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM sessions WHERE id_hash = ?1 AND account = ?2",
                    params![id_hash.to_vec(), account.0.to_vec()],
                )
                .map(|n| n > 0)
                .map_err(backend)
            })
            .await
    }

    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        let account = *account;
        self.db
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
            .await
    }

    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        let (account, name) = (*account, name.to_owned());
        self.db
            .write(move |c| {
                c.execute(
                    "UPDATE accounts SET display_name = ?2 WHERE uid = ?1",
                    params![account.0.to_vec(), name],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await
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
impl Store for SqliteStore {
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        let needs = *needs;
        self.db
            .read(move |c| {
                let previous = match needs.pidk {
                    Some(pidk) => account_by_idk(c, &pidk)?,
                    None => None,
                };
                Ok(Snapshot {
                    flow: flow_by_id(c, &needs.flow)?,
                    current: account_by_idk(c, &needs.idk)?,
                    previous,
                    superseded: superseded(c, &needs.idk)?,
                })
            })
            .await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let commit = commit.clone();
        self.db
            .write(move |tx| {
                put_flow(tx, &commit.flow, commit.expected_version)?;
                check(tx, &commit.guards)?;
                apply(tx, &commit.account)
            })
            .await
    }

    async fn redeem(
        &self,
        flow: &Flow,
        expected_version: u64,
        session: &Session,
    ) -> Result<(), StoreError> {
        let (flow, session) = (flow.clone(), session.clone());
        self.db
            .write(move |tx| {
                put_flow(tx, &flow, Some(expected_version))?;
                create_session(tx, &session)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

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

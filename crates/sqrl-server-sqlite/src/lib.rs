//! The embedded default store for `sqrl-server`: one SQLite file, WAL journal,
//! `synchronous=FULL` (a command acknowledged to a client survives a crash), versioned
//! migrations, one transaction per commit and per redemption. Calls run on tokio's blocking
//! pool, never on the async workers.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use sqrl_proto::Bytes32;
use sqrl_server::useragent::BrowserInfo;
use sqrl_server::{
    Account, AccountChange, AccountId, AccountStore, Commit, Flow, FlowId, FlowStore, Needs, Phase,
    Session, Snapshot, Store, StoreError,
};
use zeroize::Zeroizing;

/// Schema migrations, applied in order; the database records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, superseded identities, flows, sessions.
    "CREATE TABLE accounts (
        idk BLOB PRIMARY KEY,
        suk BLOB NOT NULL,
        vuk BLOB NOT NULL,
        disabled INTEGER NOT NULL,
        sqrlonly INTEGER NOT NULL,
        hardlock INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        display_name TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE superseded (
        idk BLOB PRIMARY KEY,
        replaced_by BLOB NOT NULL
    );
    CREATE TABLE flows (
        id BLOB PRIMARY KEY,
        version INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        browser_ip TEXT NOT NULL,
        browser INTEGER NOT NULL,
        os INTEGER NOT NULL,
        idk BLOB NOT NULL,
        phase INTEGER NOT NULL,
        account BLOB,
        cps INTEGER NOT NULL,
        confirmed_at INTEGER NOT NULL,
        expected_nut TEXT NOT NULL,
        reply_hash BLOB NOT NULL,
        asked INTEGER NOT NULL,
        cps_token_hash BLOB
    );
    CREATE INDEX flows_issued ON flows(issued_at);
    CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        idk BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        ip TEXT NOT NULL,
        browser TEXT NOT NULL
    );
    CREATE INDEX sessions_idk ON sessions(idk);",
    // 2: the indexed secret answering the site's `sin`.
    "ALTER TABLE accounts ADD COLUMN ins BLOB;",
    // 3: stable account ids (sessions and names survive re-keys by pointing at them), the
    // site's shared keys. Flows in progress named accounts by identity key: they live
    // minutes, so they are dropped.
    "ALTER TABLE accounts ADD COLUMN uid BLOB;
    UPDATE accounts SET uid = randomblob(16) WHERE uid IS NULL;
    CREATE UNIQUE INDEX accounts_uid ON accounts(uid);
    CREATE TABLE sessions_v3 (
        id_hash BLOB PRIMARY KEY,
        account BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        ip TEXT NOT NULL,
        browser TEXT NOT NULL
    );
    INSERT INTO sessions_v3 (id_hash, account, created_at, ip, browser)
        SELECT s.id_hash, a.uid, s.created_at, s.ip, s.browser
        FROM sessions s JOIN accounts a ON a.idk = s.idk;
    DROP TABLE sessions;
    ALTER TABLE sessions_v3 RENAME TO sessions;
    CREATE INDEX sessions_account ON sessions(account, created_at);
    DELETE FROM flows;
    CREATE TABLE site_keys (name TEXT PRIMARY KEY, key BLOB NOT NULL);",
];

/// A SQLite-backed [`Store`] and [`SessionStore`].
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn bad_column(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.into(), rusqlite::types::Type::Blob)
}

fn key32(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| bad_column("32-byte key"))
}

fn id16(bytes: Vec<u8>) -> rusqlite::Result<[u8; 16]> {
    bytes.try_into().map_err(|_| bad_column("16-byte id"))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::init(Connection::open(path).map_err(backend)?)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut connection: Connection) -> Result<Self, StoreError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(backend)?;
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let applied: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(backend)?;
        for (index, migration) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            tx.execute_batch(migration).map_err(backend)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.connection
            .lock()
            .map_err(|_| StoreError::backend("poisoned lock"))
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&mut *store.lock()?))
            .await
            .map_err(StoreError::backend)?
    }

    /// Runs `f` in one immediate (write) transaction, committed if it returns `Ok`.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(move |connection| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let value = f(&tx)?;
            tx.commit().map_err(backend)?;
            Ok(value)
        })
        .await
    }

    /// The journal mode in force (`wal` for a file database).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        self.lock()?
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(backend)
    }

    /// The number of schema migrations applied.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.lock()?
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(backend)
    }
}

const ACCOUNT_COLUMNS: &str = "uid, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins";

fn read_account(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(id16(row.get(0)?)?),
        idk: Bytes32(key32(row.get(1)?)?),
        suk: Bytes32(key32(row.get(2)?)?),
        vuk: Bytes32(key32(row.get(3)?)?),
        disabled: row.get(4)?,
        sqrlonly: row.get(5)?,
        hardlock: row.get(6)?,
        created_at: to_u64(row.get(7)?),
        ins: row
            .get::<_, Option<Vec<u8>>>(8)?
            .map(key32)
            .transpose()?
            .map(Bytes32),
    })
}

fn account_by_idk(c: &Connection, idk: &Bytes32) -> Result<Option<Account>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE idk = ?1"
    ))
    .and_then(|mut s| s.query_row([idk.0.to_vec()], read_account).optional())
    .map_err(backend)
}

fn superseded(c: &Connection, idk: &Bytes32) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM superseded WHERE idk = ?1")
        .and_then(|mut s| s.query_row([idk.0.to_vec()], |_| Ok(())).optional())
        .map(|found| found.is_some())
        .map_err(backend)
}

fn read_flow(row: &rusqlite::Row<'_>) -> rusqlite::Result<Flow> {
    let ip: String = row.get(3)?;
    let account: Option<Vec<u8>> = row.get(8)?;
    let phase = match row.get::<_, i64>(7)? {
        0 => Phase::Scanned,
        1 => Phase::Confirmed {
            account: AccountId(id16(account.unwrap_or_default())?),
            cps: row.get(9)?,
            at: to_u64(row.get(10)?),
        },
        2 => Phase::Rejected,
        _ => Phase::Redeemed { cps: row.get(9)? },
    };
    let cps_token_hash: Option<Vec<u8>> = row.get(14)?;
    Ok(Flow {
        id: FlowId(id16(row.get(0)?)?),
        version: to_u64(row.get(1)?),
        issued_at: to_u64(row.get(2)?),
        browser_ip: ip.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        browser: BrowserInfo::from_codes(row.get(4)?, row.get(5)?),
        idk: Bytes32(key32(row.get(6)?)?),
        phase,
        expected_nut: row.get(11)?,
        reply_hash: key32(row.get(12)?)?,
        asked: row.get(13)?,
        cps_token_hash: cps_token_hash.map(key32).transpose()?,
    })
}

const FLOW_COLUMNS: &str = "id, version, issued_at, browser_ip, browser, os, idk, phase, account, \
                            cps, confirmed_at, expected_nut, reply_hash, asked, cps_token_hash";

fn flow_by_id(c: &Connection, id: &FlowId) -> Result<Option<Flow>, StoreError> {
    c.prepare_cached(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.0.to_vec()], read_flow).optional())
        .map_err(backend)
}

/// Writes `flow` if the stored version is still `expected`.
fn put_flow(tx: &Transaction<'_>, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
    let current: Option<i64> = tx
        .prepare_cached("SELECT version FROM flows WHERE id = ?1")
        .and_then(|mut s| s.query_row([flow.id.0.to_vec()], |r| r.get(0)).optional())
        .map_err(backend)?;
    if current.map(to_u64) != expected {
        return Err(StoreError::Conflict);
    }
    let (phase, account, cps, at) = match flow.phase {
        Phase::Scanned => (0, None, false, 0),
        Phase::Confirmed { account, cps, at } => (1, Some(account.0.to_vec()), cps, at),
        Phase::Rejected => (2, None, false, 0),
        Phase::Redeemed { cps } => (3, None, cps, 0),
    };
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO flows ({FLOW_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            flow.id.0.to_vec(),
            to_i64(flow.version),
            to_i64(flow.issued_at),
            flow.browser_ip.to_string(),
            flow.browser.browser as u8,
            flow.browser.os as u8,
            flow.idk.0.to_vec(),
            phase,
            account,
            cps,
            to_i64(at),
            flow.expected_nut,
            flow.reply_hash.to_vec(),
            flow.asked,
            flow.cps_token_hash.map(|h| h.to_vec()),
        ])
    })
    .map(|_| ())
    .map_err(backend)
}

fn apply(tx: &Transaction<'_>, change: &AccountChange) -> Result<(), StoreError> {
    let put = |a: &Account| {
        // An upsert by account id that leaves the site's own columns (display_name) alone.
        tx.prepare_cached(
            "INSERT INTO accounts (uid, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(uid) DO UPDATE SET idk = excluded.idk, suk = excluded.suk,
               vuk = excluded.vuk, disabled = excluded.disabled, sqrlonly = excluded.sqrlonly,
               hardlock = excluded.hardlock, ins = excluded.ins",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.id.0.to_vec(),
                a.idk.0.to_vec(),
                a.suk.0.to_vec(),
                a.vuk.0.to_vec(),
                a.disabled,
                a.sqrlonly,
                a.hardlock,
                to_i64(a.created_at),
                a.ins.map(|i| i.0.to_vec())
            ])
        })
        .map_err(backend)
    };
    match change {
        AccountChange::Keep => {}
        AccountChange::Put(account) => {
            put(account)?;
        }
        AccountChange::Rekey { previous, account } => {
            put(account)?;
            tx.execute(
                "INSERT OR REPLACE INTO superseded (idk, replaced_by) VALUES (?1, ?2)",
                params![previous.0.to_vec(), account.idk.0.to_vec()],
            )
            .map_err(backend)?;
        }
        AccountChange::Remove(id) => {
            tx.execute("DELETE FROM accounts WHERE uid = ?1", [id.0.to_vec()])
                .map_err(backend)?;
            tx.execute("DELETE FROM sessions WHERE account = ?1", [id.0.to_vec()])
                .map_err(backend)?;
        }
    }
    Ok(())
}

fn create_session(tx: &Connection, s: &Session) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO sessions (id_hash, account, created_at, ip, browser) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.id_hash.to_vec(),
            s.account.0.to_vec(),
            to_i64(s.created_at),
            s.ip,
            s.browser
        ])
    })
    .map(|_| ())
    .map_err(backend)
}

fn read_session(row: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: key32(row.get(0)?)?,
        account: AccountId(id16(row.get(1)?)?),
        created_at: to_u64(row.get(2)?),
        ip: row.get(3)?,
        browser: row.get(4)?,
    })
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        let id = *id;
        self.call(move |c| flow_by_id(c, &id)).await
    }

    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        let flow = flow.clone();
        self.write(move |tx| put_flow(tx, &flow, expected)).await
    }

    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.call(move |c| {
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
        self.call(move |c| {
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
        self.call(move |c| {
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

    async fn apply(&self, change: &AccountChange) -> Result<(), StoreError> {
        let change = change.clone();
        self.write(move |tx| apply(tx, &change)).await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = session.clone();
        self.call(move |c| create_session(c, &session)).await
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        let id_hash = *id_hash;
        self.call(move |c| {
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
        self.call(move |c| {
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
        self.call(move |c| {
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
        self.call(move |c| {
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
        self.call(move |c| {
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
        self.write(move |tx| {
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
        self.call(move |c| {
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
        self.write(move |tx| {
            put_flow(tx, &commit.flow, commit.expected_version)?;
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
        self.write(move |tx| {
            put_flow(tx, &flow, Some(expected_version))?;
            create_session(tx, &session)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written by the first schema upgrades in place and keeps its rows.
    #[test]
    fn upgrades_a_version_1_database() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
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
        let store = SqliteStore::init(connection).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let connection = store.lock().unwrap();
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

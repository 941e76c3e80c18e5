//! The embedded default store: one SQLite file, WAL journal, `synchronous=FULL` (a command
//! acknowledged to a client survives a crash), versioned migrations, one transaction per
//! commit.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sqrl_proto::Bytes32;

use crate::flow::{Flow, Phase};
use crate::nut::FlowId;
use crate::store::{Account, AccountChange, Commit, Session, SessionStore, Store, StoreError};
use crate::useragent::BrowserInfo;

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
];

/// A SQLite-backed [`Store`] and [`SessionStore`].
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn key32(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "32-byte key".into(), rusqlite::types::Type::Blob)
    })
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
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.connection
            .lock()
            .map_err(|_| StoreError::Backend("poisoned lock".into()))
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

fn read_account(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        idk: Bytes32(key32(row.get(0)?)?),
        suk: Bytes32(key32(row.get(1)?)?),
        vuk: Bytes32(key32(row.get(2)?)?),
        disabled: row.get(3)?,
        sqrlonly: row.get(4)?,
        hardlock: row.get(5)?,
        created_at: to_u64(row.get(6)?),
        ins: row
            .get::<_, Option<Vec<u8>>>(7)?
            .map(key32)
            .transpose()?
            .map(Bytes32),
    })
}

fn read_flow(row: &rusqlite::Row<'_>) -> rusqlite::Result<Flow> {
    let id: [u8; 16] = row.get::<_, Vec<u8>>(0)?.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "flow id".into(), rusqlite::types::Type::Blob)
    })?;
    let ip: String = row.get(3)?;
    let account: Option<Vec<u8>> = row.get(8)?;
    let phase = match row.get::<_, i64>(7)? {
        0 => Phase::Scanned,
        1 => Phase::Confirmed {
            account: Bytes32(key32(account.unwrap_or_default())?),
            cps: row.get(9)?,
            at: to_u64(row.get(10)?),
        },
        2 => Phase::Rejected,
        _ => Phase::Redeemed { cps: row.get(9)? },
    };
    let cps_token_hash: Option<Vec<u8>> = row.get(14)?;
    Ok(Flow {
        id: FlowId(id),
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

const FLOW_COLUMNS: &str =
    "id, version, issued_at, browser_ip, browser, os, idk, phase, account, cps, \
                            confirmed_at, expected_nut, reply_hash, asked, cps_token_hash";

fn write_flow(tx: &rusqlite::Transaction<'_>, flow: &Flow) -> rusqlite::Result<usize> {
    let (phase, account, cps, at) = match flow.phase {
        Phase::Scanned => (0, None, false, 0),
        Phase::Confirmed { account, cps, at } => (1, Some(account.0.to_vec()), cps, at),
        Phase::Rejected => (2, None, false, 0),
        Phase::Redeemed { cps } => (3, None, cps, 0),
    };
    tx.execute(
        &format!("INSERT OR REPLACE INTO flows ({FLOW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
        params![
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
        ],
    )
}

fn put_account(tx: &rusqlite::Transaction<'_>, a: &Account) -> rusqlite::Result<usize> {
    // An upsert that leaves the site's own columns (display_name) alone.
    tx.execute(
        "INSERT INTO accounts (idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(idk) DO UPDATE SET suk = excluded.suk, vuk = excluded.vuk,
           disabled = excluded.disabled, sqrlonly = excluded.sqrlonly, hardlock = excluded.hardlock,
           ins = excluded.ins",
        params![
            a.idk.0.to_vec(),
            a.suk.0.to_vec(),
            a.vuk.0.to_vec(),
            a.disabled,
            a.sqrlonly,
            a.hardlock,
            to_i64(a.created_at),
            a.ins.map(|i| i.0.to_vec())
        ],
    )
}

impl Store for SqliteStore {
    fn account(&self, idk: &Bytes32) -> Result<Option<Account>, StoreError> {
        self.lock()?
            .query_row(
                "SELECT idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins FROM accounts WHERE idk = ?1",
                [idk.0.to_vec()],
                read_account,
            )
            .optional()
            .map_err(backend)
    }

    fn is_superseded(&self, idk: &Bytes32) -> Result<bool, StoreError> {
        self.lock()?
            .query_row(
                "SELECT 1 FROM superseded WHERE idk = ?1",
                [idk.0.to_vec()],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(backend)
    }

    fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.lock()?
            .query_row(
                &format!("SELECT {FLOW_COLUMNS} FROM flows WHERE id = ?1"),
                [id.0.to_vec()],
                read_flow,
            )
            .optional()
            .map_err(backend)
    }

    fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let mut connection = self.lock()?;
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let current: Option<i64> = tx
            .query_row(
                "SELECT version FROM flows WHERE id = ?1",
                [commit.flow.id.0.to_vec()],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if current.map(to_u64) != commit.expected_version {
            return Err(StoreError::Conflict);
        }
        match &commit.account {
            AccountChange::Keep => {}
            AccountChange::Put(account) => {
                put_account(&tx, account).map_err(backend)?;
            }
            AccountChange::Rekey { previous, account } => {
                let old = previous.0.to_vec();
                let new = account.idk.0.to_vec();
                put_account(&tx, account).map_err(backend)?;
                tx.execute(
                    "UPDATE accounts SET display_name = (SELECT display_name FROM accounts WHERE idk = ?1),
                       created_at = (SELECT created_at FROM accounts WHERE idk = ?1) WHERE idk = ?2",
                    params![old, new],
                )
                .map_err(backend)?;
                tx.execute("DELETE FROM accounts WHERE idk = ?1", [&old])
                    .map_err(backend)?;
                tx.execute(
                    "INSERT OR REPLACE INTO superseded (idk, replaced_by) VALUES (?1, ?2)",
                    params![old, new],
                )
                .map_err(backend)?;
                tx.execute(
                    "UPDATE sessions SET idk = ?2 WHERE idk = ?1",
                    params![old, new],
                )
                .map_err(backend)?;
            }
            AccountChange::Remove(idk) => {
                tx.execute("DELETE FROM accounts WHERE idk = ?1", [idk.0.to_vec()])
                    .map_err(backend)?;
                tx.execute("DELETE FROM sessions WHERE idk = ?1", [idk.0.to_vec()])
                    .map_err(backend)?;
            }
        }
        write_flow(&tx, &commit.flow).map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn count_flows_since(&self, since: u64) -> Result<usize, StoreError> {
        self.lock()?
            .query_row(
                "SELECT COUNT(*) FROM flows WHERE issued_at >= ?1",
                [to_i64(since)],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(backend)
    }

    fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.lock()?
            .execute("DELETE FROM flows WHERE issued_at < ?1", [to_i64(before)])
            .map_err(backend)
    }
}

fn read_session(row: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: key32(row.get(0)?)?,
        idk: Bytes32(key32(row.get(1)?)?),
        created_at: to_u64(row.get(2)?),
        ip: row.get(3)?,
        browser: row.get(4)?,
    })
}

impl SessionStore for SqliteStore {
    fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT INTO sessions (id_hash, idk, created_at, ip, browser) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id_hash.to_vec(), s.idk.0.to_vec(), to_i64(s.created_at), s.ip, s.browser],
            )
            .map(|_| ())
            .map_err(backend)
    }

    fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.lock()?
            .query_row(
                "SELECT id_hash, idk, created_at, ip, browser FROM sessions WHERE id_hash = ?1",
                [id_hash.to_vec()],
                read_session,
            )
            .optional()
            .map_err(backend)
    }

    fn sessions_of(&self, idk: &Bytes32) -> Result<Vec<Session>, StoreError> {
        let connection = self.lock()?;
        let mut statement = connection
            .prepare("SELECT id_hash, idk, created_at, ip, browser FROM sessions WHERE idk = ?1 ORDER BY created_at, rowid")
            .map_err(backend)?;
        let rows = statement
            .query_map([idk.0.to_vec()], read_session)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn delete_session(&self, idk: &Bytes32, id_hash: &[u8; 32]) -> Result<bool, StoreError> {
        self.lock()?
            .execute(
                "DELETE FROM sessions WHERE id_hash = ?1 AND idk = ?2",
                params![id_hash.to_vec(), idk.0.to_vec()],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }

    fn display_name(&self, idk: &Bytes32) -> Result<String, StoreError> {
        self.lock()?
            .query_row(
                "SELECT display_name FROM accounts WHERE idk = ?1",
                [idk.0.to_vec()],
                |r| r.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(backend)
    }

    fn set_display_name(&self, idk: &Bytes32, name: &str) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE accounts SET display_name = ?2 WHERE idk = ?1",
                params![idk.0.to_vec(), name],
            )
            .map(|_| ())
            .map_err(backend)
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
        let store = SqliteStore::init(connection).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let account = store.account(&Bytes32([1; 32])).unwrap().unwrap();
        assert!(account.sqrlonly);
        assert_eq!(account.ins, None);
    }
}

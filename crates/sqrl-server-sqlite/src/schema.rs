//! The schema: numbered migrations recorded in `user_version`, and the connection settings.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use sqrl_server::StoreError;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

/// Schema migrations, applied in order; the database records how many have run.
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 4: how a conversation ended without a login (disabled, removed, failed).
    "ALTER TABLE flows ADD COLUMN ended INTEGER NOT NULL DEFAULT 0;",
    // 5: the OpenID Connect provider (records as JSON; codes and tokens by their hash).
    "CREATE TABLE oidc_clients (id TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE oidc_pending (hash BLOB PRIMARY KEY, record TEXT NOT NULL,
        expires_at INTEGER NOT NULL);
    CREATE TABLE oidc_codes (hash BLOB PRIMARY KEY, client_id TEXT NOT NULL,
        record TEXT NOT NULL, used INTEGER NOT NULL, forget_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE oidc_tokens (hash BLOB PRIMARY KEY, grant_id TEXT NOT NULL,
        client_id TEXT NOT NULL, user TEXT NOT NULL, record TEXT NOT NULL,
        expires_at INTEGER NOT NULL);
    CREATE INDEX oidc_tokens_grant ON oidc_tokens(grant_id);
    CREATE INDEX oidc_tokens_user ON oidc_tokens(user, client_id);
    CREATE TABLE oidc_keys (kid TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE oidc_consents (user TEXT NOT NULL, client_id TEXT NOT NULL,
        granted_at INTEGER NOT NULL, PRIMARY KEY (user, client_id));",
];

/// Sets up the writer's connection and brings the schema up to date, in one transaction.
pub(crate) fn init(connection: &mut Connection) -> Result<(), StoreError> {
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
    tx.commit().map_err(backend)
}

/// A read-only connection to the database at `path`.
pub(crate) fn reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection
        .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
        .map_err(backend)?;
    Ok(connection)
}

/// The checkpointer's connection to the database at `path`: it syncs the log and the file
/// (`synchronous=FULL`) around each checkpoint.
pub(crate) fn checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection
        .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")
        .map_err(backend)?;
    Ok(connection)
}

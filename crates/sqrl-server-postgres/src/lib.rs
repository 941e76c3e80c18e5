//! A `sqrl-server` [`Store`] on PostgreSQL, for several instances sharing one database.
//!
//! Tables are prefixed `sqrl_` so they can live beside the app's own. Migrations run at
//! [`PostgresStore::connect`] under an advisory lock, so instances starting together apply
//! each one once. A command's commit and a browser's redemption are each one transaction;
//! flow writes are conditional on the version read (`UPDATE … WHERE version = $n`), so of two
//! instances racing on one nut exactly one wins. Flows are stored as the core's compact
//! record (`Flow::to_bytes`). Connections come from a small pool; when the database is
//! unreachable every call fails with [`StoreError::Backend`] and the site answers "try
//! again", never a wrong login.

mod oidc;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sqrl_proto::Bytes32;
use sqrl_server::{
    Account, AccountChange, AccountGuard, AccountId, AccountStore, Accounts, Commit, Flow, FlowId,
    FlowStore, Needs, RedeemCommit, Session, SessionStore, Snapshot, Store, StoreError,
};
use tokio_postgres::{NoTls, Row};
use zeroize::Zeroizing;

/// Schema migrations, applied in order; `sqrl_migrations` records which ran.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE sqrl_accounts (
        id BYTEA PRIMARY KEY,
        idk BYTEA NOT NULL UNIQUE,
        suk BYTEA NOT NULL,
        vuk BYTEA NOT NULL,
        disabled BOOLEAN NOT NULL,
        sqrlonly BOOLEAN NOT NULL,
        hardlock BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        ins BYTEA,
        display_name TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sqrl_superseded (
        idk BYTEA PRIMARY KEY,
        replaced_by BYTEA NOT NULL
    );
    CREATE TABLE sqrl_flows (
        id BYTEA PRIMARY KEY,
        version BIGINT NOT NULL,
        issued_at BIGINT NOT NULL,
        record BYTEA NOT NULL
    );
    CREATE INDEX sqrl_flows_issued ON sqrl_flows (issued_at);
    CREATE TABLE sqrl_sessions (
        id_hash BYTEA PRIMARY KEY,
        account BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        ip TEXT NOT NULL,
        browser TEXT NOT NULL,
        seq BIGSERIAL
    );
    CREATE INDEX sqrl_sessions_account ON sqrl_sessions (account, created_at, seq);
    CREATE TABLE sqrl_site_keys (
        name TEXT PRIMARY KEY,
        key BYTEA NOT NULL
    );
",
    "
    CREATE TABLE sqrl_oidc_clients (id TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE sqrl_oidc_pending (hash BYTEA PRIMARY KEY, record TEXT NOT NULL,
        expires_at BIGINT NOT NULL);
    CREATE TABLE sqrl_oidc_codes (hash BYTEA PRIMARY KEY, client_id TEXT NOT NULL,
        record TEXT NOT NULL, used BOOLEAN NOT NULL, forget_at BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE);
    CREATE TABLE sqrl_oidc_tokens (hash BYTEA PRIMARY KEY, grant_id TEXT NOT NULL,
        client_id TEXT NOT NULL, user_id TEXT NOT NULL, record TEXT NOT NULL,
        expires_at BIGINT NOT NULL);
    CREATE INDEX sqrl_oidc_tokens_grant ON sqrl_oidc_tokens (grant_id);
    CREATE INDEX sqrl_oidc_tokens_user ON sqrl_oidc_tokens (user_id, client_id);
    CREATE TABLE sqrl_oidc_keys (kid TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE sqrl_oidc_consents (user_id TEXT NOT NULL, client_id TEXT NOT NULL,
        granted_at BIGINT NOT NULL, PRIMARY KEY (user_id, client_id));
",
];

/// An arbitrary constant naming this crate's migration lock.
const MIGRATION_LOCK: i64 = 0x5351_524c_0001;

fn backend(e: impl core::fmt::Display) -> StoreError {
    StoreError::backend(e)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::backend(format!("expected {N} bytes in the database")))
}

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl core::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PostgresStore")
    }
}

const ACCOUNT_COLUMNS: &str = "id, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins";

fn read_account(row: &Row) -> Result<Account, StoreError> {
    let ins: Option<Vec<u8>> = row.try_get(8).map_err(backend)?;
    Ok(Account {
        id: AccountId(array(&row.try_get::<_, Vec<u8>>(0).map_err(backend)?)?),
        idk: Bytes32(array(&row.try_get::<_, Vec<u8>>(1).map_err(backend)?)?),
        suk: Bytes32(array(&row.try_get::<_, Vec<u8>>(2).map_err(backend)?)?),
        vuk: Bytes32(array(&row.try_get::<_, Vec<u8>>(3).map_err(backend)?)?),
        disabled: row.try_get(4).map_err(backend)?,
        sqrlonly: row.try_get(5).map_err(backend)?,
        hardlock: row.try_get(6).map_err(backend)?,
        created_at: to_u64(row.try_get(7).map_err(backend)?),
        ins: ins.map(|i| array(&i)).transpose()?.map(Bytes32),
    })
}

fn read_session(row: &Row) -> Result<Session, StoreError> {
    Ok(Session {
        id_hash: array(&row.try_get::<_, Vec<u8>>(0).map_err(backend)?)?,
        account: AccountId(array(&row.try_get::<_, Vec<u8>>(1).map_err(backend)?)?),
        created_at: to_u64(row.try_get(2).map_err(backend)?),
        ip: row.try_get(3).map_err(backend)?,
        browser: row.try_get(4).map_err(backend)?,
    })
}

async fn account_by_idk(
    client: &impl GenericClient,
    idk: &Bytes32,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM sqrl_accounts WHERE idk = $1");
    client
        .query_opt(&sql, &[&idk.0.as_slice()])
        .await
        .map_err(backend)?
        .map(|row| read_account(&row))
        .transpose()
}

async fn flow_by_id(client: &impl GenericClient, id: &FlowId) -> Result<Option<Flow>, StoreError> {
    let row = client
        .query_opt(
            "SELECT record FROM sqrl_flows WHERE id = $1",
            &[&id.0.as_slice()],
        )
        .await
        .map_err(backend)?;
    match row {
        None => Ok(None),
        Some(row) => {
            let bytes: Vec<u8> = row.try_get(0).map_err(backend)?;
            Flow::from_bytes(&bytes)
                .map(Some)
                .ok_or_else(|| StoreError::backend("damaged flow record"))
        }
    }
}

async fn superseded(client: &impl GenericClient, idk: &Bytes32) -> Result<bool, StoreError> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM sqrl_superseded WHERE idk = $1",
            &[&idk.0.as_slice()],
        )
        .await
        .map_err(backend)?
        .is_some())
}

async fn put_flow(
    client: &impl GenericClient,
    flow: &Flow,
    expected: Option<u64>,
) -> Result<(), StoreError> {
    let bytes = flow.to_bytes();
    let flow = flow.record();
    let (id, version, issued) = (
        flow.id.0.as_slice(),
        to_i64(flow.version),
        to_i64(flow.issued_at),
    );
    let changed = match expected {
        None => client
            .execute(
                "INSERT INTO sqrl_flows (id, version, issued_at, record) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &version, &issued, &bytes],
            )
            .await
            .map_err(backend)?,
        Some(expected) => client
            .execute(
                "UPDATE sqrl_flows SET version = $2, issued_at = $3, record = $4 \
                 WHERE id = $1 AND version = $5",
                &[&id, &version, &issued, &bytes, &to_i64(expected)],
            )
            .await
            .map_err(backend)?,
    };
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Checks that every guarded account is still as the decision read it, locking the rows it
/// read until the transaction ends (an absent row that appears meanwhile fails the insert on
/// its unique key instead).
async fn check(client: &impl GenericClient, guards: &[AccountGuard]) -> Result<(), StoreError> {
    for guard in guards {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM sqrl_accounts WHERE idk = $1 FOR UPDATE");
        let account = client
            .query_opt(&sql, &[&guard.idk.0.as_slice()])
            .await
            .map_err(backend)?
            .map(|row| read_account(&row))
            .transpose()?;
        let changed = match guard.superseded {
            Some(expected) => superseded(client, &guard.idk).await? != expected,
            None => false,
        };
        if account != guard.account || changed {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

/// A unique-key violation means another request created the row first: a lost race.
fn conflict_or_backend(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict
    } else {
        backend(e)
    }
}

async fn apply(client: &impl GenericClient, change: &AccountChange) -> Result<(), StoreError> {
    async fn put(client: &impl GenericClient, a: &Account) -> Result<(), StoreError> {
        client
            .execute(
                "INSERT INTO sqrl_accounts (id, idk, suk, vuk, disabled, sqrlonly, hardlock, created_at, ins)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO UPDATE SET idk = EXCLUDED.idk, suk = EXCLUDED.suk,
                   vuk = EXCLUDED.vuk, disabled = EXCLUDED.disabled, sqrlonly = EXCLUDED.sqrlonly,
                   hardlock = EXCLUDED.hardlock, ins = EXCLUDED.ins",
                &[
                    &a.id.0.as_slice(),
                    &a.idk.0.as_slice(),
                    &a.suk.0.as_slice(),
                    &a.vuk.0.as_slice(),
                    &a.disabled,
                    &a.sqrlonly,
                    &a.hardlock,
                    &to_i64(a.created_at),
                    &a.ins.as_ref().map(|i| i.0.as_slice()),
                ],
            )
            .await
            .map(|_| ())
            .map_err(conflict_or_backend)
    }
    match change {
        AccountChange::Keep => Ok(()),
        AccountChange::Put(account) => put(client, account).await,
        AccountChange::Rekey { previous, account } => {
            put(client, account).await?;
            client
                .execute(
                    "INSERT INTO sqrl_superseded (idk, replaced_by) VALUES ($1, $2) \
                     ON CONFLICT (idk) DO UPDATE SET replaced_by = EXCLUDED.replaced_by",
                    &[&previous.0.as_slice(), &account.idk.0.as_slice()],
                )
                .await
                .map(|_| ())
                .map_err(backend)
        }
        AccountChange::Remove(id) => {
            let id = id.0.as_slice();
            client
                .execute("DELETE FROM sqrl_accounts WHERE id = $1", &[&id])
                .await
                .map_err(backend)?;
            client
                .execute("DELETE FROM sqrl_sessions WHERE account = $1", &[&id])
                .await
                .map(|_| ())
                .map_err(backend)
        }
    }
}

async fn create_session(client: &impl GenericClient, s: &Session) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO sqrl_sessions (id_hash, account, created_at, ip, browser) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &s.id_hash.as_slice(),
                &s.account.0.as_slice(),
                &to_i64(s.created_at),
                &s.ip,
                &s.browser,
            ],
        )
        .await
        .map(|_| ())
        .map_err(backend)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`) and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::backend(format!("invalid PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(backend)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS sqrl_migrations (version INTEGER PRIMARY KEY)",
        )
        .await
        .map_err(backend)?;
        let applied: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM sqrl_migrations", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(backend)?;
        for (index, migration) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            tx.batch_execute(migration).await.map_err(backend)?;
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO sqrl_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    /// The number of schema migrations applied.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        self.client()
            .await?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM sqrl_migrations", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(backend)
    }
}

#[async_trait]
impl FlowStore for PostgresStore {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        flow_by_id(&self.client().await?, id).await
    }

    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        put_flow(&self.client().await?, flow, expected).await
    }

    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM sqrl_flows WHERE issued_at < $1",
                &[&to_i64(before)],
            )
            .await
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(backend)
    }
}

/// The accounts of `idk` and `pidk`, and whether `idk` was superseded: the queries are issued
/// together, so they share one round trip on the connection.
async fn accounts(
    client: &impl GenericClient,
    idk: &Bytes32,
    pidk: Option<&Bytes32>,
) -> Result<Accounts, StoreError> {
    let previous = async {
        match pidk {
            Some(pidk) => account_by_idk(client, pidk).await,
            None => Ok(None),
        }
    };
    let (current, previous, superseded) = futures_util::try_join!(
        account_by_idk(client, idk),
        previous,
        superseded(client, idk)
    )?;
    Ok(Accounts {
        current,
        previous,
        superseded,
    })
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        accounts(&self.client().await?, idk, pidk).await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM sqrl_accounts WHERE id = $1");
        self.client()
            .await?
            .query_opt(&sql, &[&id.0.as_slice()])
            .await
            .map_err(backend)?
            .map(|row| read_account(&row))
            .transpose()
    }

    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        check(&tx, guards).await?;
        apply(&tx, change).await?;
        tx.commit().await.map_err(backend)
    }

    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sqrl_site_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &candidate.as_slice()],
            )
            .await
            .map_err(backend)?;
        let key: Zeroizing<Vec<u8>> = Zeroizing::new(
            client
                .query_one("SELECT key FROM sqrl_site_keys WHERE name = $1", &[&name])
                .await
                .and_then(|row| row.try_get(0))
                .map_err(backend)?,
        );
        Ok(Zeroizing::new(array(&key)?))
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        create_session(&self.client().await?, session).await
    }

    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.client()
            .await?
            .query_opt(
                "SELECT id_hash, account, created_at, ip, browser FROM sqrl_sessions WHERE id_hash = $1",
                &[&id_hash.as_slice()],
            )
            .await
            .map_err(backend)?
            .map(|row| read_session(&row))
            .transpose()
    }

    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        self.client()
            .await?
            .query(
                "SELECT id_hash, account, created_at, ip, browser FROM sqrl_sessions \
                 WHERE account = $1 ORDER BY created_at, seq",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(read_session)
            .collect()
    }

    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM sqrl_sessions WHERE id_hash = $1 AND account = $2",
                &[&id_hash.as_slice(), &account.0.as_slice()],
            )
            .await
            .map(|n| n > 0)
            .map_err(backend)
    }

    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT display_name FROM sqrl_accounts WHERE id = $1",
                &[&account.0.as_slice()],
            )
            .await
            .map_err(backend)?
            .map(|row| row.try_get::<_, String>(0))
            .transpose()
            .map_err(backend)?
            .unwrap_or_default())
    }

    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sqrl_accounts SET display_name = $2 WHERE id = $1",
                &[&account.0.as_slice(), &name],
            )
            .await
            .map(|_| ())
            .map_err(backend)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        let client = self.client().await?;
        // Pipelined on one connection: one round trip.
        let (flow, accounts) = futures_util::try_join!(
            flow_by_id(&client, &needs.flow),
            accounts(&client, &needs.idk, needs.pidk.as_ref())
        )?;
        Ok(Snapshot::new(flow, accounts))
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        put_flow(&tx, &commit.flow, commit.expected_version).await?;
        check(&tx, &commit.guards).await?;
        apply(&tx, &commit.account).await?;
        tx.commit().await.map_err(backend)
    }

    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        put_flow(&tx, &redeem.flow, Some(redeem.expected_version)).await?;
        create_session(&tx, &redeem.session).await?;
        tx.commit().await.map_err(backend)
    }
}

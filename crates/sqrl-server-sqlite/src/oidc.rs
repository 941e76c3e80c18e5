//! The OpenID Connect provider's state ([`OidcStore`]) in the same database, and
//! [`SqliteClients`]: client registration from the command line while the site runs.
//!
//! Durability: taking a code (its single use), consents, clients and keys are durable
//! writes; new codes, access tokens and pending requests are written lazily (like new
//! sessions): a crash of the process loses none of them, a power failure in the moment after
//! may lose one, which costs its user a new login, never a wrong one.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqrl_oidc::{
    AccessGrant, Client, CodeGrant, Consent, KeyRecord, OidcStore, Pending, Taken,
    USED_CODE_REMEMBERED,
};
use sqrl_server::StoreError;

use crate::schema;
use crate::sql::{backend, to_i64};
use crate::SqliteStore;

fn to_json(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(StoreError::backend)
}

/// The JSON record of `table` whose `hash` column is `hash`.
fn record_by_hash<T: DeserializeOwned>(
    c: &Connection,
    table: &str,
    hash: &[u8; 32],
) -> Result<Option<T>, StoreError> {
    let record: Option<String> = c
        .prepare_cached(&format!("SELECT record FROM {table} WHERE hash = ?1"))
        .and_then(|mut s| s.query_row([hash.to_vec()], |r| r.get(0)).optional())
        .map_err(backend)?;
    record.as_deref().map(from_json).transpose()
}

fn client_by_id(c: &Connection, id: &str) -> Result<Option<Client>, StoreError> {
    let record: Option<String> = c
        .query_row("SELECT record FROM oidc_clients WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?;
    record.as_deref().map(from_json).transpose()
}

fn all_clients(c: &Connection) -> Result<Vec<Client>, StoreError> {
    let mut statement = c
        .prepare("SELECT record FROM oidc_clients")
        .map_err(backend)?;
    let records = statement
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect::<rusqlite::Result<Vec<String>>>)
        .map_err(backend)?;
    let mut clients = records
        .iter()
        .map(|r| from_json::<Client>(r))
        .collect::<Result<Vec<_>, _>>()?;
    clients.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(clients)
}

fn insert_client(c: &Connection, client: &Client) -> Result<(), StoreError> {
    c.execute(
        "INSERT OR REPLACE INTO oidc_clients (id, record) VALUES (?1, ?2)",
        params![client.id, to_json(client)?],
    )
    .map(drop)
    .map_err(backend)
}

fn delete_client(c: &Connection, id: &str) -> Result<bool, StoreError> {
    let removed = c
        .execute("DELETE FROM oidc_clients WHERE id = ?1", [id])
        .map_err(backend)?;
    for table in ["oidc_codes", "oidc_tokens", "oidc_consents"] {
        c.execute(&format!("DELETE FROM {table} WHERE client_id = ?1"), [id])
            .map_err(backend)?;
    }
    Ok(removed > 0)
}

fn keys(c: &Connection) -> Result<Vec<KeyRecord>, StoreError> {
    let mut statement = c
        .prepare("SELECT record FROM oidc_keys ORDER BY kid")
        .map_err(backend)?;
    let records = statement
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect::<rusqlite::Result<Vec<String>>>)
        .map_err(backend)?;
    records.iter().map(|r| from_json(r)).collect()
}

fn sorted(keys: &[KeyRecord]) -> Vec<KeyRecord> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    keys
}

#[async_trait]
impl OidcStore for SqliteStore {
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let id = id.to_owned();
        self.db.read(move |c| client_by_id(c, &id)).await
    }
    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.db.read(all_clients).await
    }
    async fn put_client(&self, client: &Client) -> Result<(), StoreError> {
        let client = client.clone();
        self.db.write(move |c| insert_client(c, &client)).await
    }
    async fn remove_client(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.db.write(move |c| delete_client(c, &id)).await
    }
    async fn put_pending(&self, hash: &[u8; 32], pending: &Pending) -> Result<(), StoreError> {
        let (hash, record, expires) = (*hash, to_json(pending)?, to_i64(pending.expires_at));
        self.db
            .write_lazy(move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO oidc_pending (hash, record, expires_at)
                     VALUES (?1, ?2, ?3)",
                    params![hash.to_vec(), record, expires],
                )
                .map(drop)
                .map_err(backend)
            })
            .await
    }
    async fn pending(&self, hash: &[u8; 32]) -> Result<Option<Pending>, StoreError> {
        let hash = *hash;
        self.db
            .read(move |c| record_by_hash(c, "oidc_pending", &hash))
            .await
    }
    async fn delete_pending(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let hash = *hash;
        self.db
            .write_lazy(move |c| {
                c.execute("DELETE FROM oidc_pending WHERE hash = ?1", [hash.to_vec()])
                    .map(drop)
                    .map_err(backend)
            })
            .await
    }
    async fn put_code(&self, hash: &[u8; 32], grant: &CodeGrant) -> Result<(), StoreError> {
        let (hash, record) = (*hash, to_json(grant)?);
        let client = grant.client_id.clone();
        let forget = to_i64(grant.expires_at.saturating_add(USED_CODE_REMEMBERED));
        // A refresh token keeps its chain's code row, which remembers a revocation, as long
        // as itself.
        let chain = grant
            .refresh
            .then(|| sqrl_oidc::unhex(&grant.grant))
            .flatten();
        self.db
            .write_lazy(move |c| {
                c.execute(
                    "INSERT INTO oidc_codes (hash, client_id, record, used, forget_at)
                     VALUES (?1, ?2, ?3, 0, ?4)",
                    params![hash.to_vec(), client, record, forget],
                )
                .map_err(backend)?;
                if let Some(chain) = chain {
                    c.execute(
                        "UPDATE oidc_codes SET forget_at = max(forget_at, ?2) WHERE hash = ?1",
                        params![chain.to_vec(), forget],
                    )
                    .map_err(backend)?;
                }
                Ok(())
            })
            .await
    }
    async fn take_code(&self, hash: &[u8; 32]) -> Result<Taken, StoreError> {
        let hash = *hash;
        // On the one writer: the read and the mark are one step, so of two redemptions
        // exactly one sees the code fresh.
        self.db
            .write(move |c| {
                let found: Option<(String, bool)> = c
                    .query_row(
                        "SELECT record, used FROM oidc_codes WHERE hash = ?1",
                        [hash.to_vec()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(backend)?;
                let Some((record, used)) = found else {
                    return Ok(Taken::Missing);
                };
                let grant: CodeGrant = from_json(&record)?;
                if used {
                    return Ok(Taken::Replayed(grant));
                }
                c.execute(
                    "UPDATE oidc_codes SET used = 1 WHERE hash = ?1",
                    [hash.to_vec()],
                )
                .map_err(backend)?;
                Ok(Taken::Fresh(grant))
            })
            .await
    }
    async fn put_access(&self, hash: &[u8; 32], access: &AccessGrant) -> Result<(), StoreError> {
        let (hash, record, a) = (*hash, to_json(access)?, access.clone());
        self.db
            .write_lazy(move |c| {
                c.execute(
                    "INSERT INTO oidc_tokens (hash, grant_id, client_id, user, record, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        hash.to_vec(),
                        a.grant,
                        a.client_id,
                        a.user,
                        record,
                        to_i64(a.expires_at)
                    ],
                )
                .map(drop)
                .map_err(backend)
            })
            .await
    }
    async fn access(&self, hash: &[u8; 32]) -> Result<Option<AccessGrant>, StoreError> {
        let hash = *hash;
        self.db
            .read(move |c| record_by_hash(c, "oidc_tokens", &hash))
            .await
    }
    async fn revoke_grant(&self, grant: &str) -> Result<(), StoreError> {
        let grant = grant.to_owned();
        self.db
            .write(move |c| {
                if let Some(hash) = sqrl_oidc::unhex(&grant) {
                    c.execute(
                        "UPDATE oidc_codes SET revoked = 1 WHERE hash = ?1",
                        [hash.to_vec()],
                    )
                    .map_err(backend)?;
                }
                c.execute("DELETE FROM oidc_tokens WHERE grant_id = ?1", [grant])
                    .map(drop)
                    .map_err(backend)
            })
            .await
    }
    async fn grant_revoked(&self, grant: &str) -> Result<bool, StoreError> {
        let Some(hash) = sqrl_oidc::unhex(grant) else {
            return Ok(false);
        };
        // A reader sees every revocation committed before it began; one that commits later
        // deletes the token this check follows (it was committed first, on the one writer).
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT revoked FROM oidc_codes WHERE hash = ?1",
                    [hash.to_vec()],
                    |r| r.get::<_, bool>(0),
                )
                .optional()
                .map(|r| r.unwrap_or(false))
                .map_err(backend)
            })
            .await
    }
    async fn signing_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.db.read(keys).await
    }
    async fn replace_signing_keys(
        &self,
        expected: &[KeyRecord],
        new: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let (expected, new) = (sorted(expected), new.to_vec());
        self.db
            .write(move |c| {
                if keys(c)? != expected {
                    return Err(StoreError::Conflict);
                }
                c.execute("DELETE FROM oidc_keys", []).map_err(backend)?;
                for key in &new {
                    c.execute(
                        "INSERT INTO oidc_keys (kid, record) VALUES (?1, ?2)",
                        params![key.kid, to_json(key)?],
                    )
                    .map_err(backend)?;
                }
                Ok(())
            })
            .await
    }
    async fn consents(&self, user: &str) -> Result<Vec<Consent>, StoreError> {
        let user = user.to_owned();
        self.db
            .read(move |c| {
                let mut statement = c
                    .prepare(
                        "SELECT client_id, granted_at FROM oidc_consents WHERE user = ?1
                         ORDER BY granted_at",
                    )
                    .map_err(backend)?;
                statement
                    .query_map([user], |r| {
                        Ok(Consent {
                            client_id: r.get(0)?,
                            granted_at: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        })
                    })
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<Consent>>>)
                    .map_err(backend)
            })
            .await
    }
    async fn put_consent(&self, user: &str, consent: &Consent) -> Result<(), StoreError> {
        let (user, consent) = (user.to_owned(), consent.clone());
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT OR REPLACE INTO oidc_consents (user, client_id, granted_at)
                     VALUES (?1, ?2, ?3)",
                    params![user, consent.client_id, to_i64(consent.granted_at)],
                )
                .map(drop)
                .map_err(backend)
            })
            .await
    }
    async fn revoke_consent(&self, user: &str, client_id: &str) -> Result<(), StoreError> {
        let (user, client) = (user.to_owned(), client_id.to_owned());
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM oidc_consents WHERE user = ?1 AND client_id = ?2",
                    params![user, client],
                )
                .map_err(backend)?;
                // Its refresh chains end for good (a consent given again later revives none).
                c.execute(
                    "UPDATE oidc_codes SET revoked = 1
                     WHERE client_id = ?2 AND json_extract(record, '$.user') = ?1",
                    params![user, client],
                )
                .map_err(backend)?;
                c.execute(
                    "DELETE FROM oidc_tokens WHERE user = ?1 AND client_id = ?2",
                    params![user, client],
                )
                .map(drop)
                .map_err(backend)
            })
            .await
    }
    async fn purge_oidc(&self, now: u64) -> Result<usize, StoreError> {
        let now = to_i64(now);
        self.db
            .write(move |c| {
                let mut n = 0usize;
                for (table, column) in [
                    ("oidc_pending", "expires_at"),
                    ("oidc_codes", "forget_at"),
                    ("oidc_tokens", "expires_at"),
                ] {
                    n = n.saturating_add(
                        c.execute(&format!("DELETE FROM {table} WHERE {column} <= ?1"), [now])
                            .map_err(backend)?,
                    );
                }
                Ok(n)
            })
            .await
    }
}

/// The registered clients of a site's database, for the `client` commands: it opens the file
/// without claiming it, so it works while the site runs (the site reads clients from the
/// database on every request; it keeps no copy).
#[derive(Debug)]
pub struct SqliteClients {
    connection: Connection,
}

impl SqliteClients {
    /// Opens the database (creating it and its schema if needed).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path).map_err(backend)?;
        schema::init(&mut connection)?;
        Ok(Self { connection })
    }

    /// Every client, by name.
    pub fn list(&self) -> Result<Vec<Client>, StoreError> {
        all_clients(&self.connection)
    }

    /// Adds a client.
    pub fn add(&mut self, client: &Client) -> Result<(), StoreError> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        insert_client(&tx, client)?;
        tx.commit().map_err(backend)
    }

    /// Makes a new signing key for `alg` (the old one stays published until its tokens
    /// expire); the new key's id.
    pub fn rotate_key(&mut self, alg: sqrl_oidc::Alg, now: u64) -> Result<String, StoreError> {
        let fresh = sqrl_oidc::SigningKey::generate(alg, now).map_err(StoreError::backend)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let next = sqrl_oidc::rotate(keys(&tx)?, &fresh, now);
        tx.execute("DELETE FROM oidc_keys", []).map_err(backend)?;
        for key in &next {
            tx.execute(
                "INSERT INTO oidc_keys (kid, record) VALUES (?1, ?2)",
                params![key.kid, to_json(key)?],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(fresh.record().kid.clone())
    }

    /// Removes a client with its codes, tokens and consents; whether it existed.
    pub fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let existed = delete_client(&tx, id)?;
        tx.commit().map_err(backend)?;
        Ok(existed)
    }
}

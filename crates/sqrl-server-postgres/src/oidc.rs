//! The OpenID Connect provider's state ([`OidcStore`]) in the same database, so every
//! instance sees the same clients, codes, tokens, keys and consents. Taking a code is one
//! conditional `UPDATE` (of two instances redeeming it, exactly one sees it fresh); replacing
//! the signing keys holds a transaction-scoped advisory lock.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqrl_oidc::{
    AccessGrant, Client, CodeGrant, Consent, KeyRecord, OidcStore, Pending, Taken,
    USED_CODE_REMEMBERED,
};
use sqrl_server::StoreError;

use crate::{backend, to_i64, to_u64, PostgresStore};

/// An arbitrary constant naming the signing keys' lock.
const KEYS_LOCK: i64 = 0x5351_524c_0002;

fn to_json(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(backend)
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(backend)
}

async fn one_record<T: DeserializeOwned>(
    client: &impl GenericClient,
    sql: &str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<T>, StoreError> {
    let row = client.query_opt(sql, &[key]).await.map_err(backend)?;
    match row {
        Some(row) => Ok(Some(from_json(
            &row.try_get::<_, String>(0).map_err(backend)?,
        )?)),
        None => Ok(None),
    }
}

async fn keys(client: &impl GenericClient) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = client
        .query("SELECT record FROM sqrl_oidc_keys ORDER BY kid", &[])
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| from_json(&r.try_get::<_, String>(0).map_err(backend)?))
        .collect()
}

#[async_trait]
impl OidcStore for PostgresStore {
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let sql = "SELECT record FROM sqrl_oidc_clients WHERE id = $1";
        one_record(&self.client().await?, sql, &id).await
    }
    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = self
            .client()
            .await?
            .query("SELECT record FROM sqrl_oidc_clients", &[])
            .await
            .map_err(backend)?;
        let mut clients = rows
            .iter()
            .map(|r| from_json::<Client>(&r.try_get::<_, String>(0).map_err(backend)?))
            .collect::<Result<Vec<_>, _>>()?;
        clients.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(clients)
    }
    async fn put_client(&self, client: &Client) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sqrl_oidc_clients (id, record) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                &[&client.id, &to_json(client)?],
            )
            .await
            .map(drop)
            .map_err(backend)
    }
    async fn remove_client(&self, id: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let removed = tx
            .execute("DELETE FROM sqrl_oidc_clients WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        for table in ["sqrl_oidc_codes", "sqrl_oidc_tokens", "sqrl_oidc_consents"] {
            tx.execute(&format!("DELETE FROM {table} WHERE client_id = $1"), &[&id])
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(removed > 0)
    }
    async fn put_pending(&self, hash: &[u8; 32], pending: &Pending) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sqrl_oidc_pending (hash, record, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (hash) DO UPDATE SET record = EXCLUDED.record,
                     expires_at = EXCLUDED.expires_at",
                &[
                    &hash.as_slice(),
                    &to_json(pending)?,
                    &to_i64(pending.expires_at),
                ],
            )
            .await
            .map(drop)
            .map_err(backend)
    }
    async fn pending(&self, hash: &[u8; 32]) -> Result<Option<Pending>, StoreError> {
        let sql = "SELECT record FROM sqrl_oidc_pending WHERE hash = $1";
        one_record(&self.client().await?, sql, &hash.as_slice()).await
    }
    async fn delete_pending(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM sqrl_oidc_pending WHERE hash = $1",
                &[&hash.as_slice()],
            )
            .await
            .map(drop)
            .map_err(backend)
    }
    async fn put_code(&self, hash: &[u8; 32], grant: &CodeGrant) -> Result<(), StoreError> {
        let forget = to_i64(grant.expires_at.saturating_add(USED_CODE_REMEMBERED));
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sqrl_oidc_codes (hash, client_id, record, used, forget_at)
                 VALUES ($1, $2, $3, FALSE, $4)",
                &[
                    &hash.as_slice(),
                    &grant.client_id,
                    &to_json(grant)?,
                    &forget,
                ],
            )
            .await
            .map_err(backend)?;
        // A refresh token keeps its chain's code row, which remembers a revocation, as long
        // as itself.
        if let Some(chain) = grant
            .refresh
            .then(|| sqrl_oidc::unhex(&grant.grant))
            .flatten()
        {
            client
                .execute(
                    "UPDATE sqrl_oidc_codes SET forget_at = GREATEST(forget_at, $2)
                     WHERE hash = $1",
                    &[&chain.as_slice(), &forget],
                )
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
    async fn take_code(&self, hash: &[u8; 32]) -> Result<Taken, StoreError> {
        let client = self.client().await?;
        let key = hash.as_slice();
        let fresh = "UPDATE sqrl_oidc_codes SET used = TRUE WHERE hash = $1 AND NOT used
                     RETURNING record";
        if let Some(grant) = one_record::<CodeGrant>(&client, fresh, &key).await? {
            return Ok(Taken::Fresh(grant));
        }
        let any = "SELECT record FROM sqrl_oidc_codes WHERE hash = $1";
        Ok(match one_record::<CodeGrant>(&client, any, &key).await? {
            Some(grant) => Taken::Replayed(grant),
            None => Taken::Missing,
        })
    }
    async fn put_access(&self, hash: &[u8; 32], access: &AccessGrant) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sqrl_oidc_tokens
                     (hash, grant_id, client_id, user_id, record, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &hash.as_slice(),
                    &access.grant,
                    &access.client_id,
                    &access.user,
                    &to_json(access)?,
                    &to_i64(access.expires_at),
                ],
            )
            .await
            .map(drop)
            .map_err(backend)
    }
    async fn access(&self, hash: &[u8; 32]) -> Result<Option<AccessGrant>, StoreError> {
        let sql = "SELECT record FROM sqrl_oidc_tokens WHERE hash = $1";
        one_record(&self.client().await?, sql, &hash.as_slice()).await
    }
    async fn revoke_grant(&self, grant: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        if let Some(hash) = sqrl_oidc::unhex(grant) {
            tx.execute(
                "UPDATE sqrl_oidc_codes SET revoked = TRUE WHERE hash = $1",
                &[&hash.as_slice()],
            )
            .await
            .map_err(backend)?;
        }
        tx.execute(
            "DELETE FROM sqrl_oidc_tokens WHERE grant_id = $1",
            &[&grant],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
    async fn grant_revoked(&self, grant: &str) -> Result<bool, StoreError> {
        let Some(hash) = sqrl_oidc::unhex(grant) else {
            return Ok(false);
        };
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT revoked FROM sqrl_oidc_codes WHERE hash = $1",
                &[&hash.as_slice()],
            )
            .await
            .map_err(backend)?;
        match row {
            Some(row) => row.try_get(0).map_err(backend),
            None => Ok(false),
        }
    }
    async fn signing_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        keys(&self.client().await?).await
    }
    async fn replace_signing_keys(
        &self,
        expected: &[KeyRecord],
        new: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut expected = expected.to_vec();
        expected.sort_by(|a, b| a.kid.cmp(&b.kid));
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEYS_LOCK])
            .await
            .map_err(backend)?;
        if keys(&tx).await? != expected {
            return Err(StoreError::Conflict);
        }
        tx.execute("DELETE FROM sqrl_oidc_keys", &[])
            .await
            .map_err(backend)?;
        for key in new {
            tx.execute(
                "INSERT INTO sqrl_oidc_keys (kid, record) VALUES ($1, $2)",
                &[&key.kid, &to_json(key)?],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
    async fn consents(&self, user: &str) -> Result<Vec<Consent>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT client_id, granted_at FROM sqrl_oidc_consents WHERE user_id = $1
                 ORDER BY granted_at",
                &[&user],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(Consent {
                    client_id: r.try_get(0).map_err(backend)?,
                    granted_at: to_u64(r.try_get(1).map_err(backend)?),
                })
            })
            .collect()
    }
    async fn put_consent(&self, user: &str, consent: &Consent) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sqrl_oidc_consents (user_id, client_id, granted_at)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, client_id) DO UPDATE SET granted_at = EXCLUDED.granted_at",
                &[&user, &consent.client_id, &to_i64(consent.granted_at)],
            )
            .await
            .map(drop)
            .map_err(backend)
    }
    async fn revoke_consent(&self, user: &str, client_id: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        for table in ["sqrl_oidc_consents", "sqrl_oidc_tokens"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE user_id = $1 AND client_id = $2"),
                &[&user, &client_id],
            )
            .await
            .map_err(backend)?;
        }
        // Its refresh chains end for good (a consent given again later revives none).
        tx.execute(
            "UPDATE sqrl_oidc_codes SET revoked = TRUE
             WHERE client_id = $2 AND (record::jsonb ->> 'user') = $1",
            &[&user, &client_id],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
    async fn purge_oidc(&self, now: u64) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let now = to_i64(now);
        let mut n = 0u64;
        for (table, column) in [
            ("sqrl_oidc_pending", "expires_at"),
            ("sqrl_oidc_codes", "forget_at"),
            ("sqrl_oidc_tokens", "expires_at"),
        ] {
            n = n.saturating_add(
                client
                    .execute(
                        &format!("DELETE FROM {table} WHERE {column} <= $1"),
                        &[&now],
                    )
                    .await
                    .map_err(backend)?,
            );
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

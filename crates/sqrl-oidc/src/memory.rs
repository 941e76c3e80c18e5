//! An [`OidcStore`] in memory, for tests and a single process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use sqrl_server::StoreError;

use crate::client::Client;
use crate::grant::{AccessGrant, CodeGrant, Taken, USED_CODE_REMEMBERED};
use crate::keys::KeyRecord;
use crate::store::{Consent, OidcStore, Pending};

#[derive(Debug, Default)]
struct State {
    clients: HashMap<String, Client>,
    pending: HashMap<[u8; 32], Pending>,
    codes: HashMap<[u8; 32], (CodeGrant, bool)>,
    access: HashMap<[u8; 32], AccessGrant>,
    keys: Vec<KeyRecord>,
    consents: HashMap<String, Vec<Consent>>,
    revoked: std::collections::HashSet<String>,
}

/// The provider's state in memory.
#[derive(Debug, Default)]
pub struct MemoryOidcStore {
    state: Mutex<State>,
}

impl MemoryOidcStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::backend("memory store poisoned"))
    }
}

#[async_trait]
impl OidcStore for MemoryOidcStore {
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        Ok(self.lock()?.clients.get(id).cloned())
    }
    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut all: Vec<Client> = self.lock()?.clients.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(all)
    }
    async fn put_client(&self, client: &Client) -> Result<(), StoreError> {
        self.lock()?
            .clients
            .insert(client.id.clone(), client.clone());
        Ok(())
    }
    async fn remove_client(&self, id: &str) -> Result<bool, StoreError> {
        let mut s = self.lock()?;
        let existed = s.clients.remove(id).is_some();
        s.codes.retain(|_, (g, _)| g.client_id != id);
        s.access.retain(|_, a| a.client_id != id);
        s.pending.retain(|_, p| p.request.client_id != id);
        for list in s.consents.values_mut() {
            list.retain(|c| c.client_id != id);
        }
        Ok(existed)
    }
    async fn put_pending(&self, hash: &[u8; 32], pending: &Pending) -> Result<(), StoreError> {
        self.lock()?.pending.insert(*hash, pending.clone());
        Ok(())
    }
    async fn pending(&self, hash: &[u8; 32]) -> Result<Option<Pending>, StoreError> {
        Ok(self.lock()?.pending.get(hash).cloned())
    }
    async fn delete_pending(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.lock()?.pending.remove(hash);
        Ok(())
    }
    async fn put_code(&self, hash: &[u8; 32], grant: &CodeGrant) -> Result<(), StoreError> {
        self.lock()?.codes.insert(*hash, (grant.clone(), false));
        Ok(())
    }
    async fn take_code(&self, hash: &[u8; 32]) -> Result<Taken, StoreError> {
        let mut s = self.lock()?;
        Ok(match s.codes.get_mut(hash) {
            None => Taken::Missing,
            Some((grant, used)) if *used => Taken::Replayed(grant.clone()),
            Some((grant, used)) => {
                *used = true;
                Taken::Fresh(grant.clone())
            }
        })
    }
    async fn put_access(&self, hash: &[u8; 32], access: &AccessGrant) -> Result<(), StoreError> {
        self.lock()?.access.insert(*hash, access.clone());
        Ok(())
    }
    async fn access(&self, hash: &[u8; 32]) -> Result<Option<AccessGrant>, StoreError> {
        Ok(self.lock()?.access.get(hash).cloned())
    }
    async fn revoke_grant(&self, grant: &str) -> Result<(), StoreError> {
        let mut s = self.lock()?;
        s.access.retain(|_, a| a.grant != grant);
        s.revoked.insert(grant.to_owned());
        Ok(())
    }
    async fn grant_revoked(&self, grant: &str) -> Result<bool, StoreError> {
        Ok(self.lock()?.revoked.contains(grant))
    }
    async fn signing_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        Ok(self.lock()?.keys.clone())
    }
    async fn replace_signing_keys(
        &self,
        expected: &[KeyRecord],
        keys: &[KeyRecord],
    ) -> Result<(), StoreError> {
        let mut s = self.lock()?;
        if s.keys != expected {
            return Err(StoreError::Conflict);
        }
        s.keys = keys.to_vec();
        Ok(())
    }
    async fn consents(&self, user: &str) -> Result<Vec<Consent>, StoreError> {
        Ok(self.lock()?.consents.get(user).cloned().unwrap_or_default())
    }
    async fn put_consent(&self, user: &str, consent: &Consent) -> Result<(), StoreError> {
        let mut s = self.lock()?;
        let list = s.consents.entry(user.to_owned()).or_default();
        list.retain(|c| c.client_id != consent.client_id);
        list.push(consent.clone());
        Ok(())
    }
    async fn revoke_consent(&self, user: &str, client_id: &str) -> Result<(), StoreError> {
        let mut s = self.lock()?;
        if let Some(list) = s.consents.get_mut(user) {
            list.retain(|c| c.client_id != client_id);
        }
        s.access
            .retain(|_, a| !(a.user == user && a.client_id == client_id));
        // Its refresh chains end for good (a consent given again later revives none).
        let chains: Vec<String> = s
            .codes
            .values()
            .filter(|(g, _)| g.user == user && g.client_id == client_id)
            .map(|(g, _)| g.grant.clone())
            .collect();
        s.revoked.extend(chains);
        Ok(())
    }
    async fn purge_oidc(&self, now: u64) -> Result<usize, StoreError> {
        let mut s = self.lock()?;
        let before = s.pending.len() + s.codes.len() + s.access.len();
        s.pending.retain(|_, p| now < p.expires_at);
        s.codes
            .retain(|_, (g, _)| now < g.expires_at.saturating_add(USED_CODE_REMEMBERED));
        let codes: std::collections::HashSet<String> =
            s.codes.values().map(|(g, _)| g.grant.clone()).collect();
        s.revoked.retain(|g| codes.contains(g));
        s.access.retain(|_, a| now < a.expires_at);
        let after = s.pending.len() + s.codes.len() + s.access.len();
        Ok(before.saturating_sub(after))
    }
}

//! The OpenID Connect provider: SQRL as the login of any application that speaks OpenID
//! Connect. The decisions are `sqrl-oidc`'s; this module loads, asks and commits.
//!
//! | route | what |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | discovery |
//! | `GET /oidc/jwks` | the signing keys |
//! | `GET`/`POST /oidc/authorize` | the authorization endpoint (login page, consent, code) |
//! | `GET /oidc/continue?req=…` | where the login page returns after the SQRL login |
//! | `POST /oidc/consent` | the consent page's answer |
//! | `POST /oidc/token` | the token endpoint |
//! | `GET`/`POST /oidc/userinfo` | UserInfo |
//! | `GET`/`POST /oidc/logout` | RP-initiated logout |
//! | `GET /oidc/apps`, `POST /oidc/apps/revoke` | the applications a user consented to |

pub(crate) mod pages;
mod routes;

use std::sync::{Arc, RwLock};

use rand_core::{OsRng, RngCore};
use sqrl_oidc::{KeyError, KeyRing, OidcStore, SigningKey};
use sqrl_server::StoreError;

use crate::SqrlHttp;

/// The path of the page after the SQRL login (the login page's way back).
pub(crate) const CONTINUE_PATH: &str = "/oidc/continue";
/// Where the login page's widget gets its codes: codes that name the application.
pub(crate) const NEW_CODE_PATH: &str = "/oidc/new";
/// The consent form's target.
pub(crate) const CONSENT_PATH: &str = "/oidc/consent";
/// The applications page.
pub(crate) const APPS_PATH: &str = "/oidc/apps";
/// The applications page's revoke form.
pub(crate) const REVOKE_PATH: &str = "/oidc/apps/revoke";

/// Why the provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    /// The store failed.
    #[error("the provider's store: {0}")]
    Store(#[from] StoreError),
    /// A stored key is unusable, or a new one could not be made.
    #[error("the provider's signing keys: {0}")]
    Keys(#[from] KeyError),
}

struct Inner {
    http: SqrlHttp,
    store: Arc<dyn OidcStore>,
    issuer: String,
    pairwise_key: zeroize::Zeroizing<[u8; 32]>,
    keys: RwLock<Arc<KeyRing>>,
}

/// The OpenID Connect provider over a [`SqrlHttp`] layer: cheap to clone.
#[derive(Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// The provider of the SQRL layer `http`, its state in `store`. The issuer is the site's
    /// origin. A signing key is made for each algorithm that has none; the pairwise-subject
    /// key is the site key named `oidc-pairwise` (made once, shared by every instance).
    pub async fn new(http: SqrlHttp, store: Arc<dyn OidcStore>) -> Result<Self, OidcSetupError> {
        let mut candidate = zeroize::Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(candidate.as_mut());
        let pairwise_key = http.store().site_key("oidc-pairwise", &candidate).await?;
        let issuer = http.sqrl().server().config().origin.clone();
        let keys = ensure_keys(store.as_ref(), http.now().as_secs()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                store,
                issuer,
                pairwise_key,
                keys: RwLock::new(Arc::new(keys)),
            }),
        })
    }

    /// The issuer (`iss`): the site's origin.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The provider's store.
    pub fn store(&self) -> &Arc<dyn OidcStore> {
        &self.inner.store
    }

    pub(crate) fn http(&self) -> &SqrlHttp {
        &self.inner.http
    }

    pub(crate) fn pairwise_key(&self) -> &[u8; 32] {
        &self.inner.pairwise_key
    }

    /// The keys in use.
    pub(crate) fn keys(&self) -> Arc<KeyRing> {
        match self.inner.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the signing keys (a rotation by another process is picked up).
    pub async fn reload_keys(&self) -> Result<(), OidcSetupError> {
        let keys = ensure_keys(self.inner.store.as_ref(), self.inner.http.now().as_secs()).await?;
        match self.inner.keys.write() {
            Ok(mut slot) => *slot = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        Ok(())
    }

    /// Forgets expired codes, tokens and pending requests, and re-reads the keys: run it about
    /// every minute (see [`OidcProvider::spawn_housekeeping`]).
    pub async fn housekeeping_once(&self) -> Result<(), OidcSetupError> {
        self.inner
            .store
            .purge_oidc(self.inner.http.now().as_secs())
            .await?;
        self.reload_keys().await
    }

    /// Runs [`OidcProvider::housekeeping_once`] every 30 seconds on the current tokio runtime.
    pub fn spawn_housekeeping(
        &self,
    ) -> Result<tokio::task::JoinHandle<()>, tokio::runtime::TryCurrentError> {
        let runtime = tokio::runtime::Handle::try_current()?;
        let provider = self.clone();
        Ok(runtime.spawn(async move {
            loop {
                tokio::time::sleep(crate::HOUSEKEEPING_EVERY).await;
                if let Err(e) = provider.housekeeping_once().await {
                    tracing::warn!(error = %e, "OIDC housekeeping failed");
                }
            }
        }))
    }
}

/// The stored keys, with a new one for each algorithm that has none (written with a
/// compare-and-swap, so that instances starting together agree on one key each).
async fn ensure_keys(store: &dyn OidcStore, now: u64) -> Result<KeyRing, OidcSetupError> {
    for _ in 0..5 {
        let records = store.signing_keys().await?;
        let ring = KeyRing::from_records(records.clone())?;
        let missing = ring.missing();
        if missing.is_empty() {
            return Ok(ring);
        }
        let mut next = records.clone();
        for alg in missing {
            next.push(SigningKey::generate(alg, now)?.record().clone());
        }
        match store.replace_signing_keys(&records, &next).await {
            Ok(()) => return Ok(KeyRing::from_records(next)?),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// Rotates the signing key of `alg`: a new key signs from now on; the old one stays in the
/// JWKS until the tokens it signed have expired. Running instances pick the new key up at
/// their next housekeeping (within a minute).
pub async fn rotate_key(
    store: &dyn OidcStore,
    alg: sqrl_oidc::Alg,
    now: u64,
) -> Result<String, OidcSetupError> {
    for _ in 0..5 {
        let records = store.signing_keys().await?;
        let fresh = SigningKey::generate(alg, now)?;
        let next = sqrl_oidc::rotate(records.clone(), &fresh, now);
        match store.replace_signing_keys(&records, &next).await {
            Ok(()) => return Ok(fresh.record().kid.clone()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

//! What the provider keeps, behind one async trait, so SQLite serves one instance and
//! PostgreSQL several. Codes, tokens and pending requests are stored by the SHA-256 of their
//! secret text, never the text.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqrl_server::StoreError;

use crate::authorize::AuthRequest;
use crate::client::Client;
use crate::grant::{AccessGrant, CodeGrant, Taken};
use crate::keys::KeyRecord;

/// How long a user has to log in and consent after the application sent them (seconds).
pub const PENDING_LIFETIME: u64 = 600;

/// [`Pending::login_shown_at`] of a request whose login page was not shown.
pub const NOT_SHOWN: u64 = u64::MAX;

/// An authorization request waiting for the user's login or consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The validated request.
    pub request: AuthRequest,
    /// When its login page was first shown ([`NOT_SHOWN`] until then): a login at or after it
    /// was made for this request (it satisfies `prompt=login` and `max_age`, and outweighs an
    /// `id_token_hint` naming someone else). Not the request's arrival: a session made in the
    /// same second as a `prompt=none` request was not made for it.
    #[serde(alias = "started_at")]
    pub login_shown_at: u64,
    /// The browser's session that agreed on the consent page, by its id hash (hex).
    pub consented_by: Option<String>,
    /// When it stops working.
    pub expires_at: u64,
}

/// A user's consent to an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The client.
    pub client_id: String,
    /// When the user agreed (Unix seconds).
    pub granted_at: u64,
}

/// The provider's state.
#[async_trait]
pub trait OidcStore: Send + Sync + 'static {
    /// A registered client.
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError>;
    /// Every client, by name.
    async fn clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Registers (or replaces) a client.
    async fn put_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Removes a client with its codes, tokens and consents; whether it existed.
    async fn remove_client(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores a pending request.
    async fn put_pending(&self, hash: &[u8; 32], pending: &Pending) -> Result<(), StoreError>;
    /// A pending request.
    async fn pending(&self, hash: &[u8; 32]) -> Result<Option<Pending>, StoreError>;
    /// Forgets a pending request (it was answered).
    async fn delete_pending(&self, hash: &[u8; 32]) -> Result<(), StoreError>;

    /// Stores a new code, or a refresh token ([`CodeGrant::refresh`]). A refresh token keeps
    /// what [`OidcStore::grant_revoked`] says of its chain (its `grant`) for as long as itself.
    async fn put_code(&self, hash: &[u8; 32], grant: &CodeGrant) -> Result<(), StoreError>;
    /// Takes a code: atomically marks it used and says whether it was fresh. Of two
    /// concurrent redemptions exactly one sees it fresh.
    async fn take_code(&self, hash: &[u8; 32]) -> Result<Taken, StoreError>;

    /// Stores an access token.
    async fn put_access(&self, hash: &[u8; 32], access: &AccessGrant) -> Result<(), StoreError>;
    /// An access token.
    async fn access(&self, hash: &[u8; 32]) -> Result<Option<AccessGrant>, StoreError>;
    /// Revokes every token a code grant issued (a replayed code), and marks the grant revoked
    /// so that a token stored after this call is caught by [`OidcStore::grant_revoked`].
    async fn revoke_grant(&self, grant: &str) -> Result<(), StoreError>;
    /// Whether [`OidcStore::revoke_grant`] was called for this grant. The token endpoint
    /// asks after storing a token: a replay that raced its redemption then revokes it too.
    async fn grant_revoked(&self, grant: &str) -> Result<bool, StoreError>;

    /// The signing keys.
    async fn signing_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Replaces the signing keys with `keys` if they are still `expected` (by kid and
    /// retirement), else [`StoreError::Conflict`]: two instances rotating at once do not
    /// lose a key.
    async fn replace_signing_keys(
        &self,
        expected: &[KeyRecord],
        keys: &[KeyRecord],
    ) -> Result<(), StoreError>;

    /// The user's consents.
    async fn consents(&self, user: &str) -> Result<Vec<Consent>, StoreError>;
    /// Records a consent.
    async fn put_consent(&self, user: &str, consent: &Consent) -> Result<(), StoreError>;
    /// Revokes a consent and the tokens the user's logins gave that client, and marks
    /// their chains revoked ([`OidcStore::grant_revoked`]): refresh tokens stop for good.
    async fn revoke_consent(&self, user: &str, client_id: &str) -> Result<(), StoreError>;

    /// Forgets expired pending requests, codes and tokens; how many records.
    async fn purge_oidc(&self, now: u64) -> Result<usize, StoreError>;
}

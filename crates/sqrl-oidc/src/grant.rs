//! Authorization codes and access tokens: what they are bound to, and how they are minted.
//! Both are random 256-bit strings given once; the store keeps only their SHA-256.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authorize::AuthRequest;
use crate::b64url;

/// How long a code can be redeemed (seconds). Short: the relying party redeems it at once.
pub const CODE_LIFETIME: u64 = 60;
/// How long a used code is remembered, so that a replay is recognised and revokes what the
/// code issued (at least the access tokens' lifetime).
pub const USED_CODE_REMEMBERED: u64 = crate::ACCESS_TOKEN_LIFETIME;

/// A random secret handed out once (a code, a token, a pending request's id): its text and
/// the hash the store keys it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// What the client (or browser) gets.
    pub text: String,
    /// SHA-256 of `text`: what the store keeps.
    pub hash: [u8; 32],
}

impl Secret {
    /// A fresh 256-bit secret.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let text = b64url(&bytes);
        Self {
            hash: hash(&text),
            text,
        }
    }
}

/// The store key of a secret's text.
pub fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The lowercase hex of a hash (a grant id).
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash a grant id (its hex) stands for.
pub fn unhex(grant: &str) -> Option<[u8; 32]> {
    if grant.len() != 64 || !grant.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(grant.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The grant's id (the hex hash of the code): tokens it issued carry it, for revocation.
    pub grant: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// For the ID token.
    pub nonce: Option<String>,
    /// The user (the account id, hex).
    pub user: String,
    /// When the user logged in (Unix seconds).
    pub auth_time: u64,
    /// The granted scopes.
    pub scope: Vec<String>,
    /// When the code stops working.
    pub expires_at: u64,
    /// A refresh token's record, kept beside the codes (single use as they are; see
    /// [`crate::refresh`]): never redeemed as a code, nor a code as a refresh token.
    #[serde(default)]
    pub refresh: bool,
    /// When the chain began: the issue time of the code that started it (refresh tokens
    /// carry it on). A consent given after it (withdrawn, then given again) ends the chain.
    #[serde(default)]
    pub chain_started_at: u64,
}

/// A code for a request the user has logged in to and agreed to.
pub fn issue_code(
    request: &AuthRequest,
    user: &str,
    auth_time: u64,
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> (Secret, CodeGrant) {
    let code = Secret::generate(rng);
    let grant = CodeGrant {
        grant: hex(&code.hash),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        user: user.to_owned(),
        auth_time,
        scope: request.scope.clone(),
        expires_at: now.saturating_add(CODE_LIFETIME),
        refresh: false,
        chain_started_at: now,
    };
    (code, grant)
}

/// What taking a code out of the store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Not there (never issued, or forgotten long after it expired).
    Missing,
    /// There and unused: now marked used.
    Fresh(CodeGrant),
    /// There, and used before: a replay.
    Replayed(CodeGrant),
}

/// An access token's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrant {
    /// The code grant that issued it.
    pub grant: String,
    /// The client.
    pub client_id: String,
    /// The user (account id, hex).
    pub user: String,
    /// The `sub` the client knows the user by.
    pub sub: String,
    /// The granted scopes.
    pub scope: Vec<String>,
    /// When it stops working.
    pub expires_at: u64,
}

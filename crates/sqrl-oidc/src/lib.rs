//! An OpenID Connect provider's decisions, without IO: the provider of `sqrl-site`, whose one
//! login method is SQRL.
//!
//! Same shape as the SQRL core (`sqrl-server`): the HTTP layer (`sqrl-axum`) receives a
//! request, loads what it names from an [`OidcStore`], asks a pure function here what to do
//! (time and randomness are arguments), and commits the answer. Every refusal is a
//! [`Refusal`] with its precise cause; [`Refusal::error`] maps it to the OAuth error code once,
//! and [`Refusal::audience`] says whether it may be sent to the client at all.
//!
//! What is implemented (see `spec/idp.md`): discovery, JWKS, the authorization code flow with
//! `state`, `nonce`, `prompt` and `max_age`, PKCE S256 (required unless a client opts out;
//! `plain` refused), `iss` in the authorization response (RFC 9207), `client_secret_basic`,
//! `client_secret_post` and public clients, single-use codes whose replay revokes their
//! tokens, ID tokens in RS256 (default), ES256 or EdDSA, pairwise subjects by default,
//! UserInfo, RP-initiated logout and key rotation.

mod authorize;
mod client;
mod discovery;
mod grant;
mod keys;
mod logout;
mod memory;
pub mod refresh;
mod refusal;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod token;

pub use authorize::{
    check_id_token_hint, client_id as authorize_client_id, next, validate, AuthRequest,
    AuthorizeRefusal, Login, Next, Params, Prompt, MAX_PARAM_LEN,
};
pub use client::{
    check_redirect_uri, Client, ClientSecret, Registration, RegistrationError, SubjectType,
};
pub use discovery::{
    metadata, AUTHORIZE_PATH, DISCOVERY_PATH, END_SESSION_PATH, JWKS_PATH, TOKEN_PATH,
    USERINFO_PATH,
};
pub use grant::{
    hash, hex, issue_code, unhex, AccessGrant, CodeGrant, Secret, Taken, CODE_LIFETIME,
    USED_CODE_REMEMBERED,
};
pub use keys::{
    rotate, Alg, KeyError, KeyRecord, KeyRing, SigningKey, PUBLISHED_BEFORE_SIGNING,
    RETIRED_KEY_PUBLISHED_FOR,
};
pub use logout::{
    hint_names, parse as parse_end_session, redirect as end_session_redirect, EndSession,
};
pub use memory::MemoryOidcStore;
pub use refusal::{Audience, Refusal};
pub use store::{Consent, OidcStore, Pending, NOT_SHOWN, PENDING_LIFETIME};
pub use token::{
    authenticate, bearer, mint, parse as parse_token_request, redeem, subject, userinfo,
    CodeRequest, Credentials, Issued,
};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// How long an ID token is valid (seconds).
pub const ID_TOKEN_LIFETIME: u64 = 3600;
/// How long an access token is valid (seconds).
pub const ACCESS_TOKEN_LIFETIME: u64 = 3600;

/// Unpadded base64url.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Unpadded base64url, decoded.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// `uri` with `pairs` added to its query (keeping the query it has).
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return uri.to_owned(),
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    url.into()
}

/// The redirect that gives the client its code: `code`, `state` and `iss` (RFC 9207).
pub fn code_redirect(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    with_query(redirect_uri, &pairs)
}

/// The redirect that tells the client of a refusal: `error`, `error_description`, `state`,
/// `iss`.
pub fn error_redirect(
    redirect_uri: &str,
    refusal: &Refusal,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let description = refusal.to_string();
    let mut pairs = vec![
        ("error", refusal.error()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    with_query(redirect_uri, &pairs)
}

#[cfg(test)]
mod memory_conforms {
    #[test]
    fn the_memory_store_conforms() {
        futures_executor::block_on(crate::testkit::oidc_store_conforms(
            &crate::MemoryOidcStore::new(),
        ));
    }
}

//! Refresh tokens (OpenID Connect Core §12, RFC 6749 §6), rotated on every use.
//!
//! A client that asked for `offline_access` gets a refresh token with its first tokens. Each
//! refresh token is single use, kept as a [`CodeGrant`] with `refresh: true` beside the codes
//! (so the stores' atomic [`OidcStore::take_code`](crate::OidcStore::take_code) takes it), and
//! carries the grant id of the code that started the chain. A refresh answers new tokens and
//! a new refresh token; presenting a used one again is a theft signal (RFC 9700 §4.14.2): the
//! whole chain is revoked, the thief's and the owner's tokens alike.

use rand_core::CryptoRngCore;

use crate::authorize::Params;
use crate::client::Client;
use crate::grant::{CodeGrant, Secret, Taken};
use crate::refusal::Refusal;
use crate::token::Credentials;

/// The scope that asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// How long a refresh token can be used (seconds): 30 days, renewed by each use.
pub const REFRESH_TOKEN_LIFETIME: u64 = 30 * 24 * 3600;

/// A valid refresh request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    /// Who asks.
    pub credentials: Credentials,
    /// The refresh token.
    pub refresh_token: String,
    /// A narrower scope, if asked (it may not add to the granted one).
    pub scope: Option<String>,
}

/// Parses a `grant_type=refresh_token` request.
pub fn parse(form: &Params, authorization: Option<&str>) -> Result<RefreshRequest, Refusal> {
    let one = |name: &str| {
        form.one(name)
            .map_err(|n| Refusal::InvalidTokenRequest(format!("{n} is given more than once")))
    };
    if one("grant_type")? != Some("refresh_token") {
        return Err(Refusal::UnsupportedGrantType);
    }
    let refresh_token = one("refresh_token")?
        .ok_or_else(|| Refusal::InvalidTokenRequest("refresh_token is missing".into()))?
        .to_owned();
    Ok(RefreshRequest {
        credentials: crate::token::credentials(form, authorization)?,
        refresh_token,
        scope: one("scope")?.map(str::to_owned),
    })
}

/// A new refresh token in the chain of `grant` (the code's or the previous refresh token's).
pub fn issue(grant: &CodeGrant, now: u64, rng: &mut impl CryptoRngCore) -> (Secret, CodeGrant) {
    let token = Secret::generate(rng);
    let record = CodeGrant {
        grant: grant.grant.clone(),
        client_id: grant.client_id.clone(),
        redirect_uri: grant.redirect_uri.clone(),
        code_challenge: None,
        // An ID token from a refresh carries no nonce (OpenID Connect Core §12.2).
        nonce: None,
        user: grant.user.clone(),
        auth_time: grant.auth_time,
        scope: grant.scope.clone(),
        expires_at: now.saturating_add(REFRESH_TOKEN_LIFETIME),
        refresh: true,
        chain_started_at: match (grant.refresh, grant.chain_started_at) {
            // A code stored before the field: it was issued its lifetime before it expires.
            (false, 0) => grant.expires_at.saturating_sub(crate::grant::CODE_LIFETIME),
            (_, at) => at,
        },
    };
    (token, record)
}

/// Checks a refresh: the token taken from the store (now marked used) must be a fresh,
/// unexpired refresh token of this client, and a `scope` may only narrow the granted one.
/// A used token is [`Refusal::RefreshReplayed`]: the caller revokes the chain
/// ([`OidcStore::revoke_grant`](crate::OidcStore::revoke_grant) with the grant's id).
pub fn redeem(
    client: &Client,
    request: &RefreshRequest,
    taken: Taken,
    now: u64,
) -> Result<CodeGrant, Refusal> {
    let mut grant = match taken {
        // Taken (now used) by another client: whoever holds it is not its client, so the
        // chain is treated as stolen, as a reuse is.
        Taken::Fresh(grant) | Taken::Replayed(grant)
            if grant.refresh && grant.client_id != client.id =>
        {
            return Err(Refusal::RefreshReplayed(grant.grant))
        }
        Taken::Fresh(grant) if grant.refresh => grant,
        Taken::Replayed(grant) if grant.refresh => {
            return Err(Refusal::RefreshReplayed(grant.grant))
        }
        // Unknown, or a code presented as a refresh token.
        _ => return Err(Refusal::RefreshInvalid),
    };
    if now >= grant.expires_at {
        return Err(Refusal::RefreshInvalid);
    }
    if let Some(scope) = &request.scope {
        let asked: Vec<String> = scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !asked.iter().all(|s| grant.scope.contains(s)) {
            return Err(Refusal::ScopeWidened);
        }
        // The narrower scope is what this refresh issues (without `offline_access`, no new
        // refresh token: the chain ends here).
        grant.scope = asked;
    }
    Ok(grant)
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;

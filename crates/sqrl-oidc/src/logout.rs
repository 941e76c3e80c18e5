//! RP-Initiated Logout 1.0: where a logout may send the browser afterwards.

use serde_json::Value;

use crate::authorize::Params;
use crate::client::Client;
use crate::keys::KeyRing;
use crate::refusal::Refusal;

/// A checked end-session request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSession {
    /// The client the request is for, if it says (from `client_id` or the hint's `aud`).
    pub client_id: Option<String>,
    /// Where to go afterwards (checked against the client by [`redirect`]).
    pub post_logout_redirect_uri: Option<String>,
    /// Echoed to the redirect.
    pub state: Option<String>,
    /// The `sub` of a valid `id_token_hint`: the logout is done without asking only when it
    /// names the user who is logged in (see [`hint_names`]).
    pub hint_sub: Option<String>,
}

/// Parses an end-session request and checks its `id_token_hint` (signed by this provider,
/// issued by `issuer`; an expired hint is accepted, as the specification allows).
pub fn parse(
    params: &Params,
    keys: &KeyRing,
    issuer: &str,
    now: u64,
) -> Result<EndSession, Refusal> {
    let one = |name: &str| params.one(name).map_err(Refusal::DuplicateParameter);
    let (hint_aud, hint_sub) = match one("id_token_hint")? {
        None => (None, None),
        Some(hint) => {
            let claims = keys.verify(hint, now).ok_or(Refusal::BadIdTokenHint)?;
            if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
                return Err(Refusal::BadIdTokenHint);
            }
            let text = |name: &str| {
                claims
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or(Refusal::BadIdTokenHint)
            };
            (Some(text("aud")?), Some(text("sub")?))
        }
    };
    let client_id = match (one("client_id")?, hint_aud) {
        (Some(id), Some(aud)) if id != aud => return Err(Refusal::LogoutClientMismatch),
        (Some(id), _) => Some(id.to_owned()),
        (None, aud) => aud,
    };
    let post_logout_redirect_uri = one("post_logout_redirect_uri")?.map(str::to_owned);
    if post_logout_redirect_uri.is_some() && client_id.is_none() {
        return Err(Refusal::LogoutClientUnknown);
    }
    Ok(EndSession {
        client_id,
        post_logout_redirect_uri,
        state: one("state")?.map(str::to_owned),
        hint_sub,
    })
}

/// Whether the request's `id_token_hint` names `user` (by the `sub` its client knows them
/// by): only then may the logout skip asking (RP-Initiated Logout 1.0 §2). Anyone can hold
/// an ID token of their own, so a hint alone proves nothing about the browser's user.
pub fn hint_names(
    request: &EndSession,
    client: Option<&Client>,
    user: &str,
    pairwise_key: &[u8; 32],
) -> bool {
    match (&request.hint_sub, client) {
        (Some(sub), Some(client)) if Some(&client.id) == request.client_id.as_ref() => {
            crate::token::subject(client, user, pairwise_key) == *sub
        }
        _ => false,
    }
}

/// Where the browser goes after the logout: the registered post-logout URI with `state`, or
/// nowhere (the provider's own "logged out" page). `client` is the request's client, loaded.
pub fn redirect(request: &EndSession, client: Option<&Client>) -> Result<Option<String>, Refusal> {
    let Some(uri) = &request.post_logout_redirect_uri else {
        return Ok(None);
    };
    let client = client
        .filter(|c| Some(&c.id) == request.client_id.as_ref())
        .ok_or(Refusal::UnregisteredPostLogoutUri)?;
    if !client.has_post_logout_uri(uri) {
        return Err(Refusal::UnregisteredPostLogoutUri);
    }
    Ok(Some(match &request.state {
        Some(state) => crate::with_query(uri, &[("state", state)]),
        None => uri.clone(),
    }))
}

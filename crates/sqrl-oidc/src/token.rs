//! The token endpoint's decisions: who the client is, whether its code is good, and the
//! tokens it gets.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authorize::Params;
use crate::client::{Client, SubjectType};
use crate::grant::{AccessGrant, CodeGrant, Secret, Taken};
use crate::keys::{KeyError, KeyRing};
use crate::refusal::Refusal;
use crate::{b64url, ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME};

/// A token request's credentials, as presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The client it claims to be.
    pub client_id: String,
    /// Its secret (`None`: a public client, or none given).
    pub secret: Option<String>,
}

/// A valid code redemption request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    /// Who asks.
    pub credentials: Credentials,
    /// The code.
    pub code: String,
    /// The redirect URI it repeats.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<String>,
}

/// Parses a token request: the form and the `Authorization` header's value, if any. Exactly
/// one client authentication method may be used (RFC 6749 §2.3).
pub fn parse(form: &Params, authorization: Option<&str>) -> Result<CodeRequest, Refusal> {
    let one = |name: &str| {
        form.one(name)
            .map_err(|n| Refusal::InvalidTokenRequest(format!("{n} is given more than once")))
    };
    match one("grant_type")? {
        Some("authorization_code") => {}
        None => return Err(Refusal::InvalidTokenRequest("grant_type is missing".into())),
        Some(_) => return Err(Refusal::UnsupportedGrantType),
    }
    let code = one("code")?
        .ok_or_else(|| Refusal::InvalidTokenRequest("code is missing".into()))?
        .to_owned();
    Ok(CodeRequest {
        credentials: credentials(form, authorization)?,
        code,
        redirect_uri: one("redirect_uri")?.map(str::to_owned),
        code_verifier: one("code_verifier")?.map(str::to_owned),
    })
}

/// The client's credentials of a token request: exactly one authentication method.
pub(crate) fn credentials(
    form: &Params,
    authorization: Option<&str>,
) -> Result<Credentials, Refusal> {
    let one = |name: &str| {
        form.one(name)
            .map_err(|n| Refusal::InvalidTokenRequest(format!("{n} is given more than once")))
    };
    let basic = authorization.map(basic_credentials).transpose()?;
    let post_id = one("client_id")?;
    let post_secret = one("client_secret")?;
    let credentials = match (basic, post_id, post_secret) {
        (Some(_), _, Some(_)) => return Err(Refusal::ClientAuthFailed),
        (Some(basic), Some(id), None) if id != basic.client_id => {
            return Err(Refusal::ClientAuthFailed)
        }
        (Some(basic), _, None) => basic,
        (None, Some(id), secret) => Credentials {
            client_id: id.to_owned(),
            secret: secret.map(str::to_owned),
        },
        (None, None, _) => return Err(Refusal::ClientAuthFailed),
    };
    Ok(credentials)
}

/// `client_secret_basic`: `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Result<Credentials, Refusal> {
    let (scheme, value) = header
        .trim()
        .split_once(' ')
        .ok_or(Refusal::ClientAuthFailed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Refusal::ClientAuthFailed);
    }
    let decoded = STANDARD
        .decode(value.trim())
        .map_err(|_| Refusal::ClientAuthFailed)?;
    let text = String::from_utf8(decoded).map_err(|_| Refusal::ClientAuthFailed)?;
    let (id, secret) = text.split_once(':').ok_or(Refusal::ClientAuthFailed)?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Credentials {
        client_id: decode(id),
        secret: Some(decode(secret)),
    })
}

/// Authenticates the client (`None`: no such client). A confidential client must prove its
/// secret; a public one must not send one.
pub fn authenticate<'c>(
    client: Option<&'c Client>,
    credentials: &Credentials,
) -> Result<&'c Client, Refusal> {
    let client = client
        .filter(|c| c.id == credentials.client_id)
        .ok_or(Refusal::ClientAuthFailed)?;
    let ok = match (&credentials.secret, client.is_public()) {
        (Some(secret), false) => client.secret_matches(secret),
        (None, true) => true,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(Refusal::ClientAuthFailed)
    }
}

/// Checks a code redemption: the code taken from the store (now marked used) must be fresh,
/// unexpired, this client's, for the same redirect URI, and match the PKCE challenge.
/// A replay is [`Refusal::CodeReplayed`]: the caller revokes the grant's tokens.
pub fn redeem(
    client: &Client,
    request: &CodeRequest,
    taken: Taken,
    now: u64,
) -> Result<CodeGrant, Refusal> {
    let grant = match taken {
        Taken::Missing => return Err(Refusal::CodeInvalid),
        // A refresh token is kept beside the codes: it is no code.
        Taken::Replayed(grant) | Taken::Fresh(grant) if grant.refresh => {
            return Err(Refusal::CodeInvalid)
        }
        Taken::Replayed(_) => return Err(Refusal::CodeReplayed),
        Taken::Fresh(grant) => grant,
    };
    if now >= grant.expires_at {
        return Err(Refusal::CodeInvalid);
    }
    if grant.client_id != client.id {
        return Err(Refusal::CodeOtherClient);
    }
    if request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(Refusal::RedirectUriMismatch);
    }
    match (&grant.code_challenge, &request.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !is_verifier(verifier) {
                return Err(Refusal::VerifierMismatch);
            }
            let computed = b64url(&Sha256::digest(verifier.as_bytes()));
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(Refusal::VerifierMismatch);
            }
        }
        (Some(_), None) => return Err(Refusal::VerifierMissing),
        (None, Some(_)) => return Err(Refusal::UnexpectedVerifier),
        (None, None) => {}
    }
    Ok(grant)
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `sub` a client knows a user by: pairwise (HMAC of the client and the user under the
/// provider's pairwise key) or the account id itself.
pub fn subject(client: &Client, user: &str, pairwise_key: &[u8; 32]) -> String {
    match client.subject {
        SubjectType::Public => user.to_owned(),
        SubjectType::Pairwise => {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(pairwise_key) else {
                // HMAC takes a key of any length: this cannot happen.
                return String::new();
            };
            mac.update(b"sqrl-oidc pairwise sub v1\0");
            mac.update(client.id.as_bytes());
            mac.update(b"\0");
            mac.update(user.as_bytes());
            b64url(&mac.finalize().into_bytes())
        }
    }
}

/// The tokens of a redeemed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The access token (the client's bearer token for UserInfo).
    pub access_token: Secret,
    /// What the store keeps for it.
    pub access: AccessGrant,
    /// The signed ID token.
    pub id_token: String,
    /// The refresh token and what the store keeps for it (with `offline_access`; see
    /// [`crate::refresh`]).
    pub refresh: Option<(Secret, CodeGrant)>,
}

impl Issued {
    /// The token endpoint's JSON answer.
    pub fn response(&self) -> Value {
        let mut answer = json!({
            "access_token": self.access_token.text,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "id_token": self.id_token,
            "scope": self.access.scope.join(" "),
        });
        if let (Some((token, _)), Value::Object(map)) = (&self.refresh, &mut answer) {
            map.insert("refresh_token".into(), json!(token.text));
            map.insert("scope".into(), json!("openid offline_access"));
        }
        answer
    }
}

/// Mints the ID token and access token of a redeemed code.
pub fn mint(
    issuer: &str,
    client: &Client,
    grant: &CodeGrant,
    keys: &KeyRing,
    pairwise_key: &[u8; 32],
    now: u64,
    rng: &mut impl CryptoRngCore,
) -> Result<Issued, KeyError> {
    let sub = subject(client, &grant.user, pairwise_key);
    let mut claims = json!({
        "iss": issuer,
        "sub": sub,
        "aud": client.id,
        "azp": client.id,
        "exp": now.saturating_add(ID_TOKEN_LIFETIME),
        "iat": now,
        "auth_time": grant.auth_time,
        // A SQRL login is a signature by a key held on the user's device (RFC 8176 "hwk" is
        // for hardware keys; "pop" is proof of possession of a key).
        "amr": ["pop"],
    });
    if let (Some(nonce), Value::Object(map)) = (&grant.nonce, &mut claims) {
        map.insert("nonce".into(), json!(nonce));
    }
    let id_token = keys.active(client.alg, now)?.sign(&claims)?;
    let access_token = Secret::generate(rng);
    let access = AccessGrant {
        grant: grant.grant.clone(),
        client_id: client.id.clone(),
        user: grant.user.clone(),
        sub,
        // Only `openid` is granted: the provider has no other claims to give.
        scope: vec!["openid".to_owned()],
        expires_at: now.saturating_add(ACCESS_TOKEN_LIFETIME),
    };
    let refresh = grant
        .scope
        .iter()
        .any(|s| s == crate::refresh::OFFLINE_ACCESS)
        .then(|| crate::refresh::issue(grant, now, rng));
    Ok(Issued {
        access_token,
        access,
        id_token,
        refresh,
    })
}

/// The bearer token of a UserInfo request (`Authorization: Bearer …`).
pub fn bearer(authorization: Option<&str>) -> Result<&str, Refusal> {
    let header = authorization.ok_or(Refusal::MissingToken)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or(Refusal::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Refusal::InvalidToken);
    }
    Ok(token.trim())
}

/// UserInfo's answer for a stored access token (expired → refused).
pub fn userinfo(access: Option<AccessGrant>, now: u64) -> Result<Value, Refusal> {
    let access = access
        .filter(|a| now < a.expires_at)
        .ok_or(Refusal::InvalidToken)?;
    Ok(json!({ "sub": access.sub }))
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;

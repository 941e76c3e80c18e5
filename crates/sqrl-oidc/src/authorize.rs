//! The authorization endpoint's decisions: is the request valid, and what does the user see
//! next (the login, the consent page, or the way back to the application with a code).

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::keys::KeyRing;
use crate::refusal::Refusal;

/// The longest parameter value accepted (a `state` or `nonce` longer than this is abuse).
pub const MAX_PARAM_LEN: usize = 2048;

/// Request parameters as they came (query or form), in order, possibly repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(text: &str) -> Self {
        Self(
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The single value of `name`: `Ok(None)` if absent or empty (RFC 6749 §3.1: a parameter
    /// sent without a value is treated as omitted), `Err(name)` if given more than once.
    pub fn one(&self, name: &str) -> Result<Option<&str>, String> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(name.to_owned());
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }
}

/// `prompt`, parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `none`: answer without showing anything.
    pub none: bool,
    /// `login`: log in again, even with a session.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
}

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// The requested scopes (`openid` among them).
    pub scope: Vec<String>,
    /// Echoed to the client.
    pub state: Option<String>,
    /// Put into the ID token.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// The `sub` of the request's `id_token_hint` ([`check_id_token_hint`]): the user the
    /// client expects. A session of another user is then no login for this request.
    #[serde(default)]
    pub hint_sub: Option<String>,
}

/// Where a refusal of the authorization endpoint goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    /// Shown on a page (no trusted redirect URI).
    Page(Refusal),
    /// Sent to the client's redirect URI.
    Redirect {
        /// The registered redirect URI.
        redirect_uri: String,
        /// The request's `state`, echoed.
        state: Option<String>,
        /// Why.
        refusal: Refusal,
    },
}

impl AuthorizeRefusal {
    /// The refusal itself.
    pub fn refusal(&self) -> &Refusal {
        match self {
            AuthorizeRefusal::Page(r) | AuthorizeRefusal::Redirect { refusal: r, .. } => r,
        }
    }
}

/// The client a request names (`Ok(None)` when it names none, which is refused by
/// [`validate`] on a page): the HTTP layer loads it and passes it to [`validate`].
pub fn client_id(params: &Params) -> Result<Option<&str>, AuthorizeRefusal> {
    params
        .one("client_id")
        .map_err(|_| AuthorizeRefusal::Page(Refusal::DuplicateIdentifyingParameter("client_id")))
}

/// Checks an authorization request against its client (`None`: not registered).
pub fn validate(params: &Params, client: Option<&Client>) -> Result<AuthRequest, AuthorizeRefusal> {
    let page = AuthorizeRefusal::Page;
    let client_id = client_id(params)?.ok_or(page(Refusal::MissingClientId))?;
    let client = client
        .filter(|c| c.id == client_id)
        .ok_or(page(Refusal::UnknownClient))?;
    let redirect_uri = params
        .one("redirect_uri")
        .map_err(|_| page(Refusal::DuplicateIdentifyingParameter("redirect_uri")))?
        .ok_or(page(Refusal::MissingRedirectUri))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(page(Refusal::UnregisteredRedirectUri));
    }
    // From here on the redirect URI is trusted: refusals go back to the client. `state` is
    // echoed only when it is itself well formed (a repeated or over-long one is refused
    // without it).
    let state = params
        .one("state")
        .ok()
        .flatten()
        .filter(|s| s.len() <= MAX_PARAM_LEN)
        .map(str::to_owned);
    if params
        .one("state")
        .ok()
        .flatten()
        .is_some_and(|s| s.len() > MAX_PARAM_LEN)
    {
        return Err(AuthorizeRefusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: None,
            refusal: Refusal::ParameterTooLong("state".into()),
        });
    }
    let back = |refusal| AuthorizeRefusal::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        refusal,
    };
    let one = |name: &str| {
        params
            .one(name)
            .map_err(|n| back(Refusal::DuplicateParameter(n)))
            .and_then(|v| match v {
                Some(v) if v.len() > MAX_PARAM_LEN => {
                    Err(back(Refusal::ParameterTooLong(name.to_owned())))
                }
                v => Ok(v),
            })
    };
    if params.one("state").is_err() {
        return Err(back(Refusal::DuplicateParameter("state".into())));
    }
    if one("request")?.is_some() {
        return Err(back(Refusal::RequestObjectUnsupported));
    }
    if one("request_uri")?.is_some() {
        return Err(back(Refusal::RequestUriUnsupported));
    }
    match one("response_type")? {
        None => return Err(back(Refusal::MissingResponseType)),
        Some("code") => {}
        Some(_) => return Err(back(Refusal::UnsupportedResponseType)),
    }
    if !matches!(one("response_mode")?, None | Some("query")) {
        return Err(back(Refusal::UnsupportedResponseMode));
    }
    let scope: Vec<String> = one("scope")?
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(back(Refusal::MissingOpenidScope));
    }
    let prompt = parse_prompt(one("prompt")?).map_err(back)?;
    let max_age = match one("max_age")? {
        None => None,
        Some(v) => Some(parse_max_age(v).ok_or(back(Refusal::InvalidMaxAge))?),
    };
    let code_challenge = match (one("code_challenge")?, one("code_challenge_method")?) {
        (None, None) if client.pkce_required => return Err(back(Refusal::PkceRequired)),
        (None, None) => None,
        (None, Some(_)) => return Err(back(Refusal::ChallengeMethodWithoutChallenge)),
        // RFC 7636 §4.3: the method defaults to `plain`, which is refused.
        (Some(_), None | Some("plain")) => return Err(back(Refusal::PkcePlainRefused)),
        (Some(challenge), Some("S256")) => {
            if !is_s256_challenge(challenge) {
                return Err(back(Refusal::MalformedCodeChallenge));
            }
            Some(challenge.to_owned())
        }
        (Some(_), Some(_)) => return Err(back(Refusal::UnknownChallengeMethod)),
    };
    Ok(AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        nonce: one("nonce")?.map(str::to_owned),
        state: state.clone(),
        prompt,
        max_age,
        code_challenge,
        hint_sub: None,
    })
}

/// The `sub` of the request's `id_token_hint` (OpenID Connect Core §3.1.2.1), for
/// [`AuthRequest::hint_sub`]: an ID token this provider signed, for this `client` (its `aud`),
/// issued by `issuer`; expired hints are accepted, as the specification allows. `None`
/// without a hint; a hint that is not such a token is refused to the client
/// (`invalid_request`).
pub fn check_id_token_hint(
    params: &Params,
    client: &Client,
    keys: &KeyRing,
    issuer: &str,
    now: u64,
) -> Result<Option<String>, Refusal> {
    let hint = params
        .one("id_token_hint")
        .map_err(|_| Refusal::InvalidIdTokenHint)?;
    let Some(hint) = hint else {
        return Ok(None);
    };
    let claims = keys.verify(hint, now).ok_or(Refusal::InvalidIdTokenHint)?;
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    if text("iss") != Some(issuer) || text("aud") != Some(client.id.as_str()) {
        return Err(Refusal::InvalidIdTokenHint);
    }
    text("sub")
        .map(|sub| Some(sub.to_owned()))
        .ok_or(Refusal::InvalidIdTokenHint)
}

fn parse_prompt(value: Option<&str>) -> Result<Prompt, Refusal> {
    let mut prompt = Prompt::default();
    for word in value
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
    {
        match word {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // There is one account per SQRL identity: nothing to select.
            "select_account" => {}
            _ => return Err(Refusal::UnknownPrompt),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(Refusal::PromptNoneCombined);
    }
    Ok(prompt)
}

fn parse_max_age(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Absurdly large values mean "any login": cap rather than refuse.
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

/// A S256 challenge: BASE64URL(SHA-256(verifier)) without padding, 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The user's login, as the session says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login {
    /// When the user logged in with SQRL (Unix seconds).
    pub auth_time: u64,
    /// The request's `id_token_hint` names another user ([`AuthRequest::hint_sub`]
    /// compared with the session user's `sub` for the client): the session does not answer
    /// this request; only a login made for it does.
    pub other_than_hinted: bool,
}

/// What the user sees next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The SQRL login (none yet, `prompt=login`, or older than `max_age`).
    Login,
    /// The consent page.
    Consent,
    /// Back to the application with a code.
    Issue,
}

/// What a pending request needs now. `login_shown_at` is when the request's login page was
/// shown ([`Pending::login_shown_at`](crate::Pending::login_shown_at)): a login at or after it
/// is fresh for this request (it satisfies `prompt=login` and `max_age`, even 0);
/// `consented_now` means the user just agreed on the consent page of this request.
pub fn next(
    request: &AuthRequest,
    client: &Client,
    login: Option<Login>,
    login_shown_at: u64,
    has_consent: bool,
    consented_now: bool,
    now: u64,
) -> Result<Next, Refusal> {
    let login_ok = login.is_some_and(|l| {
        let fresh = l.auth_time >= login_shown_at;
        let recent = request
            .max_age
            .is_none_or(|max| now.saturating_sub(l.auth_time) <= max);
        fresh || (!request.prompt.login && recent && !l.other_than_hinted)
    });
    if !login_ok {
        return if request.prompt.none {
            Err(Refusal::LoginRequired)
        } else {
            Ok(Next::Login)
        };
    }
    // Offline access (a refresh token) is agreed to on this request's consent page, never
    // carried over from a consent to plain logins (OpenID Connect Core §11).
    let offline = request
        .scope
        .iter()
        .any(|s| s == crate::refresh::OFFLINE_ACCESS);
    let consent_ok =
        client.first_party || consented_now || (has_consent && !request.prompt.consent && !offline);
    if !consent_ok {
        return if request.prompt.none {
            Err(Refusal::ConsentRequired)
        } else {
            Ok(Next::Consent)
        };
    }
    Ok(Next::Issue)
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;

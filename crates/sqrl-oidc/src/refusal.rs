//! Every reason the provider refuses something, and the one place each is mapped to the
//! OAuth 2.0 / OpenID Connect error a relying party understands.

/// Who is told about a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The user, on a page of the provider: no valid redirect URI is known, so nothing may be
    /// sent to the client (an attacker could name any URI).
    Page,
    /// The client, at its registered redirect URI (`error=…&state=…&iss=…`).
    Redirect,
    /// The client, in a JSON error body of a back-channel endpoint (token, UserInfo).
    Json,
}

/// A refusal, with its precise cause. [`Refusal::error`] is the OAuth error code,
/// [`Refusal::audience`] where it goes, [`Refusal::http_status`] the status of a JSON or page
/// answer; the `Display` text is the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    // ---- Authorization endpoint, before a redirect URI is trusted: shown on a page.
    /// No `client_id`.
    #[error("the request names no client (client_id is missing)")]
    MissingClientId,
    /// `client_id` is not registered.
    #[error("this application is not registered with the provider")]
    UnknownClient,
    /// No `redirect_uri` (OpenID Connect requires it).
    #[error("the request has no redirect_uri")]
    MissingRedirectUri,
    /// `redirect_uri` is not one the client registered (exact match).
    #[error("the redirect_uri is not registered for this application")]
    UnregisteredRedirectUri,
    /// `client_id` or `redirect_uri` given twice.
    #[error("the parameter {0} is given more than once")]
    DuplicateIdentifyingParameter(&'static str),

    // ---- Authorization endpoint, sent to the client's redirect URI.
    /// A parameter other than `client_id`/`redirect_uri` given twice.
    #[error("the parameter {0} is given more than once")]
    DuplicateParameter(String),
    /// A parameter value over [`MAX_PARAM_LEN`](crate::authorize::MAX_PARAM_LEN) bytes.
    #[error("the parameter {0} is too long")]
    ParameterTooLong(String),
    /// No `response_type`.
    #[error("response_type is missing")]
    MissingResponseType,
    /// A `response_type` other than `code`.
    #[error("only response_type=code is supported")]
    UnsupportedResponseType,
    /// A `response_mode` other than `query`.
    #[error("only response_mode=query is supported")]
    UnsupportedResponseMode,
    /// `scope` lacks `openid`.
    #[error("scope must include openid")]
    MissingOpenidScope,
    /// No PKCE `code_challenge`, and the client must use PKCE.
    #[error("PKCE is required: send code_challenge with code_challenge_method=S256")]
    PkceRequired,
    /// `code_challenge_method=plain`.
    #[error("code_challenge_method=plain is not accepted: use S256")]
    PkcePlainRefused,
    /// A `code_challenge_method` other than `S256`/`plain`.
    #[error("unknown code_challenge_method: use S256")]
    UnknownChallengeMethod,
    /// A `code_challenge` that is not 43 base64url characters (a SHA-256 digest).
    #[error("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")]
    MalformedCodeChallenge,
    /// A `code_challenge_method` without a `code_challenge`.
    #[error("code_challenge_method without code_challenge")]
    ChallengeMethodWithoutChallenge,
    /// A `request` object (not supported).
    #[error("request objects are not supported")]
    RequestObjectUnsupported,
    /// A `request_uri` (not supported).
    #[error("request_uri is not supported")]
    RequestUriUnsupported,
    /// A `prompt` value that is unknown.
    #[error("unknown prompt value")]
    UnknownPrompt,
    /// `prompt=none` together with another value.
    #[error("prompt=none cannot be combined with other values")]
    PromptNoneCombined,
    /// A `max_age` that is not a non-negative integer.
    #[error("max_age must be a non-negative integer")]
    InvalidMaxAge,
    /// `prompt=none` and nobody is logged in (or the login is too old).
    #[error("the user must log in")]
    LoginRequired,
    /// `prompt=none` and the user has not consented to this application.
    #[error("the user must consent")]
    ConsentRequired,
    /// The user declined to share their login with the application.
    #[error("the user declined")]
    AccessDenied,
    /// An authorization request's `id_token_hint` is not an ID token this provider signed
    /// for the client.
    #[error("id_token_hint is not an ID token this provider issued to the client")]
    InvalidIdTokenHint,
    /// The login request was not found or has expired (a stale tab).
    #[error("this login request has expired: start again from the application")]
    PendingExpired,

    // ---- Token endpoint.
    /// A `grant_type` other than `authorization_code`.
    #[error("only grant_type=authorization_code is supported")]
    UnsupportedGrantType,
    /// A token request parameter is missing or given twice.
    #[error("invalid token request: {0}")]
    InvalidTokenRequest(String),
    /// The client could not be authenticated (unknown, wrong secret, no or several methods).
    #[error("client authentication failed")]
    ClientAuthFailed,
    /// The code is unknown or has expired.
    #[error("the authorization code is invalid or expired")]
    CodeInvalid,
    /// The code was already used: what it issued is revoked.
    #[error("the authorization code was already used; the tokens it issued are revoked")]
    CodeReplayed,
    /// The code was issued to another client.
    #[error("the authorization code was issued to another client")]
    CodeOtherClient,
    /// `redirect_uri` differs from the one of the authorization request.
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    /// The code has a PKCE challenge and no `code_verifier` came.
    #[error("code_verifier is missing")]
    VerifierMissing,
    /// The `code_verifier` does not match the challenge.
    #[error("code_verifier does not match the code_challenge")]
    VerifierMismatch,
    /// A `code_verifier` came for a code issued without a challenge (a PKCE downgrade).
    #[error("code_verifier sent for a code issued without PKCE")]
    UnexpectedVerifier,
    /// The refresh token is unknown, expired, another client's, or a code.
    #[error("the refresh token is invalid or expired")]
    RefreshInvalid,
    /// The refresh token was used before: the chain it belongs to (this grant id) is revoked.
    #[error("the refresh token was already used; its chain of tokens is revoked")]
    RefreshReplayed(String),
    /// A refresh asked for a scope the grant does not have.
    #[error("a refresh may not widen the granted scope")]
    ScopeWidened,

    // ---- UserInfo.
    /// No bearer token at all (RFC 6750 §3.1: the challenge carries no error code).
    #[error("the request carries no access token")]
    MissingToken,
    /// No bearer token, or an unknown, expired or revoked one.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,

    // ---- End session.
    /// `id_token_hint` is not an ID token this provider signed.
    #[error("id_token_hint is not an ID token issued by this provider")]
    BadIdTokenHint,
    /// `client_id` and the hint's audience differ.
    #[error("client_id does not match the id_token_hint")]
    LogoutClientMismatch,
    /// `post_logout_redirect_uri` without a way to know the client.
    #[error("post_logout_redirect_uri needs id_token_hint or client_id")]
    LogoutClientUnknown,
    /// `post_logout_redirect_uri` not registered for the client.
    #[error("post_logout_redirect_uri is not registered for this application")]
    UnregisteredPostLogoutUri,
}

impl Refusal {
    /// The OAuth 2.0 / OpenID Connect error code.
    pub fn error(&self) -> &'static str {
        use Refusal::*;
        match self {
            MissingClientId
            | UnknownClient
            | MissingRedirectUri
            | UnregisteredRedirectUri
            | DuplicateIdentifyingParameter(_)
            | DuplicateParameter(_)
            | ParameterTooLong(_)
            | MissingResponseType
            | UnsupportedResponseMode
            | PkceRequired
            | PkcePlainRefused
            | UnknownChallengeMethod
            | MalformedCodeChallenge
            | ChallengeMethodWithoutChallenge
            | UnknownPrompt
            | PromptNoneCombined
            | InvalidMaxAge
            | PendingExpired
            | InvalidTokenRequest(_)
            | BadIdTokenHint
            | InvalidIdTokenHint
            | LogoutClientMismatch
            | LogoutClientUnknown
            | UnregisteredPostLogoutUri => "invalid_request",
            UnsupportedResponseType => "unsupported_response_type",
            MissingOpenidScope => "invalid_scope",
            RequestObjectUnsupported => "request_not_supported",
            RequestUriUnsupported => "request_uri_not_supported",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            AccessDenied => "access_denied",
            UnsupportedGrantType => "unsupported_grant_type",
            ClientAuthFailed => "invalid_client",
            CodeInvalid | CodeReplayed | CodeOtherClient | RedirectUriMismatch
            | VerifierMissing | VerifierMismatch | UnexpectedVerifier | RefreshInvalid
            | RefreshReplayed(_) => "invalid_grant",
            ScopeWidened => "invalid_scope",
            InvalidToken => "invalid_token",
            MissingToken => "invalid_request",
        }
    }

    /// Where the refusal is told.
    pub fn audience(&self) -> Audience {
        use Refusal::*;
        match self {
            MissingClientId
            | UnknownClient
            | MissingRedirectUri
            | UnregisteredRedirectUri
            | DuplicateIdentifyingParameter(_)
            | PendingExpired
            | BadIdTokenHint
            | LogoutClientMismatch
            | LogoutClientUnknown
            | UnregisteredPostLogoutUri => Audience::Page,
            DuplicateParameter(_)
            | ParameterTooLong(_)
            | MissingResponseType
            | UnsupportedResponseType
            | UnsupportedResponseMode
            | MissingOpenidScope
            | PkceRequired
            | PkcePlainRefused
            | UnknownChallengeMethod
            | MalformedCodeChallenge
            | ChallengeMethodWithoutChallenge
            | RequestObjectUnsupported
            | RequestUriUnsupported
            | UnknownPrompt
            | PromptNoneCombined
            | InvalidMaxAge
            | InvalidIdTokenHint
            | LoginRequired
            | ConsentRequired
            | AccessDenied => Audience::Redirect,
            UnsupportedGrantType
            | InvalidTokenRequest(_)
            | ClientAuthFailed
            | CodeInvalid
            | CodeReplayed
            | CodeOtherClient
            | RedirectUriMismatch
            | VerifierMissing
            | VerifierMismatch
            | UnexpectedVerifier
            | RefreshInvalid
            | RefreshReplayed(_)
            | ScopeWidened
            | InvalidToken
            | MissingToken => Audience::Json,
        }
    }

    /// The HTTP status of a page or JSON answer (a redirect is always 303).
    pub fn http_status(&self) -> u16 {
        match self {
            // RFC 6749 §5.2: 401 when the client tried to authenticate; RFC 6750 §3.1 for
            // a bad bearer token.
            Refusal::ClientAuthFailed | Refusal::InvalidToken | Refusal::MissingToken => 401,
            Refusal::UnknownClient => 404,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_refusals_are_the_ones_before_a_redirect_uri_is_trusted() {
        for refusal in [
            Refusal::MissingClientId,
            Refusal::UnknownClient,
            Refusal::MissingRedirectUri,
            Refusal::UnregisteredRedirectUri,
            Refusal::DuplicateIdentifyingParameter("redirect_uri"),
        ] {
            assert_eq!(refusal.audience(), Audience::Page, "{refusal:?}");
        }
    }

    #[test]
    fn token_refusals_map_to_rfc6749_codes() {
        assert_eq!(Refusal::CodeReplayed.error(), "invalid_grant");
        assert_eq!(Refusal::VerifierMismatch.error(), "invalid_grant");
        assert_eq!(Refusal::ClientAuthFailed.error(), "invalid_client");
        assert_eq!(Refusal::ClientAuthFailed.http_status(), 401);
        assert_eq!(
            Refusal::UnsupportedGrantType.error(),
            "unsupported_grant_type"
        );
    }
}

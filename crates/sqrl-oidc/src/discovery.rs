//! OpenID Connect Discovery 1.0: the provider's metadata.

use serde_json::{json, Value};

use crate::keys::Alg;

/// Where the provider's endpoints live, relative to the issuer.
pub const AUTHORIZE_PATH: &str = "/oidc/authorize";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/oidc/token";
/// The UserInfo endpoint.
pub const USERINFO_PATH: &str = "/oidc/userinfo";
/// The JWK Set.
pub const JWKS_PATH: &str = "/oidc/jwks";
/// RP-initiated logout.
pub const END_SESSION_PATH: &str = "/oidc/logout";
/// The discovery document.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The discovery document of the provider at `issuer` (an origin, no trailing slash).
pub fn metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "end_session_endpoint": format!("{issuer}{END_SESSION_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": Alg::ALL.map(Alg::as_str),
        "scopes_supported": ["openid", "offline_access"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

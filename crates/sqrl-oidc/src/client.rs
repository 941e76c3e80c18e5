//! Relying parties ("clients"): their registration, redirect URIs and authentication.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::b64url;
use crate::keys::Alg;

/// How a client's users are named to it (OpenID Connect Core §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// A different `sub` for the same user at each client (the default): two applications
    /// cannot tell they share a user from the identifier.
    Pairwise,
    /// The same `sub` at every client that asks for it (the account id).
    Public,
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// `client_id`: random, 22 base64url characters.
    pub id: String,
    /// The name users see ("Log in to Wiki via …").
    pub name: String,
    /// The exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The exact URIs a logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// SHA-256 of the client secret, hex; `None` for a public client (PKCE only).
    pub secret_sha256: Option<String>,
    /// Authorization requests must carry a PKCE S256 challenge.
    pub pkce_required: bool,
    /// The ID token signing algorithm.
    pub alg: Alg,
    /// Pairwise (default) or public subjects.
    pub subject: SubjectType,
    /// Registered as part of the site: no consent page.
    pub first_party: bool,
    /// When it was registered (Unix seconds).
    pub created_at: u64,
}

/// What `client add` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The name users see.
    pub name: String,
    /// At least one redirect URI.
    pub redirect_uris: Vec<String>,
    /// Where logouts may return.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret: PKCE only).
    pub public: bool,
    /// Let this client leave PKCE out (for apps that cannot do it; confidential only).
    pub no_pkce: bool,
    /// The ID token algorithm.
    pub alg: Alg,
    /// Public subjects instead of pairwise.
    pub public_subject: bool,
    /// No consent page.
    pub first_party: bool,
}

/// Why a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// The name is empty or too long.
    #[error("the name must have 1 to 100 characters")]
    BadName,
    /// No redirect URI.
    #[error("at least one --redirect-uri is needed")]
    NoRedirectUri,
    /// A redirect URI the provider will not send codes to.
    #[error("{uri}: {why}")]
    BadUri {
        /// The URI.
        uri: String,
        /// Why.
        why: &'static str,
    },
    /// A public client must use PKCE: it has nothing else to prove the code is its own.
    #[error("a public client must use PKCE (--public and --no-pkce together are refused)")]
    PublicWithoutPkce,
}

/// A client secret, shown once.
#[derive(Debug, Clone)]
pub struct ClientSecret(pub Zeroizing<String>);

impl Registration {
    /// Checks the registration and makes the client (and its secret unless public).
    pub fn register(
        &self,
        rng: &mut impl CryptoRngCore,
        now: u64,
    ) -> Result<(Client, Option<ClientSecret>), RegistrationError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(RegistrationError::BadName);
        }
        if self.redirect_uris.is_empty() {
            return Err(RegistrationError::NoRedirectUri);
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            check_redirect_uri(uri).map_err(|why| RegistrationError::BadUri {
                uri: uri.clone(),
                why,
            })?;
        }
        if self.public && self.no_pkce {
            return Err(RegistrationError::PublicWithoutPkce);
        }
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let secret = (!self.public).then(|| {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut());
            ClientSecret(Zeroizing::new(b64url(bytes.as_ref())))
        });
        let client = Client {
            id: b64url(&id),
            name: name.to_owned(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            secret_sha256: secret.as_ref().map(|s| sha256_hex(s.0.as_bytes())),
            pkce_required: !self.no_pkce,
            alg: self.alg,
            subject: if self.public_subject {
                SubjectType::Public
            } else {
                SubjectType::Pairwise
            },
            first_party: self.first_party,
            created_at: now,
        };
        Ok((client, secret))
    }
}

impl Client {
    /// A public client: no secret, PKCE only.
    pub fn is_public(&self) -> bool {
        self.secret_sha256.is_none()
    }

    /// Whether `uri` is one of the registered redirect URIs (exact, character for character).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `uri` is one of the registered post-logout URIs.
    pub fn has_post_logout_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `secret` is this client's secret (in constant time; false for public clients).
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_sha256 {
            Some(stored) => {
                let given = sha256_hex(secret.as_bytes());
                bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
            }
            None => false,
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A redirect URI the provider may send codes to: absolute, `https` (or `http` to a loopback
/// host, for apps on the user's machine and for tests), no fragment, no user info.
pub fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(uri).map_err(|_| "not an absolute URL")?;
    if parsed.fragment().is_some() {
        return Err("a redirect URI cannot have a #fragment");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a redirect URI cannot carry user:password@");
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => {
            Err("plain http is allowed only to a loopback host (127.0.0.1, [::1], localhost)")
        }
        _ => Err("the scheme must be https"),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn registration() -> Registration {
        Registration {
            name: "Wiki".into(),
            redirect_uris: vec!["https://wiki.example/cb".into()],
            post_logout_redirect_uris: vec![],
            public: false,
            no_pkce: false,
            alg: Alg::Rs256,
            public_subject: false,
            first_party: false,
        }
    }

    #[test]
    fn a_confidential_client_gets_a_secret_stored_only_as_its_hash() {
        let (client, secret) = registration().register(&mut OsRng, 1).unwrap();
        let secret = secret.unwrap();
        assert!(client.secret_matches(&secret.0));
        assert!(!client.secret_matches("wrong"));
        assert_ne!(client.secret_sha256.as_deref(), Some(secret.0.as_str()));
        assert!(client.pkce_required);
        assert_eq!(client.subject, SubjectType::Pairwise);
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http() {
        for ok in [
            "https://a.example/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost/x?y=1",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://a.example/cb",
            "https://a.example/cb#frag",
            "https://u:p@a.example/cb",
            "/relative",
            "javascript:alert(1)",
            "ftp://a.example/",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_public_client_without_pkce_is_refused() {
        let mut r = registration();
        r.public = true;
        r.no_pkce = true;
        assert_eq!(
            r.register(&mut OsRng, 1).err(),
            Some(RegistrationError::PublicWithoutPkce)
        );
        r.no_pkce = false;
        let (client, secret) = r.register(&mut OsRng, 1).unwrap();
        assert!(client.is_public() && secret.is_none());
        assert!(!client.secret_matches(""));
    }
}

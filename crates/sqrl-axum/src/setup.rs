//! The short way in: an origin and a store give a layer with the defaults a website wants.
//!
//! - The two secret keys (sealing nuts, binding browsers to their codes) are made from the
//!   operating system's random source the first time and kept in the store, so a restart or
//!   another instance on the same store opens every code and cookie issued before.
//! - Cookies are `Secure` (the session cookie `__Host-`) exactly when the origin is `https://`,
//!   so the same code runs on a laptop over plain loopback HTTP and in production.
//! - After a login the browser goes back to `/`, the page that showed the code.
//! - The rate limits of [`HttpSettings::default`] and of the driver are on.
//! - [`Builder::start`] builds the layer and starts its housekeeping.

use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use sqrl_server::{Config, Endpoint, SqrlServer, Store, StoreError};
use zeroize::Zeroizing;

use crate::{Builder, HttpSettings, SqrlHttp};

/// Why [`SqrlHttp::setup`] or [`Builder::start`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The origin is not `http://host[:port]` or `https://host[:port]`.
    Origin(String),
    /// The store could not read or keep the site's keys.
    Keys(StoreError),
    /// [`Builder::start`] ran outside a tokio runtime, so housekeeping could not start.
    NoRuntime,
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Origin(origin) => write!(
                f,
                "{origin:?} is not an origin: write http(s)://host[:port], with no path"
            ),
            Self::Keys(e) => write!(f, "cannot read or keep the site's keys in the store: {e}"),
            Self::NoRuntime => f.write_str("start the SQRL layer inside a tokio runtime"),
        }
    }
}

impl std::error::Error for SetupError {}

/// `(secure, host[:port])` of an `http(s)://host[:port]` origin.
fn split_origin(origin: &str) -> Option<(bool, &str)> {
    let (secure, rest) = match origin.split_once("://")? {
        ("https", rest) => (true, rest),
        ("http", rest) => (false, rest),
        _ => return None,
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let bad = |c: char| c.is_whitespace() || "/?#@".contains(c);
    (!host.is_empty() && !host.contains(bad)).then_some((secure, host))
}

/// A secret key of the site: the stored one, or `fresh` random bytes stored now.
async fn site_key(store: &dyn Store, name: &str) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let mut fresh = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(fresh.as_mut());
    store.site_key(name, &fresh).await
}

impl SqrlHttp {
    /// A layer for the site at `origin` (`https://example.com`, or `http://127.0.0.1:3000`
    /// while developing) on `store`, with the defaults of this module; add hooks to the
    /// returned builder, then [`Builder::start`] it.
    pub async fn setup(origin: &str, store: Arc<dyn Store>) -> Result<Builder, SetupError> {
        let (secure, host) =
            split_origin(origin).ok_or_else(|| SetupError::Origin(origin.to_owned()))?;
        let mut config = Config::new(host);
        config.origin = origin.trim_end_matches('/').to_owned();
        let nut_key = site_key(store.as_ref(), "nut")
            .await
            .map_err(SetupError::Keys)?;
        let browser_key = site_key(store.as_ref(), "browser")
            .await
            .map_err(SetupError::Keys)?;
        let server = Endpoint::new(config, &nut_key, &browser_key);
        let settings = HttpSettings {
            secure_cookies: secure,
            after_login: "/".into(),
            ..HttpSettings::default()
        };
        Ok(SqrlHttp::builder(SqrlServer::new(server, store)).settings(settings))
    }
}

impl Builder {
    /// Builds the layer and starts its housekeeping on the current tokio runtime (see
    /// [`SqrlHttp::spawn_housekeeping`]).
    pub fn start(self) -> Result<SqrlHttp, SetupError> {
        let http = self.build();
        http.spawn_housekeeping()
            .map_err(|_| SetupError::NoRuntime)?;
        Ok(http)
    }
}

#[cfg(test)]
mod tests {
    use super::split_origin;

    #[test]
    fn origins_are_scheme_and_authority_only() {
        assert_eq!(
            split_origin("https://example.com"),
            Some((true, "example.com"))
        );
        assert_eq!(
            split_origin("https://example.com/"),
            Some((true, "example.com"))
        );
        assert_eq!(
            split_origin("http://127.0.0.1:3000"),
            Some((false, "127.0.0.1:3000"))
        );
        assert_eq!(
            split_origin("http://[::1]:3000"),
            Some((false, "[::1]:3000"))
        );
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https://example.com/login",
            "https://user@example.com",
            "https://example.com?x=1",
            "https://exa mple.com",
        ] {
            assert_eq!(split_origin(bad), None, "{bad}");
        }
    }
}

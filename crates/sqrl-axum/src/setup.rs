//! The short way in: an origin and a store give a layer with the defaults a website wants.
//!
//! - The two secret keys (sealing nuts, binding browsers to their codes) are made from the
//!   operating system's random source the first time and kept in the store, so a restart or
//!   another instance on the same store opens every code and cookie issued before.
//! - Cookies are `Secure` (the session cookie `__Host-`) exactly when the origin is `https://`,
//!   so the same code runs on a laptop over plain loopback HTTP and in production; plain HTTP
//!   is refused for any host but loopback ([`Origin::parse`]).
//! - Login codes are accepted from any earlier start: the store keeps the flows. If yours
//!   keeps them in this process's memory (a [`sqrl_server::SplitStore`] with a
//!   [`sqrl_server::MemoryStore`] for flows), build the [`SqrlServer`] yourself with
//!   [`Config::codes_not_before`] set to the start time and use [`SqrlHttp::builder`], so a
//!   code used before a restart cannot open a new flow after it.
//! - After a login the browser goes back to `/`, the page that showed the code.
//! - The rate limits of [`HttpSettings::default`] and of the driver are on.
//! - [`Builder::start`] builds the layer and starts its housekeeping.

use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use sqrl_server::{Config, Endpoint, SqrlServer, Store, StoreError};
use zeroize::Zeroizing;

use crate::{Builder, HttpSettings, Origin, OriginError, SqrlHttp};

/// Why [`SqrlHttp::setup`] or [`Builder::start`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The origin is not `https://host[:port]`, or `http://` with a loopback host.
    Origin(OriginError),
    /// The store could not read or keep the site's keys.
    Keys(StoreError),
    /// [`Builder::start`] ran outside a tokio runtime, so housekeeping could not start.
    NoRuntime,
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Origin(e) => write!(f, "not a site origin: {e}"),
            Self::Keys(e) => write!(f, "cannot read or keep the site's keys in the store: {e}"),
            Self::NoRuntime => f.write_str("start the SQRL layer inside a tokio runtime"),
        }
    }
}

impl std::error::Error for SetupError {}

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
        let origin = Origin::parse(origin, false).map_err(SetupError::Origin)?;
        let mut config = Config::new(&origin.host_port);
        config.origin = origin.url;
        let nut_key = site_key(store.as_ref(), "nut")
            .await
            .map_err(SetupError::Keys)?;
        let browser_key = site_key(store.as_ref(), "browser")
            .await
            .map_err(SetupError::Keys)?;
        let server = Endpoint::new(config, &nut_key, &browser_key);
        let settings = HttpSettings {
            secure_cookies: origin.secure,
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

//! The SQRL endpoint without IO: its configuration and its two keys. What it does lives by
//! job, each in its own module: `receive` (the checks needing no stored state), `decide` (the
//! decision on a loaded snapshot), `reply` (the reply and its commit) and `browser` (the
//! browser's side).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqrl_proto::b64;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::nut::{Nut, NutCodec};

/// SHA-256 of a text.
pub(crate) fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// HMAC-SHA256 of the concatenated `parts` (`None` only if the `hmac` crate refused the key,
/// which it does for no key length).
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().into())
}

/// The SQRL endpoint's decisions: configuration and the two keys, nothing else.
pub struct Endpoint {
    pub(crate) config: Config,
    pub(crate) codec: NutCodec,
    pub(crate) browser_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A server with its two keys: nut sealing and browser secrets.
    pub fn new(config: Config, nut_key: &[u8; 32], browser_key: &[u8; 32]) -> Self {
        Self {
            config,
            codec: NutCodec::new(nut_key),
            browser_key: Zeroizing::new(*browser_key),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `sqrl://` URL of a nut.
    pub fn url_for_nut(&self, nut: &str) -> String {
        format!("sqrl://{}{}?nut={nut}", self.config.host, self.config.path)
    }

    /// The `sqrl://` URL of a nut minted for the application `app`
    /// ([`Endpoint::start_flow_for`]): [`Endpoint::url_for_nut`] plus `&app=` and the name
    /// in base64url; without it when `app` is empty.
    pub fn url_for_app(&self, nut: &str, app: &str) -> String {
        let url = self.url_for_nut(nut);
        if app.is_empty() {
            url
        } else {
            format!("{url}&app={}", b64::encode(app))
        }
    }

    /// Opens a nut minted by this server (`None` for anything else).
    pub fn open_nut(&self, nut: &str) -> Option<Nut> {
        self.codec.open(nut)
    }

    /// Opens a nut minted for the application `app` (`""`: none).
    pub fn open_nut_for(&self, nut: &str, app: &str) -> Option<Nut> {
        self.codec.open_for(nut, app)
    }

    /// The same-device link: the QR URL plus `can=` (where the client sends the browser when
    /// the user cancels).
    pub fn link_with_cancel(&self, url: &str, cancel: &str) -> String {
        format!("{url}&can={}", b64::encode(cancel))
    }

    pub(crate) fn home(&self) -> String {
        format!("{}/", self.config.origin)
    }
}

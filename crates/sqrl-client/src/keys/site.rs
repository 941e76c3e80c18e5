//! Per-site keys: `seed = HMAC-SHA256(IMK, auth domain [‖ 0x00 ‖ alt-id])`, then Ed25519.

use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqrl_proto::Bytes32;
use zeroize::Zeroize;

use super::enhash::enhash;
use super::secret::secret32;

secret32!(
    /// Identity Master Key: `EnHash(IUK)`. Keys every per-site HMAC.
    Imk
);

secret32!(
    /// The 32-byte per-site seed, `HMAC-SHA256(IMK, auth domain [‖ 0x00 ‖ alt-id])`: the
    /// Ed25519 private key seed for one site.
    SiteSeed
);

/// HMAC-SHA256 keyed with 32 bytes, by the `hmac` crate, without a path to a panic: the key
/// is given as a zero-padded block (what HMAC does with a key shorter than the block, RFC 2104
/// §2) to hmac's infallible `KeyInit::new`, and the copy is zeroized.
pub(crate) fn hmac_sha256(key: &[u8; 32], message: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if let Some(head) = block.get_mut(..32) {
        head.copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    block.zeroize();
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Imk {
    /// The seed for `auth_domain` (see [`sqrl_proto::SqrlUrl::auth_domain`]) and an optional
    /// alternate identity; an empty `alt_id` means none (no separator is added).
    pub fn site_seed(&self, auth_domain: &str, alt_id: &str) -> SiteSeed {
        let seed = if alt_id.is_empty() {
            hmac_sha256(self.expose(), &[auth_domain.as_bytes()])
        } else {
            hmac_sha256(
                self.expose(),
                &[auth_domain.as_bytes(), &[0u8], alt_id.as_bytes()],
            )
        };
        SiteSeed::from_bytes(seed)
    }

    /// The site key pair for `auth_domain` and `alt_id`.
    pub fn site_key(&self, auth_domain: &str, alt_id: &str) -> SiteKey {
        SiteKey::from_seed(self.site_seed(auth_domain, alt_id))
    }
}

/// One site's Ed25519 key pair. Its public half is the `idk` the site knows the user by.
#[derive(Clone)]
pub struct SiteKey {
    seed: SiteSeed,
    signing: SigningKey,
}

impl core::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SiteKey")
            .field("idk", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl SiteKey {
    /// The key pair for a seed.
    pub fn from_seed(seed: SiteSeed) -> Self {
        let signing = SigningKey::from_bytes(seed.expose());
        Self { seed, signing }
    }

    /// The public key: the `idk` (or `pidk`) sent to the site.
    pub fn public_key(&self) -> Bytes32 {
        Bytes32(self.signing.verifying_key().to_bytes())
    }

    /// A detached Ed25519 signature (`ids`/`pids`) over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The indexed secret for a server's `sin`: `HMAC-SHA256(EnHash(seed), sin)`.
    pub fn indexed_secret(&self, sin: &str) -> Bytes32 {
        let mut key = enhash(self.seed.expose());
        let ins = hmac_sha256(&key, &[sin.as_bytes()]);
        key.zeroize();
        Bytes32(ins)
    }
}

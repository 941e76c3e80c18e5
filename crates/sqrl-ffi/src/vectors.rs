//! Known-answer functions over raw keys, compiled only with the `vectors` feature: the
//! binding tests replay the community vectors through them, in the bindings' own languages.
//! A shipped library never has them (they take and return raw key bytes).

use std::sync::Arc;

use sqrl_client::exchange::Keys;
use sqrl_client::keys::{self, Imk, Iuk, Rlk};
use sqrl_client::storage::base56;

use crate::error::SqrlError;
use crate::identity::UnlockedIdentity;

fn bytes32(bytes: &[u8]) -> Result<[u8; 32], SqrlError> {
    bytes
        .try_into()
        .map_err(|_| SqrlError::InvalidIdentity("a key is 32 bytes".to_owned()))
}

/// The keys derived from an identity unlock key, as the identity vectors list them.
#[derive(Debug, uniffi::Record)]
pub struct VectorKeys {
    /// Identity lock key.
    pub ilk: Vec<u8>,
    /// Identity master key.
    pub imk: Vec<u8>,
    /// The unlocked identity made from these keys (for `public_key`).
    pub unlocked: Arc<UnlockedIdentity>,
}

/// IUK → ILK, IMK, and the unlocked identity whose `public_key` gives the site keys.
#[uniffi::export]
pub fn vector_identity(iuk: Vec<u8>) -> Result<VectorKeys, SqrlError> {
    let iuk = Iuk::from_bytes(bytes32(&iuk)?);
    let (imk, ilk) = (iuk.imk(), iuk.ilk());
    Ok(VectorKeys {
        ilk: ilk.expose().to_vec(),
        imk: imk.expose().to_vec(),
        unlocked: UnlockedIdentity::wrap(Keys::new(imk, ilk, Vec::new())),
    })
}

/// The identity lock's values, as the identity-lock vectors list them.
#[derive(Debug, uniffi::Record)]
pub struct VectorLock {
    /// Identity lock key.
    pub ilk: Vec<u8>,
    /// Server unlock key.
    pub suk: Vec<u8>,
    /// The Diffie-Hellman key agreement that unlocks.
    pub dhka: Vec<u8>,
    /// Verify unlock key.
    pub vuk: Vec<u8>,
}

/// IUK and a random lock value → ILK, SUK, DHKA, VUK.
#[uniffi::export]
pub fn vector_identity_lock(iuk: Vec<u8>, rlk: Vec<u8>) -> Result<VectorLock, SqrlError> {
    let iuk = Iuk::from_bytes(bytes32(&iuk)?);
    let ilk = iuk.ilk();
    let lock = ilk.lock(Rlk::from_bytes(bytes32(&rlk)?));
    let dhka = iuk.dhka(&lock.suk);
    Ok(VectorLock {
        ilk: ilk.expose().to_vec(),
        suk: lock.suk.0.to_vec(),
        dhka: dhka.expose().to_vec(),
        vuk: lock.vuk.0.to_vec(),
    })
}

/// The indexed secret (`ins`) for a server's `sin`, from an IMK at a site (a `sqrl://`
/// link or a bare host, as `UnlockedIdentity.public_key` takes it).
#[uniffi::export]
pub fn vector_ins(imk: Vec<u8>, site: String, sin: String) -> Result<Vec<u8>, SqrlError> {
    let imk = Imk::from_bytes(bytes32(&imk)?);
    let url = crate::link::site_url(&site)?;
    Ok(imk
        .site_key(url.auth_domain(), "")
        .indexed_secret(&sin)
        .0
        .to_vec())
}

/// EnScrypt of a password and salt, with the bindings' progress listener.
#[uniffi::export]
pub fn vector_enscrypt(
    password: Vec<u8>,
    salt: Vec<u8>,
    iterations: u32,
) -> Result<Vec<u8>, SqrlError> {
    let key = keys::enscrypt(&password, &salt, iterations, |_, _| {})?;
    Ok(key.expose().to_vec())
}

/// The textual (base56, check characters, spaces and line breaks) form of raw bytes, as
/// `Identity.export_textual` writes the rescue-code block.
#[uniffi::export]
pub fn vector_base56_textual(bytes: Vec<u8>) -> String {
    base56::encode(&bytes)
}

/// Raw bytes back from the textual form, as `Identity.import_text` reads it.
#[uniffi::export]
pub fn vector_base56_decode(text: String) -> Result<Vec<u8>, SqrlError> {
    Ok(base56::decode(&text)?)
}

/// One line of the textual form: the base56 digits of `bytes` and the check character of
/// line `line` (0-based).
#[uniffi::export]
pub fn vector_base56_line(bytes: Vec<u8>, line: u8) -> Vec<String> {
    let digits = base56::encode_digits(&bytes);
    let check = base56::check_char(&digits, line).to_string();
    vec![digits, check]
}

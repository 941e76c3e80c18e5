//! EnHash: sixteen chained SHA-256 hashes, XORed together.

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// `EnHash(x) = h1 ⊕ h2 ⊕ … ⊕ h16` where `h1 = SHA-256(x)` and `h(i) = SHA-256(h(i-1))`.
///
/// Turns the IUK into the IMK, and a site seed into the key of its indexed secrets.
pub fn enhash(input: &[u8; 32]) -> [u8; 32] {
    let mut hash: [u8; 32] = Sha256::digest(input).into();
    let mut out = hash;
    for _ in 1..16 {
        hash = Sha256::digest(hash).into();
        for (o, h) in out.iter_mut().zip(hash.iter()) {
            *o ^= h;
        }
    }
    hash.zeroize();
    out
}

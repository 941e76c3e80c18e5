//! The identity lock: keys that let a site verify a Rescue-Code-backed unlock request without
//! ever learning anything that links the user across sites.
//!
//! * `ILK = X25519(IUK, base)`, kept by the client (encrypted under the password).
//! * Per association a random `RLK`: `SUK = X25519(RLK, base)`, `DHKA = X25519(RLK, ILK)`,
//!   `VUK = Ed25519 public key of seed DHKA`. The site stores SUK and VUK.
//! * To unlock, the client (with the IUK from the rescue code) computes
//!   `DHKA = X25519(IUK, SUK)` — the same value — and signs with `URSK = Ed25519(seed DHKA)`.

use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::CryptoRngCore;
use sqrl_proto::Bytes32;
use x25519_dalek::{x25519, X25519_BASEPOINT_BYTES};

use super::enhash::enhash;
use super::secret::secret32;
use super::site::Imk;

secret32!(
    /// Identity Unlock Key: the 256-bit root of an identity. Stored only under the rescue code.
    Iuk
);

secret32!(
    /// Identity Lock Key: `X25519(IUK, base)`.
    Ilk
);

secret32!(
    /// Random Lock Key: chosen per association and discarded after use.
    Rlk
);

secret32!(
    /// Diffie-Hellman key agreement value: the seed of the unlock key pair (VUK / URSK).
    Dhka
);

impl Iuk {
    /// A fresh IUK from a cryptographic RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// `IMK = EnHash(IUK)`.
    pub fn imk(&self) -> Imk {
        Imk::from_bytes(enhash(self.expose()))
    }

    /// `ILK = X25519(IUK, base)`.
    pub fn ilk(&self) -> Ilk {
        Ilk::from_bytes(x25519(*self.expose(), X25519_BASEPOINT_BYTES))
    }

    /// `DHKA = X25519(IUK, SUK)`: the unlock seed for a site that returned `suk`.
    pub fn dhka(&self, suk: &Bytes32) -> Dhka {
        Dhka::from_bytes(x25519(*self.expose(), suk.0))
    }

    /// The Unlock Request Signing Key for a site's stored `suk`.
    pub fn unlock_request_signing_key(&self, suk: &Bytes32) -> UnlockKey {
        UnlockKey::from_dhka(&self.dhka(suk))
    }
}

impl Rlk {
    /// A fresh RLK from a cryptographic RNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// `SUK = X25519(RLK, base)`.
    pub fn suk(&self) -> Bytes32 {
        Bytes32(x25519(*self.expose(), X25519_BASEPOINT_BYTES))
    }

    /// `DHKA = X25519(RLK, ILK)`.
    pub fn dhka(&self, ilk: &Ilk) -> Dhka {
        Dhka::from_bytes(x25519(*self.expose(), *ilk.expose()))
    }
}

/// The `suk`/`vuk` pair a client sends with a new association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityLock {
    /// Server Unlock Key.
    pub suk: Bytes32,
    /// Verify Unlock Key.
    pub vuk: Bytes32,
}

impl Ilk {
    /// Locks a new association with a random lock key (`rlk` is used once, then dropped).
    pub fn lock(&self, rlk: Rlk) -> IdentityLock {
        let vuk = UnlockKey::from_dhka(&rlk.dhka(self)).verify_key();
        IdentityLock {
            suk: rlk.suk(),
            vuk,
        }
    }
}

/// The unlock key pair: private half URSK (signs `urs`), public half VUK.
#[derive(Clone)]
pub struct UnlockKey(SigningKey);

impl core::fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("UnlockKey")
            .field(&self.verify_key())
            .finish()
    }
}

impl UnlockKey {
    /// The key pair whose seed is `dhka`.
    pub fn from_dhka(dhka: &Dhka) -> Self {
        Self(SigningKey::from_bytes(dhka.expose()))
    }

    /// VUK: what the site stores to check `urs`.
    pub fn verify_key(&self) -> Bytes32 {
        Bytes32(self.0.verifying_key().to_bytes())
    }

    /// The `urs` signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

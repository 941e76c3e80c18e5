//! The SQRL key hierarchy (`spec/keys.md`).
//!
//! ```text
//! IUK ──EnHash──▶ IMK ──HMAC-SHA256(auth domain [‖0‖alt-id])──▶ site seed ──Ed25519──▶ idk / ids
//!  │                                                              └─EnHash─▶ HMAC(sin) = ins
//!  └─X25519 base──▶ ILK ──(with a random RLK)──▶ SUK, VUK       IUK + SUK ──▶ URSK ──▶ urs
//! password / rescue code ──EnScrypt──▶ AES-GCM key of the S4 blocks
//! ```

mod enhash;
mod enscrypt;
mod lock;
mod secret;
mod site;

pub use enhash::enhash;
pub use enscrypt::{enscrypt, enscrypt_for, enscrypt_while, EnScryptKey, LOG2_N, P, R};
pub use lock::{Dhka, IdentityLock, Ilk, Iuk, Rlk, UnlockKey};
pub use site::{Imk, SiteKey, SiteSeed};

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
pub use enscrypt::{
    enscrypt, enscrypt_cancellable, enscrypt_for, enscrypt_while, EnScryptKey, LOG2_N,
    MAX_ITERATIONS, P, R,
};
pub use lock::{Dhka, IdentityLock, Ilk, Iuk, Rlk, UnlockKey};
pub use site::{Imk, SiteKey, SiteSeed};

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn enscrypt_time_mode_stores_a_count_that_reproduces_the_key() {
        let mut calls = 0;
        let (key, n) = enscrypt_for(b"pw", b"salt", Duration::from_millis(120), |done, total| {
            assert!(done <= total);
            calls += 1;
        })
        .unwrap();
        assert!(n >= 1);
        assert_eq!(calls, n);
        let mut progress = Vec::new();
        let again = enscrypt(b"pw", b"salt", n, |done, total| {
            progress.push((done, total))
        })
        .unwrap();
        assert_eq!(again, key);
        assert_eq!(progress.last(), Some(&(n, n)));
    }

    #[test]
    fn enscrypt_refuses_an_iteration_count_over_the_cap_before_working() {
        for count in [MAX_ITERATIONS + 1, u32::MAX] {
            let started = std::time::Instant::now();
            assert_eq!(
                enscrypt(b"pw", b"salt", count, |_, _| {}).unwrap_err(),
                crate::error::IdentityError::TooManyIterations {
                    found: count,
                    limit: MAX_ITERATIONS
                }
            );
            assert!(started.elapsed() < Duration::from_millis(100));
        }
    }

    #[test]
    fn enscrypt_needs_an_iteration() {
        assert_eq!(
            enscrypt(b"pw", b"salt", 0, |_, _| {}).unwrap_err(),
            crate::error::IdentityError::ZeroIterations
        );
    }

    #[test]
    fn secrets_never_print_their_bytes() {
        let iuk = Iuk::from_bytes([0xAB; 32]);
        let imk = iuk.imk();
        let seed = imk.site_seed("example.com", "");
        let texts = [
            format!("{iuk:?}"),
            format!("{imk:?}"),
            format!("{:?}", iuk.ilk()),
            format!("{seed:?}"),
            format!("{:?}", Rlk::from_bytes([0xAB; 32])),
        ];
        for text in &texts {
            assert!(text.ends_with("(<redacted>)"), "{text}");
            assert!(!text.contains("ab") && !text.contains("AB") && !text.contains("171"));
        }
        let site = imk.site_key("example.com", "");
        let shown = format!("{site:?}");
        assert!(shown.contains(&site.public_key().encode()));
        assert!(!shown.contains(&sqrl_proto::b64::encode(seed.expose())));
    }

    #[test]
    fn alt_ids_give_unrelated_keys() {
        let imk = Imk::from_bytes([5; 32]);
        let plain = imk.site_key("example.com", "").public_key();
        assert_ne!(plain, imk.site_key("example.com", "work").public_key());
        assert_ne!(plain, imk.site_key("example.com/", "").public_key());
        assert_ne!(plain, imk.site_key("example.org", "").public_key());
        // The separator keeps "a" + alt "bc" apart from "ab" + alt "c".
        assert_ne!(
            imk.site_key("a", "bc").public_key(),
            imk.site_key("ab", "c").public_key()
        );
    }

    #[test]
    fn secret_equality_is_by_value() {
        assert_eq!(Iuk::from_bytes([1; 32]), Iuk::from_bytes([1; 32]));
        assert_ne!(Iuk::from_bytes([1; 32]), Iuk::from_bytes([2; 32]));
    }
}

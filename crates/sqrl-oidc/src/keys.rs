//! Signing keys: generation, JWS compact signatures (RFC 7515 §7.1), the JWKS, rotation, and
//! the verification of tokens this provider signed (an `id_token_hint`).
//!
//! The cryptography is aws-lc-rs: it generates and uses RSA keys (ring cannot generate them;
//! the `rsa` crate has an unfixed timing advisory), P-256 and Ed25519. The JWS layer on top is
//! small on purpose: the provider only signs, and only verifies tokens it signed itself, with
//! the key named by `kid` and that key's own algorithm (the header's `alg` must equal it; a
//! token cannot choose how it is checked).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{b64url, b64url_decode};

/// An ID token signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: every relying party must accept it.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    /// Every algorithm, RS256 first.
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

impl core::str::FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown algorithm {s:?}: use RS256, ES256 or EdDSA"))
    }
}

/// A signing key as stored: PKCS#8, with its `kid` and life.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The algorithm it signs with.
    pub alg: Alg,
    /// The private key, PKCS#8 v1 DER, base64url.
    pub pkcs8: Zeroizing<String>,
    /// When it was made (Unix seconds).
    pub created_at: u64,
    /// When it starts signing: a rotated key is published first, for longer than relying
    /// parties and caches keep the JWKS ([`PUBLISHED_BEFORE_SIGNING`]).
    #[serde(default)]
    pub not_before: u64,
    /// When a newer key replaced it for signing (it stays published until the tokens it signed
    /// have expired).
    pub retired_at: Option<u64>,
}

impl core::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// A key problem (a corrupt stored key, a failed signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The cryptographic library refused (key generation or signing failed).
    #[error("the cryptographic library failed: {0}")]
    Crypto(&'static str),
    /// A stored key does not parse.
    #[error("stored signing key {kid} is corrupt")]
    Corrupt {
        /// Its id.
        kid: String,
    },
    /// No key signs with this algorithm (run the key rotation command).
    #[error("no signing key for {0}")]
    NoKey(&'static str),
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed signing key.
pub struct SigningKey {
    record: KeyRecord,
    pair: Pair,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.record.fmt(f)
    }
}

impl SigningKey {
    /// A new key (the operating system's random source, through aws-lc).
    pub fn generate(alg: Alg, now: u64) -> Result<Self, KeyError> {
        let fail = |_| KeyError::Crypto("key generation");
        let der: Zeroizing<Vec<u8>> = Zeroizing::new(match alg {
            Alg::Rs256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(fail)?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(fail)?;
                der.as_ref().to_vec()
            }
            Alg::Es256 => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|p| p.to_pkcs8v1())
                .map_err(fail)?
                .as_ref()
                .to_vec(),
            Alg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|p| p.to_pkcs8v1())
                .map_err(fail)?
                .as_ref()
                .to_vec(),
        });
        let pair = parse(alg, &der).ok_or(KeyError::Crypto("key generation"))?;
        let kid = thumbprint(&public_jwk(&pair));
        Ok(Self {
            record: KeyRecord {
                kid,
                alg,
                pkcs8: Zeroizing::new(b64url(&der)),
                created_at: now,
                not_before: now,
                retired_at: None,
            },
            pair,
        })
    }

    /// A stored key.
    pub fn from_record(record: KeyRecord) -> Result<Self, KeyError> {
        let corrupt = || KeyError::Corrupt {
            kid: record.kid.clone(),
        };
        let der = Zeroizing::new(b64url_decode(&record.pkcs8).ok_or_else(corrupt)?);
        let pair = parse(record.alg, &der).ok_or_else(corrupt)?;
        Ok(Self { record, pair })
    }

    /// The stored form.
    pub fn record(&self) -> &KeyRecord {
        &self.record
    }

    /// The public key as a JWK, with `kid`, `alg` and `use`.
    pub fn jwk(&self) -> Value {
        let mut jwk = public_jwk(&self.pair);
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), json!(self.record.kid));
            map.insert("alg".into(), json!(self.record.alg.as_str()));
            map.insert("use".into(), json!("sig"));
        }
        jwk
    }

    /// `claims` as a signed JWT (JWS compact serialization).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": self.record.alg.as_str(), "kid": self.record.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let fail = |_| KeyError::Crypto("signing");
        let sig = match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .map_err(fail)?;
                sig
            }
            Pair::Ec(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(fail)?
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        match &self.pair {
            Pair::Rsa(pair) => {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pair.public_key())
                    .verify(input, sig)
            }
            Pair::Ec(pair) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key())
                    .verify(input, sig)
            }
            Pair::Ed(pair) => {
                UnparsedPublicKey::new(&signature::ED25519, pair.public_key()).verify(input, sig)
            }
        }
        .is_ok()
    }
}

fn parse(alg: Alg, der: &[u8]) -> Option<Pair> {
    match alg {
        Alg::Rs256 => RsaKeyPair::from_pkcs8(der).ok().map(Pair::Rsa),
        Alg::Es256 => EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .ok()
            .map(Pair::Ec),
        Alg::EdDsa => Ed25519KeyPair::from_pkcs8(der).ok().map(Pair::Ed),
    }
}

/// The public JWK members (RFC 7517/7518/8037), in the lexicographic order of RFC 7638.
fn public_jwk(pair: &Pair) -> Value {
    match pair {
        Pair::Rsa(pair) => {
            let public = pair.public_key();
            json!({
                "e": b64url(public.exponent().big_endian_without_leading_zero()),
                "kty": "RSA",
                "n": b64url(public.modulus().big_endian_without_leading_zero()),
            })
        }
        Pair::Ec(pair) => {
            // An uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let x = point.get(1..33).unwrap_or_default();
            let y = point.get(33..65).unwrap_or_default();
            json!({"crv": "P-256", "kty": "EC", "x": b64url(x), "y": b64url(y)})
        }
        Pair::Ed(pair) => {
            json!({"crv": "Ed25519", "kty": "OKP", "x": b64url(pair.public_key().as_ref())})
        }
    }
}

/// RFC 7638: SHA-256 of the required members, sorted, without white space. `serde_json`
/// keeps object members sorted by name, so the serialization is the canonical one.
fn thumbprint(jwk: &Value) -> String {
    b64url(&Sha256::digest(jwk.to_string().as_bytes()))
}

/// How long a retired key stays published: the longest a token it signed lives, and a margin.
pub const RETIRED_KEY_PUBLISHED_FOR: u64 = crate::ID_TOKEN_LIFETIME + 3600;

/// How long a rotated key is published before it signs: longer than the JWKS may be cached
/// (5 minutes) and than instances take to re-read the keys (30 seconds), so no relying party
/// meets a `kid` it cannot find.
pub const PUBLISHED_BEFORE_SIGNING: u64 = 900;

/// The provider's keys: one signs per algorithm (the newest not retired), all are published.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// The keys of these records (a corrupt one is an error: the provider must not start with
    /// a key it cannot use, nor silently drop one relying parties still trust).
    pub fn from_records(records: Vec<KeyRecord>) -> Result<Self, KeyError> {
        let mut keys = records
            .into_iter()
            .map(SigningKey::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        // Newest first; the same order on every instance (the JWKS is byte for byte the same).
        keys.sort_by(|a, b| {
            b.record
                .created_at
                .cmp(&a.record.created_at)
                .then_with(|| a.record.kid.cmp(&b.record.kid))
        });
        Ok(Self { keys })
    }

    /// The key that signs with `alg` at `now`: the newest one whose signing has begun and
    /// has not ended.
    pub fn active(&self, alg: Alg, now: u64) -> Result<&SigningKey, KeyError> {
        self.keys
            .iter()
            .find(|k| {
                k.record.alg == alg
                    && k.record.not_before <= now
                    && k.record.retired_at.is_none_or(|at| now < at)
            })
            .ok_or(KeyError::NoKey(alg.as_str()))
    }

    /// The algorithms with no key that signs, now or later.
    pub fn missing(&self) -> Vec<Alg> {
        Alg::ALL
            .into_iter()
            .filter(|alg| {
                !self
                    .keys
                    .iter()
                    .any(|k| k.record.alg == *alg && k.record.retired_at.is_none())
            })
            .collect()
    }

    /// The JWK Set: every key not retired longer than [`RETIRED_KEY_PUBLISHED_FOR`].
    pub fn jwks(&self, now: u64) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| {
                k.record
                    .retired_at
                    .is_none_or(|at| now < at.saturating_add(RETIRED_KEY_PUBLISHED_FOR))
            })
            .map(SigningKey::jwk)
            .collect();
        json!({ "keys": keys })
    }

    /// The claims of a JWT this provider signed with one of its published keys, checked with
    /// that key's own algorithm (`None` for anything else, including `alg: none`).
    pub fn verify(&self, token: &str, now: u64) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, claims, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&b64url_decode(header)?).ok()?;
        let kid = header.get("kid")?.as_str()?;
        let key = self.keys.iter().find(|k| {
            k.record.kid == kid
                && k.record
                    .retired_at
                    .is_none_or(|at| now < at.saturating_add(RETIRED_KEY_PUBLISHED_FOR))
        })?;
        if header.get("alg")?.as_str()? != key.record.alg.as_str() {
            return None;
        }
        let input_len = header_len(token)?;
        let input = token.get(..input_len)?;
        if !key.verify(input.as_bytes(), &b64url_decode(sig)?) {
            return None;
        }
        serde_json::from_slice(&b64url_decode(claims)?).ok()
    }
}

/// The length of `header.claims` in a compact JWS.
fn header_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

/// The records after a rotation of `alg`'s key: `fresh` is published now and signs from
/// [`PUBLISHED_BEFORE_SIGNING`] later, when the key it replaces retires (it stays published
/// for the tokens it signed); keys retired too long ago to matter are dropped.
pub fn rotate(records: Vec<KeyRecord>, fresh: &SigningKey, now: u64) -> Vec<KeyRecord> {
    let alg = fresh.record.alg;
    let switch = now.saturating_add(PUBLISHED_BEFORE_SIGNING);
    let mut out: Vec<KeyRecord> = records
        .into_iter()
        .filter(|r| {
            r.retired_at
                .is_none_or(|at| now < at.saturating_add(RETIRED_KEY_PUBLISHED_FOR))
        })
        .map(|mut r| {
            if r.alg == alg && r.retired_at.is_none_or(|at| at > switch) {
                r.retired_at = Some(switch);
            }
            r
        })
        .collect();
    let mut fresh = fresh.record.clone();
    fresh.not_before = switch;
    out.push(fresh);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_signs_and_verifies_and_publishes_its_key() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg, 100).unwrap();
            let ring = KeyRing::from_records(vec![key.record().clone()]).unwrap();
            let token = ring
                .active(alg, 100)
                .unwrap()
                .sign(&json!({"sub": "x"}))
                .unwrap();
            assert_eq!(
                ring.verify(&token, 100),
                Some(json!({"sub": "x"})),
                "{alg:?}"
            );
            let jwks = ring.jwks(100);
            assert_eq!(jwks["keys"][0]["kid"], json!(key.record().kid));
            assert_eq!(jwks["keys"][0]["alg"], json!(alg.as_str()));
            assert!(jwks["keys"][0].get("d").is_none(), "no private member");
        }
    }

    #[test]
    fn a_token_naming_another_alg_than_its_key_is_not_verified() {
        let key = SigningKey::generate(Alg::EdDsa, 1).unwrap();
        let ring = KeyRing::from_records(vec![key.record().clone()]).unwrap();
        let token = key.sign(&json!({"a": 1})).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        for alg in ["none", "HS256", "RS256"] {
            let header = b64url(
                json!({"alg": alg, "kid": key.record().kid})
                    .to_string()
                    .as_bytes(),
            );
            assert_eq!(ring.verify(&format!("{header}.{rest}"), 1), None, "{alg}");
        }
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert_eq!(ring.verify(&tampered, 1), None);
    }

    #[test]
    fn rotation_publishes_first_then_signs_and_keeps_the_old_key_until_its_tokens_expire() {
        let old = SigningKey::generate(Alg::Es256, 0).unwrap();
        let fresh = SigningKey::generate(Alg::Es256, 10).unwrap();
        let records = rotate(vec![old.record().clone()], &fresh, 10);
        let ring = KeyRing::from_records(records.clone()).unwrap();
        let switch = 10 + PUBLISHED_BEFORE_SIGNING;
        assert_eq!(
            ring.jwks(11)["keys"].as_array().unwrap().len(),
            2,
            "published at once"
        );
        assert_eq!(
            ring.active(Alg::Es256, 11).unwrap().record().kid,
            old.record().kid,
            "the old key signs until the switch"
        );
        assert_eq!(
            ring.active(Alg::Es256, switch).unwrap().record().kid,
            fresh.record().kid
        );
        assert!(!ring.missing().contains(&Alg::Es256));
        let old_token = old.sign(&json!({})).unwrap();
        assert!(ring.verify(&old_token, switch + 1).is_some());
        let late = switch + RETIRED_KEY_PUBLISHED_FOR;
        assert_eq!(ring.jwks(late)["keys"].as_array().unwrap().len(), 1);
        assert!(ring.verify(&old_token, late).is_none());
        let fresher = SigningKey::generate(Alg::Es256, late).unwrap();
        assert_eq!(
            rotate(records, &fresher, late).len(),
            2,
            "the expired key is dropped"
        );
    }
}

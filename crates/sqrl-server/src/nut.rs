//! Nuts: the single-use nonces of an exchange.
//!
//! The nut in a QR code costs the server no stored state: it is the flow id in the clear
//! followed by the issue time, the browser's IP address and a coarse browser/OS code, sealed
//! with AES-256-GCM under a server key (nonce = the first 12 bytes of the random flow id,
//! AAD = the flow id). Nuts in replies are the flow id followed by 12 random bytes; the flow's
//! stored record says which one is expected next, so every nut is accepted once.

use std::net::{IpAddr, Ipv6Addr};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use sqrl_proto::b64;

use crate::useragent::BrowserInfo;

/// 128 random bits naming one login flow (one QR code).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub [u8; 16]);

impl FlowId {
    /// A fresh random id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }

    /// base64url text.
    pub fn encode(&self) -> String {
        b64::encode(self.0)
    }

    /// From base64url text.
    pub fn decode(text: &str) -> Option<Self> {
        b64::decode_array(text, "flow").ok().map(Self)
    }

    /// The flow's compare code, 10 to 99: the login page shows it beside the QR code and the
    /// phone's question quotes it, so a user asked about a code that is not the one on their
    /// screen has one more thing that does not match. Derived from the id (SHA-256 under its
    /// own label), so the page and the SQRL endpoint agree without storing it. It is no
    /// secret: whoever sees the page sees it (`spec/server.md` §3 says what it stops).
    pub fn compare_code(&self) -> u8 {
        let digest = Sha256::new()
            .chain_update(b"sqrl-rs compare code v1\0")
            .chain_update(self.0)
            .finalize();
        let [a, b, ..]: [u8; 32] = digest.into();
        // 0..=89 fits in a u8, and so does 10 + it.
        (u16::from_be_bytes([a, b]) % 90) as u8 + 10
    }
}

impl core::fmt::Debug for FlowId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FlowId({})", self.encode())
    }
}

/// What a QR nut carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrNut {
    /// The flow.
    pub flow: FlowId,
    /// Issue time, seconds since the Unix epoch.
    pub issued_at: u64,
    /// The IP address of the browser that loaded the login page.
    pub browser_ip: IpAddr,
    /// Browser and OS from its User-Agent.
    pub browser: BrowserInfo,
}

/// What a nut turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nut {
    /// The nut of a QR code / link (first request of an exchange).
    Qr(QrNut),
    /// A nut from one of our replies: the flow, and the nut text to compare with the record.
    Reply(FlowId),
}

const QR_PLAIN: usize = 4 + 16 + 2;
const QR_LEN: usize = 16 + QR_PLAIN + 16;
const REPLY_LEN: usize = 16 + 12;

/// Mints and opens nuts under one 256-bit key.
pub struct NutCodec {
    cipher: Aes256Gcm,
}

impl core::fmt::Debug for NutCodec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NutCodec(<key redacted>)")
    }
}

/// The seal's associated data: the flow id, then the application's name (none before it was
/// added, so the nuts of codes without one are unchanged).
fn aad(flow: &FlowId, app: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + app.len());
    aad.extend_from_slice(&flow.0);
    aad.extend_from_slice(app.as_bytes());
    aad
}

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn ip_from(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl NutCodec {
    /// A codec with the server's nut key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&(*key).into()),
        }
    }

    fn nonce(flow: &FlowId) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&flow.0[..12]);
        Nonce::from(nonce)
    }

    /// The nut for a QR code.
    pub fn mint_qr(&self, nut: &QrNut) -> String {
        self.mint_qr_for(nut, "")
    }

    /// The nut for a QR code whose URL names the application `app` (`&app=`, see
    /// [`Endpoint::start_flow_for`](crate::Endpoint::start_flow_for)): the name is
    /// authenticated with the nut (the seal's associated data), so a relayed code cannot be
    /// given another application's name. `""`: no application.
    pub fn mint_qr_for(&self, nut: &QrNut, app: &str) -> String {
        let mut data = [0u8; QR_PLAIN];
        // u32 seconds last until 2106.
        data[..4].copy_from_slice(&(nut.issued_at.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        data[4..20].copy_from_slice(&ip_bytes(nut.browser_ip));
        data[20] = nut.browser.browser as u8;
        data[21] = nut.browser.os as u8;
        let tag = self
            .cipher
            .encrypt_in_place_detached(&Self::nonce(&nut.flow), &aad(&nut.flow, app), &mut data)
            .map(<[u8; 16]>::from)
            .unwrap_or([0; 16]);
        let mut out = Vec::with_capacity(QR_LEN);
        out.extend_from_slice(&nut.flow.0);
        out.extend_from_slice(&data);
        out.extend_from_slice(&tag);
        b64::encode(out)
    }

    /// A fresh nut for a reply in `flow`.
    pub fn mint_reply(flow: &FlowId, rng: &mut impl CryptoRngCore) -> String {
        let mut out = [0u8; REPLY_LEN];
        out[..16].copy_from_slice(&flow.0);
        rng.fill_bytes(&mut out[16..]);
        b64::encode(out)
    }

    /// Reads a nut; `None` for anything we did not mint (forged, altered, wrong length).
    pub fn open(&self, text: &str) -> Option<Nut> {
        self.open_for(text, "")
    }

    /// [`NutCodec::open`] for a QR nut minted by [`NutCodec::mint_qr_for`] with `app`
    /// (`None` when the application's name is not the one it was minted with).
    pub fn open_for(&self, text: &str, app: &str) -> Option<Nut> {
        if text.len() > 80 {
            return None;
        }
        let bytes = b64::decode(text).ok()?;
        let flow = FlowId(bytes.get(..16)?.try_into().ok()?);
        match bytes.len() {
            REPLY_LEN => Some(Nut::Reply(flow)),
            QR_LEN => {
                let mut data: [u8; QR_PLAIN] = bytes.get(16..16 + QR_PLAIN)?.try_into().ok()?;
                let tag: [u8; 16] = bytes.get(16 + QR_PLAIN..)?.try_into().ok()?;
                self.cipher
                    .decrypt_in_place_detached(
                        &Self::nonce(&flow),
                        &aad(&flow, app),
                        &mut data,
                        &Tag::from(tag),
                    )
                    .ok()?;
                let issued: [u8; 4] = data.get(..4)?.try_into().ok()?;
                let ip: [u8; 16] = data.get(4..20)?.try_into().ok()?;
                Some(Nut::Qr(QrNut {
                    flow,
                    issued_at: u64::from(u32::from_le_bytes(issued)),
                    browser_ip: ip_from(ip),
                    browser: BrowserInfo::from_codes(*data.get(20)?, *data.get(21)?),
                }))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    /// The compare code is two digits and spreads over them: a code that rarely changed
    /// would match a relayed page's by chance.
    #[test]
    fn compare_codes_are_two_digits_and_spread() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..=u8::MAX {
            let code = FlowId([i; 16]).compare_code();
            assert!((10..=99).contains(&code), "{code}");
            seen.insert(code);
        }
        assert!(seen.len() > 60, "only {} distinct codes", seen.len());
        assert_eq!(
            FlowId([7; 16]).compare_code(),
            FlowId([7; 16]).compare_code()
        );
    }

    use super::*;
    use crate::useragent::{Browser, Os};

    struct Counter(u8);
    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.0 = self.0.wrapping_add(1);
            u32::from(self.0)
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Counter {}

    fn sample() -> QrNut {
        QrNut {
            flow: FlowId::generate(&mut Counter(0)),
            issued_at: 1_795_000_000,
            browser_ip: "203.0.113.9".parse().unwrap(),
            browser: BrowserInfo {
                browser: Browser::Firefox,
                os: Os::Linux,
            },
        }
    }

    #[test]
    fn qr_nut_round_trips_and_is_short() {
        let codec = NutCodec::new(&[9; 32]);
        let nut = sample();
        let text = codec.mint_qr(&nut);
        assert_eq!(text.len(), 72);
        assert_eq!(codec.open(&text), Some(Nut::Qr(nut)));
        let v6 = QrNut {
            browser_ip: "2001:db8::7".parse().unwrap(),
            ..nut
        };
        assert_eq!(codec.open(&codec.mint_qr(&v6)), Some(Nut::Qr(v6)));
    }

    #[test]
    fn altered_or_foreign_nuts_do_not_open() {
        let codec = NutCodec::new(&[9; 32]);
        let text = codec.mint_qr(&sample());
        let mut bytes = b64::decode(&text).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(codec.open(&b64::encode(&bytes)), None, "byte {i}");
            bytes[i] ^= 1;
        }
        assert_eq!(NutCodec::new(&[8; 32]).open(&text), None);
        for junk in ["", "abc", "!!!!", &"A".repeat(500)] {
            assert_eq!(codec.open(junk), None);
        }
    }

    #[test]
    fn reply_nuts_name_their_flow() {
        let flow = FlowId([3; 16]);
        let nut = NutCodec::mint_reply(&flow, &mut Counter(0));
        assert_eq!(nut.len(), 38);
        assert_eq!(NutCodec::new(&[0; 32]).open(&nut), Some(Nut::Reply(flow)));
        assert_ne!(nut, NutCodec::mint_reply(&flow, &mut Counter(50)));
    }
}

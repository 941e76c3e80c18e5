//! GRC's published end-to-end identity ("Spec-Vectors-Identity", SQRL Cryptography v1.04
//! pp. 30-33, transcribed in `../shared/sqrl/vectors/grc-spec-identity.md`): IUK → IMK/ILK,
//! IMK → the site key for `sqrl.grc.com`, the exact query and ident POST bodies with the
//! published `ids` signatures (Ed25519 is deterministic, so they must match bit for bit), and
//! the published EnScrypt results for the password, the rescue code and the QuickPass hint.
//!
//! Every value is read from the shared file by its label, not copied here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use sqrl_client::keys::{enscrypt, Imk, Iuk};
use sqrl_proto::{
    b64, signing_input, Bytes32, ClientParams, Command, RequestBody, ServerParams, SqrlUrl, Tif,
};

struct Published(String);

fn is_hex(n: usize) -> impl Fn(&str) -> bool {
    move |t| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_b64(t: &str) -> bool {
    t.len() > 8 && t.bytes().all(b64::is_alphabet)
}

impl Published {
    fn load() -> Option<Self> {
        let path = common::shared_vectors()?.join("grc-spec-identity.md");
        Some(Self(std::fs::read_to_string(path).unwrap()))
    }

    /// The first token after the `n`-th occurrence of `label` that satisfies `pred`.
    fn token(&self, label: &str, n: usize, pred: impl Fn(&str) -> bool) -> String {
        let start = self
            .0
            .match_indices(label)
            .nth(n)
            .unwrap_or_else(|| panic!("{label:?} #{n} not found in grc-spec-identity.md"))
            .0
            + label.len();
        self.0[start..]
            .split_whitespace()
            .map(|t| t.trim_matches(|c: char| "=:(),\"".contains(c)))
            .find(|t| pred(t))
            .unwrap_or_else(|| panic!("no matching value after {label:?}"))
            .to_owned()
    }

    fn hex32(&self, label: &str) -> [u8; 32] {
        hex::decode(self.token(label, 0, is_hex(64)))
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// A `name=value` field of the POST transcripts (`n`-th request).
    fn field(&self, name: &str, n: usize) -> String {
        self.token(&format!("\n{name}="), n, is_b64)
    }

    /// The `n`-th published response body.
    fn response(&self, n: usize) -> String {
        self.token("-> response body", n, |t| {
            is_b64(t) && t.starts_with("dmVy")
        })
    }
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn iuk_gives_published_imk_and_ilk() {
    let Some(p) = Published::load() else { return };
    let iuk = Iuk::from_bytes(p.hex32("-> IUK (derived)"));
    assert_eq!(iuk.imk().expose(), &p.hex32("IMK = EnHash(IUK)"));
    assert_eq!(iuk.ilk().expose(), &p.hex32("ILK = X25519_base(IUK)"));
}

fn site_key(p: &Published) -> (SqrlUrl, sqrl_client::keys::SiteKey) {
    let imk = Imk::from_bytes(p.hex32("IMK = EnHash(IUK)"));
    let url = SqrlUrl::parse(&p.token("Site:", 0, |t| t.starts_with("sqrl://"))).unwrap();
    assert_eq!(
        url.auth_domain(),
        p.token("ID hash string", 0, |t| t.contains('.'))
    );
    let key = imk.site_key(url.auth_domain(), "");
    (url, key)
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn imk_gives_published_site_key() {
    let Some(p) = Published::load() else { return };
    let imk = Imk::from_bytes(p.hex32("IMK = EnHash(IUK)"));
    let (url, key) = site_key(&p);
    assert_eq!(
        imk.site_seed(url.auth_domain(), "").expose(),
        &p.hex32("HMAC256(IMK, \"sqrl.grc.com\")")
    );
    assert_eq!(key.public_key().0, p.hex32("Site public key"));
    assert_eq!(key.public_key().encode(), p.token("IDK", 0, is_b64));
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn query_and_ident_bodies_match_the_transcript() {
    let Some(p) = Published::load() else { return };
    let (url, key) = site_key(&p);

    // Transaction 1: query with opt=cps~suk; the first `server` is the SQRL URL itself.
    let mut query = ClientParams::new(Command::Query, key.public_key());
    query.opt.cps = true;
    query.opt.suk = true;
    let client = query.encode().unwrap();
    let server = b64::encode(url.as_str());
    assert_eq!(client, p.field("client", 0));
    assert_eq!(server, p.field("server", 0));
    let ids = key.sign(&signing_input(&client, &server));
    assert_eq!(b64::encode(ids), p.field("ids", 0));
    let body = RequestBody::new(client, server, &ids, None, None);
    let parsed = RequestBody::parse(body.encode().as_bytes()).unwrap();
    parsed
        .verify_identity_signatures(&parsed.client().unwrap())
        .unwrap();
    assert_eq!(
        url.request_url(),
        format!("https://sqrl.grc.com{}", url.path_and_query())
    );

    // The reply: known identity, same IP, with the stored SUK.
    let reply_text = p.response(0);
    let reply = ServerParams::decode(&reply_text).unwrap();
    assert_eq!(reply.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
    assert!(reply.suk.is_some());
    assert_eq!(
        reply.encode().unwrap(),
        reply_text,
        "reply re-encodes identically"
    );

    // Transaction 2: ident echoes the reply text exactly.
    let mut ident = query.clone();
    ident.command = Command::Ident;
    let client = ident.encode().unwrap();
    assert_eq!(client, p.field("client", 1));
    assert_eq!(reply_text, p.field("server", 1));
    let ids = key.sign(&signing_input(&client, &reply_text));
    assert_eq!(b64::encode(ids), p.field("ids", 1));
    assert_eq!(
        url.request_url_for(&reply.qry).unwrap(),
        "https://sqrl.grc.com/cli.sqrl?nut=1WM9lfF1ST-z"
    );

    // CPS: the ident reply carries the url= the client sends the browser to.
    let final_reply = ServerParams::decode(&p.response(1)).unwrap();
    assert_eq!(final_reply.tif.bits(), 5);
    assert!(final_reply
        .url
        .unwrap()
        .starts_with("https://sqrl.grc.com/"));
    assert_eq!(final_reply.suk, reply.suk.map(|s: Bytes32| s));
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn password_enscrypt_matches_published_key() {
    let Some(p) = Published::load() else { return };
    let password = p.token("Password           :", 0, |t| !t.is_empty());
    let salt = hex::decode(p.token("SQRL-PASS.log): salt", 0, is_hex(32))).unwrap();
    let iterations: u32 = p
        .token("N-factor 9,", 0, |t| t.parse::<u32>().is_ok())
        .parse()
        .unwrap();
    assert_eq!(iterations, 179);
    let key = enscrypt(password.as_bytes(), &salt, iterations, |_, _| {}).unwrap();
    assert_eq!(key.expose(), &p.hex32(&format!("\"{password}\" ->")));
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn rescue_code_enscrypt_matches_derived_key() {
    let Some(p) = Published::load() else { return };
    let input = p.token("EnScrypt input:", 0, |t| t.len() == 24);
    let salt = hex::decode(p.token("type=2 salt", 0, is_hex(32))).unwrap();
    let key = enscrypt(input.as_bytes(), &salt, 179, |_, _| {}).unwrap();
    assert_eq!(
        key.expose(),
        &p.hex32("EnScrypt(rescue code, salt, 179) (derived)")
    );
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn quickpass_enscrypt_matches_published_key() {
    let Some(p) = Published::load() else { return };
    let salt = hex::decode(p.token("QuickPass: EnScrypt(\"Zing\", salt", 0, is_hex(32))).unwrap();
    let key = enscrypt(b"Zing", &salt, 31, |_, _| {}).unwrap();
    assert_eq!(key.expose(), &p.hex32("31 iterations)"));
}

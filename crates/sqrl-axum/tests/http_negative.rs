//! The negative matrix over real HTTP on loopback (SQLite store): replays, another flow's nut,
//! byte flips in `client`/`server`/`ids`, forged echoes, another site's key, an expired nut,
//! a foreign IP without `noiptest`, an unknown command, a wrong version, concurrent idents,
//! ident after reject. Each is answered 200 with the right TIF, and nothing changes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use sqrl_client::keys::{Imk, Iuk, SiteKey};
use sqrl_proto::{
    b64, signing_input, Button, Bytes32, ClientParams, Command, RequestBody, ServerParams, Tif,
};
use sqrl_server::http::{HttpSettings, SqrlHttp};
use sqrl_server::{Config, Lifetimes, SqliteStore, SqrlService, Store};

struct Site {
    base: String,
    http: SqrlHttp<SqliteStore>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(nut_lifetime: u64) -> Site {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sqrl-http-neg-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = Config::new(&format!("127.0.0.1:{port}"));
    config.origin = format!("http://127.0.0.1:{port}");
    config.lifetimes = Lifetimes {
        nut: nut_lifetime,
        redeem: 120,
    };
    let service = SqrlService::new(
        config,
        &[1; 32],
        &[2; 32],
        SqliteStore::open(dir.join("s.sqlite")).unwrap(),
    );
    let settings = HttpSettings {
        secure_cookies: false,
        trust_forwarded_for: true,
        ..HttpSettings::default()
    };
    let http = SqrlHttp::builder(service).settings(settings).build();
    common::serve(listener, http.clone());
    Site {
        base: format!("http://127.0.0.1:{port}"),
        http,
        _dir: TempDir(dir),
    }
}

/// A phone driven by hand: it signs what it is told to, as a faithful or a hostile client.
#[derive(Clone)]
struct Phone {
    site: SiteKey,
    base: String,
    query: String,
    server_text: String,
    ip: &'static str,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
}

impl Phone {
    /// A new login code from a browser at 192.0.2.10, scanned by this identity.
    fn scan(site: &Site, imk: &Imk) -> Self {
        let response = agent()
            .post(&format!("{}/sqrl/new", site.base))
            .set("X-Forwarded-For", "192.0.2.10")
            .call()
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&response.into_string().unwrap()).unwrap();
        let url = json["url"].as_str().unwrap().to_owned();
        Self {
            site: imk.site_key("127.0.0.1", ""),
            base: site.base.clone(),
            query: url.split_once('?').unwrap().1.to_owned(),
            server_text: b64::encode(&url),
            ip: "192.0.2.10",
        }
    }

    fn params(&self, command: Command) -> ClientParams {
        let mut p = ClientParams::new(command, self.site.public_key());
        if p.command == Command::Ident {
            let suk = Bytes32([5; 32]);
            p.suk = Some(suk);
            p.vuk = Some(
                Iuk::from_bytes([6; 32])
                    .unlock_request_signing_key(&suk)
                    .verify_key(),
            );
            p.btn = Some(Button::First);
        }
        p
    }

    fn body(&self, params: &ClientParams) -> String {
        let client = params.encode().unwrap();
        let ids = self.site.sign(&signing_input(&client, &self.server_text));
        RequestBody::new(client, self.server_text.clone(), &ids, None, None).encode()
    }

    fn post(&self, body: &str) -> (u16, String) {
        let response = agent()
            .post(&format!("{}/sqrl?{}", self.base, self.query))
            .set("X-Forwarded-For", self.ip)
            .send_string(body);
        match response {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    }

    fn tif(&self, body: &str) -> u32 {
        let (status, reply) = self.post(body);
        assert_eq!(status, 200, "{reply}");
        ServerParams::decode(&reply).unwrap().tif.bits()
    }

    /// Sends a command and follows a successful reply like a client.
    fn step(&mut self, command: Command) -> (u32, String) {
        let body = self.body(&self.params(command));
        let (_, reply) = self.post(&body);
        let parsed = ServerParams::decode(&reply).unwrap();
        if !parsed.tif.contains(Tif::COMMAND_FAILED) {
            self.server_text = reply;
            self.query = parsed.qry.split_once('?').unwrap().1.to_owned();
        }
        (parsed.tif.bits(), body)
    }
}

fn accounts(site: &Site, imk: &Imk) -> bool {
    site.http
        .service()
        .store()
        .account(&imk.site_key("127.0.0.1", "").public_key())
        .unwrap()
        .is_some()
}

#[test]
fn replayed_query_and_ident() {
    let site = start(300);
    let imk = Imk::from_bytes([7; 32]);
    let mut phone = Phone::scan(&site, &imk);
    let first = phone.clone();
    let (tif, query) = phone.step(Command::Query);
    assert_eq!(tif, 0x04);
    assert_eq!(first.tif(&query), 0x60, "replayed query");
    let before_ident = phone.clone();
    let (tif, ident) = phone.step(Command::Ident);
    assert_eq!(tif, 0x05);
    assert_eq!(before_ident.tif(&ident), 0x60, "replayed ident");
}

#[test]
fn byte_flips_forged_echoes_other_keys_and_other_flows() {
    let site = start(300);
    let imk = Imk::from_bytes([7; 32]);
    let phone = Phone::scan(&site, &imk);
    let body = phone.body(&phone.params(Command::Query));
    for (field, start) in [("client=", 0), ("server=", 0), ("ids=", 0)] {
        let at = body.find(field).unwrap() + field.len() + 10 + start;
        let mut bytes = body.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            phone.tif(&String::from_utf8(bytes).unwrap()),
            0xC0,
            "flip in {field}"
        );
    }
    // another site's key signs
    let params = phone.params(Command::Query);
    let client = params.encode().unwrap();
    let ids = imk
        .site_key("evil.example", "")
        .sign(&signing_input(&client, &phone.server_text));
    assert_eq!(
        phone.tif(&RequestBody::new(client, phone.server_text.clone(), &ids, None, None).encode()),
        0xC0
    );
    // one flow's URL echoed with another flow's nut
    let other = Phone::scan(&site, &imk);
    let mixed = Phone {
        query: other.query.clone(),
        ..phone.clone()
    };
    assert_eq!(mixed.tif(&mixed.body(&mixed.params(Command::Query))), 0xC0);

    // forged echo: the reply altered (tif, then qry) and faithfully signed
    let mut phone = Phone::scan(&site, &imk);
    phone.step(Command::Query);
    for forge in [
        (|p: &mut ServerParams| p.tif = Tif::from_bits(0x5)) as fn(&mut ServerParams),
        |p: &mut ServerParams| p.qry = format!("{}&x=1", p.qry),
    ] {
        let mut reply = ServerParams::decode(&phone.server_text).unwrap();
        forge(&mut reply);
        let forged = Phone {
            server_text: reply.encode().unwrap(),
            ..phone.clone()
        };
        assert_eq!(
            forged.tif(&forged.body(&forged.params(Command::Ident))),
            0xC0
        );
    }
    assert!(!accounts(&site, &imk));
    let (tif, _) = phone.step(Command::Ident);
    assert_eq!(tif, 0x05, "the genuine ident still works");
}

#[test]
fn expired_nut_is_a_transient_error() {
    let site = start(1);
    let imk = Imk::from_bytes([7; 32]);
    let mut phone = Phone::scan(&site, &imk);
    std::thread::sleep(Duration::from_millis(2100));
    let (tif, _) = phone.step(Command::Query);
    assert_eq!(tif, 0x60);
    assert!(!accounts(&site, &imk));
}

#[test]
fn foreign_ip_needs_noiptest() {
    let site = start(300);
    let imk = Imk::from_bytes([7; 32]);
    let mut phone = Phone::scan(&site, &imk);
    phone.ip = "198.51.100.7";
    let (tif, _) = phone.step(Command::Query);
    assert_eq!(tif, 0x00, "query reports the IPs differ");
    let (_, reply) = phone.post(&phone.body(&phone.params(Command::Ident)));
    let parsed = ServerParams::decode(&reply).unwrap();
    assert_eq!(parsed.tif.bits(), 0x40, "exactly 0x40 without noiptest");
    assert!(!accounts(&site, &imk));
    // The refusal keeps the exchange going: its reply's nut takes a retry with noiptest.
    phone.server_text = reply;
    phone.query = parsed.qry.split_once('?').unwrap().1.to_owned();
    let mut p = phone.params(Command::Ident);
    p.opt.noiptest = true;
    assert_eq!(phone.tif(&phone.body(&p)), 0x01);
    assert!(accounts(&site, &imk));
}

#[test]
fn unknown_command_and_wrong_version() {
    let site = start(300);
    let imk = Imk::from_bytes([7; 32]);
    let mut phone = Phone::scan(&site, &imk);
    phone.step(Command::Query);
    assert_eq!(
        phone.tif(&phone.body(&phone.params(Command::Other("frob".into())))),
        0x54
    );
    let mut p = phone.params(Command::Query);
    p.version = sqrl_proto::VersionSet::parse("7").unwrap();
    assert_eq!(phone.tif(&phone.body(&p)), 0x50);
}

#[test]
fn two_concurrent_idents_one_wins() {
    let site = start(300);
    for round in 0..5u8 {
        let imk = Imk::from_bytes([round; 32]);
        let mut phone = Phone::scan(&site, &imk);
        phone.step(Command::Query);
        let mut a = phone.params(Command::Ident);
        a.btn = Some(Button::First);
        let mut b = phone.params(Command::Ident);
        b.btn = Some(Button::Ok);
        let bodies = [phone.body(&a), phone.body(&b)];
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<u32> = bodies
            .into_iter()
            .map(|body| {
                let (phone, barrier) = (phone.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    phone.tif(&body)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let mut sorted = results.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0x05, 0x60], "round {round}: {results:x?}");
    }
}

#[test]
fn ident_after_reject() {
    let site = start(300);
    let imk = Imk::from_bytes([7; 32]);
    let mut phone = Phone::scan(&site, &imk);
    phone.step(Command::Query);
    let mut p = phone.params(Command::Ident);
    p.btn = Some(Button::Second);
    let (_, reply) = phone.post(&phone.body(&p));
    let parsed = ServerParams::decode(&reply).unwrap();
    assert_eq!(parsed.tif.bits(), 0x44);
    phone.server_text = reply;
    phone.query = parsed.qry.split_once('?').unwrap().1.to_owned();
    let (tif, _) = phone.step(Command::Ident);
    assert_eq!(tif, 0x40);
    assert!(!accounts(&site, &imk));
}

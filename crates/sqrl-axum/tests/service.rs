//! The SQRL endpoint without HTTP: full logins driven by the real client's exchange, and the
//! negative matrix with hand-built requests — each checked for its TIF and for changing
//! nothing. The clock is a number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_arguments
)]

use std::net::IpAddr;
use std::sync::{Arc, Barrier};

use rand_core::OsRng;
use sqrl_client::exchange::{
    Action, Config as ClientConfig, Decision, Exchange, Keys, Outcome, Prompt,
};
use sqrl_client::keys::{Imk, Iuk, Rlk, SiteKey};
use sqrl_proto::{
    b64, signing_input, Button, ClientParams, Command, RequestBody, ServerParams, SqrlUrl, Tif,
};
use sqrl_server::{BrowserError, Config, FlowError, Incoming, MemoryStore, SqrlService, Status};

const T0: u64 = 1_800_000_000;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn service() -> SqrlService<MemoryStore> {
    SqrlService::new(
        Config::new("example.com"),
        &[1; 32],
        &[2; 32],
        MemoryStore::new(),
    )
}

fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

/// Drives the real client's exchange against the service, all requests from `phone_ip`.
fn client(
    service: &SqrlService<MemoryStore>,
    url: &str,
    keys: &Keys,
    action: Action,
    config: ClientConfig,
    phone_ip: IpAddr,
    now: u64,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, sqrl_client::Error> {
    let parsed = SqrlUrl::parse(url).unwrap();
    let (exchange, first) =
        Exchange::start(parsed, action, keys, config, Rlk::generate(&mut OsRng))?;
    let send = |request: &sqrl_client::exchange::Request| {
        let incoming = Incoming {
            query: query_of(&request.url),
            body: request.body.as_bytes(),
            client_ip: phone_ip,
            now,
        };
        Ok(service.handle(&incoming, &mut OsRng).body)
    };
    exchange.drive(first, send, decide)
}

fn keys(iuk: &Iuk) -> Keys {
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

fn log_in(
    service: &SqrlService<MemoryStore>,
    keys: &Keys,
    now: u64,
) -> (sqrl_server::NewFlow, Outcome) {
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, now, &mut OsRng);
    let outcome = client(
        service,
        &flow.url,
        keys,
        Action::Login,
        ClientConfig::default(),
        ip("192.0.2.10"),
        now,
        |_| Decision::Button(Button::First),
    )
    .unwrap();
    (flow, outcome)
}

#[test]
fn new_account_then_known_then_browser_redeems_once() {
    let service = service();
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys(&iuk);
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0, &mut OsRng);
    assert!(flow.url.starts_with("sqrl://example.com/sqrl?nut="));
    assert_eq!(
        service.store().flow_count(),
        0,
        "an unscanned code stores nothing"
    );
    assert_eq!(
        service.status(&flow.flow, &flow.browser_secret, Some(T0), T0 + 1),
        Ok(Status::New)
    );

    let mut asked = None;
    let outcome = client(
        &service,
        &flow.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        ip("192.0.2.10"),
        T0 + 5,
        |p| {
            asked = p.ask.clone();
            assert!(p.ips_matched);
            Decision::Button(Button::First)
        },
    )
    .unwrap();
    assert!(outcome.new_association);
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
    let question = asked.unwrap().message;
    assert!(
        question.contains("Firefox on Linux") && question.contains("192.0.2.10"),
        "{question}"
    );
    assert_eq!(service.store().account_count(), 1);

    assert_eq!(
        service.status(&flow.flow, &flow.browser_secret, Some(T0), T0 + 6),
        Ok(Status::Confirmed)
    );
    let idk = iuk.imk().site_key("example.com", "").public_key();
    assert_eq!(
        service.redeem(&flow.flow, &flow.browser_secret, T0 + 6),
        Ok(idk)
    );
    assert_eq!(
        service.redeem(&flow.flow, &flow.browser_secret, T0 + 7),
        Err(BrowserError::Flow(FlowError::WrongState))
    );
    assert_eq!(
        service.status(&flow.flow, &flow.browser_secret, Some(T0), T0 + 7),
        Ok(Status::Redeemed)
    );

    let (_, outcome) = log_in(&service, &keys, T0 + 100);
    assert!(!outcome.new_association);
    assert_eq!(service.store().account_count(), 1);
}

#[test]
fn only_the_browser_with_the_secret_sees_and_redeems() {
    let service = service();
    let keys = keys(&Iuk::generate(&mut OsRng));
    let (flow, _) = log_in(&service, &keys, T0);
    let other = service.start_flow(ip("192.0.2.99"), FIREFOX, T0, &mut OsRng);
    // Knowing the nut (and so the flow id) is not enough.
    assert_eq!(
        service.redeem(&flow.flow, &other.browser_secret, T0 + 1),
        Err(BrowserError::Unknown)
    );
    assert_eq!(
        service.redeem(&flow.flow, "", T0 + 1),
        Err(BrowserError::Unknown)
    );
    assert_eq!(
        service.status(&flow.flow, &other.browser_secret, None, T0 + 1),
        Err(BrowserError::Unknown)
    );
    assert!(service
        .redeem(&flow.flow, &flow.browser_secret, T0 + 1)
        .is_ok());
}

#[test]
fn declined_on_the_phone_rejects_the_flow() {
    let service = service();
    let keys = keys(&Iuk::generate(&mut OsRng));
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0, &mut OsRng);
    let err = client(
        &service,
        &flow.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        ip("192.0.2.10"),
        T0,
        |_| Decision::Button(Button::Second),
    )
    .unwrap_err();
    assert!(
        matches!(err, sqrl_client::Error::CommandFailed(_)),
        "{err:?}"
    );
    assert_eq!(
        service.status(&flow.flow, &flow.browser_secret, Some(T0), T0 + 1),
        Ok(Status::Rejected)
    );
    assert!(service
        .redeem(&flow.flow, &flow.browser_secret, T0 + 1)
        .is_err());
    assert_eq!(service.store().account_count(), 0);
}

#[test]
fn cps_token_logs_in_once_and_the_waiting_page_cannot() {
    let service = service();
    let keys = keys(&Iuk::generate(&mut OsRng));
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0, &mut OsRng);
    let config = ClientConfig {
        cps: true,
        ..ClientConfig::default()
    };
    let outcome = client(
        &service,
        &flow.url,
        &keys,
        Action::Login,
        config,
        ip("192.0.2.10"),
        T0,
        |_| Decision::Approve,
    )
    .unwrap();
    let url = outcome.redirect.unwrap();
    let token = url.split("token=").nth(1).unwrap();
    assert!(url.starts_with("https://example.com/sqrl/cps?token="));
    assert_eq!(
        service.status(&flow.flow, &flow.browser_secret, Some(T0), T0),
        Ok(Status::ConfirmedElsewhere)
    );
    assert!(service
        .redeem(&flow.flow, &flow.browser_secret, T0 + 1)
        .is_err());
    assert!(service.redeem_cps(token, T0 + 1).is_ok());
    assert!(service.redeem_cps(token, T0 + 2).is_err(), "token reuse");
    assert!(service
        .redeem_cps(&token.replace('A', "B"), T0 + 2)
        .is_err());
}

#[test]
fn rekey_disable_enable_remove_through_the_client() {
    let service = service();
    let old = Iuk::generate(&mut OsRng);
    log_in(&service, &keys(&old), T0);
    let new = Iuk::generate(&mut OsRng);
    let rekeyed = Keys::new(new.imk(), new.ilk(), vec![old.clone()]);
    let (_, outcome) = log_in(&service, &rekeyed, T0 + 10);
    assert!(outcome.rekeyed);
    // The old identity is superseded: query succeeds with 0x200, login fails.
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0 + 20, &mut OsRng);
    let err = client(
        &service,
        &flow.url,
        &keys(&old),
        Action::Login,
        ClientConfig::default(),
        ip("192.0.2.10"),
        T0 + 20,
        |_| Decision::Approve,
    )
    .unwrap_err();
    assert_eq!(err, sqrl_client::Error::Superseded);

    let run = |action, keys: &Keys, now| {
        let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, now, &mut OsRng);
        client(
            &service,
            &flow.url,
            keys,
            action,
            ClientConfig::default(),
            ip("192.0.2.10"),
            now,
            |_| Decision::Button(Button::First),
        )
    };
    run(Action::Disable, &rekeyed, T0 + 30).unwrap();
    assert_eq!(
        run(Action::Login, &rekeyed, T0 + 31).unwrap_err(),
        sqrl_client::Error::SqrlDisabled
    );
    let with_rescue = Keys::new(new.imk(), new.ilk(), vec![]).with_unlock_key(new.clone());
    let wrong_rescue = Keys::new(new.imk(), new.ilk(), vec![]).with_unlock_key(old.clone());
    assert!(matches!(
        run(Action::Enable, &wrong_rescue, T0 + 32).unwrap_err(),
        sqrl_client::Error::ClientFailure(_)
    ));
    run(Action::Enable, &with_rescue, T0 + 33).unwrap();
    run(Action::Login, &rekeyed, T0 + 34).unwrap();
    run(Action::Remove, &with_rescue, T0 + 35).unwrap();
    assert_eq!(service.store().account_count(), 0);
    assert!(
        run(Action::Login, &rekeyed, T0 + 36)
            .unwrap()
            .new_association
    );
}

#[test]
fn cross_device_needs_noiptest() {
    let service = service();
    let keys = keys(&Iuk::generate(&mut OsRng));
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0, &mut OsRng);
    let phone = ip("198.51.100.7");
    let err = client(
        &service,
        &flow.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        phone,
        T0,
        |p| {
            assert!(!p.ips_matched);
            Decision::Button(Button::First)
        },
    )
    .unwrap_err();
    // exactly 0x40: the IP bit clear, no client failure
    assert_eq!(err, sqrl_client::Error::CommandFailed(Tif::COMMAND_FAILED));
    assert_eq!(service.store().account_count(), 0);
    let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, T0, &mut OsRng);
    let config = ClientConfig {
        noiptest: true,
        ..ClientConfig::default()
    };
    let outcome = client(
        &service,
        &flow.url,
        &keys,
        Action::Login,
        config,
        phone,
        T0,
        |_| Decision::Button(Button::First),
    )
    .unwrap();
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH);
}

// ---- hand-built requests ----------------------------------------------------------------

struct Manual {
    site: SiteKey,
    url: String,
    server_text: String,
    query: String,
}

impl Manual {
    fn new(service: &SqrlService<MemoryStore>, imk: &Imk, now: u64) -> Self {
        let flow = service.start_flow(ip("192.0.2.10"), FIREFOX, now, &mut OsRng);
        Self {
            site: imk.site_key("example.com", ""),
            server_text: b64::encode(&flow.url),
            query: query_of(&flow.url).to_owned(),
            url: flow.url,
        }
    }

    fn body(&self, params: &ClientParams) -> String {
        let client = params.encode().unwrap();
        let ids = self.site.sign(&signing_input(&client, &self.server_text));
        RequestBody::new(client, self.server_text.clone(), &ids, None, None).encode()
    }

    fn params(&self, command: Command) -> ClientParams {
        let mut p = ClientParams::new(command, self.site.public_key());
        if p.command == Command::Ident {
            p.suk = Some(sqrl_proto::Bytes32([5; 32]));
            p.vuk = Some(
                Iuk::from_bytes([6; 32])
                    .unlock_request_signing_key(&sqrl_proto::Bytes32([5; 32]))
                    .verify_key(),
            );
            p.btn = Some(Button::First);
        }
        p
    }

    fn send(
        &self,
        service: &SqrlService<MemoryStore>,
        body: &str,
        now: u64,
    ) -> sqrl_server::Response {
        service.handle(
            &Incoming {
                query: &self.query,
                body: body.as_bytes(),
                client_ip: ip("192.0.2.10"),
                now,
            },
            &mut OsRng,
        )
    }

    /// Sends and, on success, follows the reply (echo and nut) like a client.
    fn step(
        &mut self,
        service: &SqrlService<MemoryStore>,
        command: Command,
        now: u64,
    ) -> (Tif, String) {
        let body = self.body(&self.params(command));
        let reply = self.send(service, &body, now);
        let parsed = ServerParams::decode(&reply.body).unwrap();
        if !reply.tif.contains(Tif::COMMAND_FAILED) {
            self.server_text = reply.body.clone();
            self.query = query_of(&parsed.qry).to_owned();
        }
        (reply.tif, body)
    }
}

fn tif(service: &SqrlService<MemoryStore>, m: &Manual, body: &str, now: u64) -> Tif {
    m.send(service, body, now).tif
}

#[test]
fn replayed_query_and_ident_are_refused() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Manual::new(&service, &imk, T0);
    let first_query = m.query.clone();
    let (t, query_body) = m.step(&service, Command::Query, T0);
    assert_eq!(t, Tif::IPS_MATCHED);
    // the same query again, with its QR nut
    let replay = service.handle(
        &Incoming {
            query: &first_query,
            body: query_body.as_bytes(),
            client_ip: ip("192.0.2.10"),
            now: T0,
        },
        &mut OsRng,
    );
    assert_eq!(replay.tif.bits(), 0x60);
    let ident_query = m.query.clone();
    let (t, ident_body) = m.step(&service, Command::Ident, T0);
    assert_eq!(t.bits(), 0x05);
    let replay = service.handle(
        &Incoming {
            query: &ident_query,
            body: ident_body.as_bytes(),
            client_ip: ip("192.0.2.10"),
            now: T0,
        },
        &mut OsRng,
    );
    assert_eq!(replay.tif.bits(), 0x60);
    assert_eq!(service.store().account_count(), 1);
}

#[test]
fn byte_flips_and_forged_echoes_fail_with_client_failure() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let m = Manual::new(&service, &imk, T0);
    let body = m.body(&m.params(Command::Query));
    let parsed = RequestBody::parse(body.as_bytes()).unwrap();
    for field in ["client", "server", "ids"] {
        let value = match field {
            "client" => parsed.client_text().to_owned(),
            "server" => parsed.server_text().to_owned(),
            _ => body.split("ids=").nth(1).unwrap().to_owned(),
        };
        for i in [0, value.len() / 2, value.len() - 2] {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let flipped = body.replacen(&value, &String::from_utf8(bytes).unwrap(), 1);
            assert_eq!(
                tif(&service, &m, &flipped, T0).bits(),
                0xC0,
                "{field} byte {i}"
            );
        }
    }
    assert_eq!(service.store().flow_count(), 0, "nothing stored");

    // A reply altered by someone in the middle (tif and qry changed), then faithfully signed
    // by the client: the server's hash of what it sent does not match.
    let mut m = Manual::new(&service, &imk, T0);
    m.step(&service, Command::Query, T0);
    for forge in [
        |p: &mut ServerParams| p.tif = Tif::from_bits(0x5),
        |p: &mut ServerParams| p.qry = format!("{}&x=1", p.qry),
    ] {
        let mut forged = m.server_text.clone();
        let mut reply = ServerParams::decode(&forged).unwrap();
        forge(&mut reply);
        forged = reply.encode().unwrap();
        let saved = std::mem::replace(&mut m.server_text, forged);
        let body = m.body(&m.params(Command::Ident));
        assert_eq!(tif(&service, &m, &body, T0).bits(), 0xC0);
        m.server_text = saved;
    }
    assert_eq!(service.store().account_count(), 0);
}

#[test]
fn another_sites_key_and_another_flows_nut_are_refused() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let m = Manual::new(&service, &imk, T0);
    // Signed by the same identity's key for another site.
    let params = m.params(Command::Query);
    let client = params.encode().unwrap();
    let other = imk
        .site_key("evil.example", "")
        .sign(&signing_input(&client, &m.server_text));
    let body = RequestBody::new(client, m.server_text.clone(), &other, None, None).encode();
    assert_eq!(tif(&service, &m, &body, T0).bits(), 0xC0);
    // The URL of one flow echoed with the nut of another.
    let other_flow = Manual::new(&service, &imk, T0);
    let mixed = Manual {
        query: other_flow.query.clone(),
        ..Manual::new(&service, &imk, T0)
    };
    let body = mixed.body(&mixed.params(Command::Query));
    assert_eq!(tif(&service, &mixed, &body, T0).bits(), 0xC0);
    // A nut we never minted.
    let forged = Manual {
        query: "nut=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ..Manual::new(&service, &imk, T0)
    };
    let body = forged.body(&forged.params(Command::Query));
    assert_eq!(tif(&service, &forged, &body, T0).bits(), 0x60);
    assert_eq!(service.store().flow_count(), 0);
}

#[test]
fn expired_nuts_are_transient_errors() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let m = Manual::new(&service, &imk, T0);
    let body = m.body(&m.params(Command::Query));
    assert_eq!(tif(&service, &m, &body, T0 + 300).bits(), 0x60);
    let mut m = Manual::new(&service, &imk, T0);
    m.step(&service, Command::Query, T0 + 10);
    let (t, _) = m.step(&service, Command::Ident, T0 + 300);
    assert_eq!(t.bits(), 0x60);
    assert_eq!(service.store().account_count(), 0);
}

#[test]
fn unknown_command_wrong_version_bad_bodies() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Manual::new(&service, &imk, T0);
    m.step(&service, Command::Query, T0);
    let body = m.body(&m.params(Command::Other("frobnicate".into())));
    assert_eq!(tif(&service, &m, &body, T0).bits(), 0x50 | 0x04);
    let mut p = m.params(Command::Query);
    p.version = sqrl_proto::VersionSet::parse("2-3").unwrap();
    assert_eq!(tif(&service, &m, &m.body(&p), T0).bits(), 0x50);
    for bad in [
        String::new(),
        "client=&server=&ids=".into(),
        "x".repeat(20_000),
        "client=%%%&server=YQ&ids=YQ".into(),
        String::from_utf8_lossy(&[0xff; 100]).into_owned(),
        m.body(&m.params(Command::Query)).replace("ids=", "ids=ids"),
    ] {
        assert_eq!(
            tif(&service, &m, &bad, T0).bits(),
            0xC0,
            "{}",
            &bad[..bad.len().min(40)]
        );
    }
    assert_eq!(service.store().account_count(), 0);
}

#[test]
fn bad_id_association_and_missing_keys() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Manual::new(&service, &imk, T0);
    m.step(&service, Command::Query, T0);
    // Another identity continues this flow.
    let intruder = Manual {
        site: Imk::from_bytes([8; 32]).site_key("example.com", ""),
        ..Manual {
            site: m.site.clone(),
            url: m.url.clone(),
            server_text: m.server_text.clone(),
            query: m.query.clone(),
        }
    };
    let body = intruder.body(&intruder.params(Command::Ident));
    assert_eq!(tif(&service, &intruder, &body, T0).bits(), 0x1C0);
    // A new association without suk/vuk.
    let mut p = m.params(Command::Ident);
    p.suk = None;
    assert_eq!(tif(&service, &m, &m.body(&p), T0).bits(), 0xC4);
    // After an ask, ident without btn.
    let mut p = m.params(Command::Ident);
    p.btn = None;
    assert_eq!(tif(&service, &m, &m.body(&p), T0).bits(), 0xC4);
    assert_eq!(service.store().account_count(), 0);
    let (t, _) = m.step(&service, Command::Ident, T0);
    assert_eq!(t.bits(), 0x05);
}

#[test]
fn ident_after_reject_is_refused() {
    let service = service();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Manual::new(&service, &imk, T0);
    m.step(&service, Command::Query, T0);
    let mut p = m.params(Command::Ident);
    p.btn = Some(Button::Second);
    let reply = m.send(&service, &m.body(&p), T0);
    assert_eq!(reply.tif.bits(), 0x44);
    m.server_text = reply.body.clone();
    m.query = query_of(&ServerParams::decode(&reply.body).unwrap().qry).to_owned();
    let (t, _) = m.step(&service, Command::Ident, T0);
    assert_eq!(t.bits(), 0x40);
    assert_eq!(service.store().account_count(), 0);
}

#[test]
fn two_concurrent_idents_on_one_nut_exactly_one_wins() {
    for _ in 0..20 {
        let service = Arc::new(service());
        let imk = Imk::from_bytes([7; 32]);
        let mut m = Manual::new(&service, &imk, T0);
        m.step(&service, Command::Query, T0);
        let mut a = m.params(Command::Ident);
        a.btn = Some(Button::First);
        let mut b = m.params(Command::Ident);
        b.btn = Some(Button::Ok);
        let bodies = [m.body(&a), m.body(&b)];
        let barrier = Arc::new(Barrier::new(2));
        let m = Arc::new(m);
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let (service, barrier, m) =
                    (Arc::clone(&service), Arc::clone(&barrier), Arc::clone(&m));
                std::thread::spawn(move || {
                    barrier.wait();
                    m.send(&service, &body, T0)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.login.is_some()).count();
        assert_eq!(
            wins,
            1,
            "{:?}",
            results.iter().map(|r| r.tif).collect::<Vec<_>>()
        );
        assert!(results.iter().any(|r| r.tif.bits() == 0x60));
        assert_eq!(service.store().account_count(), 1);
    }
}

#[test]
fn enable_and_remove_need_urs() {
    let service = service();
    let iuk = Iuk::generate(&mut OsRng);
    log_in(&service, &keys(&iuk), T0);
    let mut m = Manual::new(&service, &iuk.imk(), T0);
    m.step(&service, Command::Query, T0);
    let body = m.body(&m.params(Command::Remove));
    assert_eq!(tif(&service, &m, &body, T0).bits(), 0xC5);
    assert_eq!(service.store().account_count(), 1);
}

#[test]
fn secret_index_is_answered_and_checked() {
    let mut config = Config::new("example.com");
    config.secret_index = Some("login".into());
    let service = SqrlService::new(config, &[1; 32], &[2; 32], MemoryStore::new());
    let old = Iuk::generate(&mut OsRng);
    log_in(&service, &keys(&old), T0);
    log_in(&service, &keys(&old), T0 + 1);
    let idk = old.imk().site_key("example.com", "").public_key();
    let stored = sqrl_server::Store::account(service.store(), &idk)
        .unwrap()
        .unwrap()
        .ins;
    assert_eq!(
        stored,
        Some(
            old.imk()
                .site_key("example.com", "")
                .indexed_secret("login")
        )
    );

    // Without ins, or with another identity's, the ident fails and changes nothing.
    let mut m = Manual::new(&service, &old.imk(), T0 + 2);
    m.step(&service, Command::Query, T0 + 2);
    let mut p = m.params(Command::Ident);
    assert_eq!(tif(&service, &m, &m.body(&p), T0 + 2).bits(), 0xC5);
    p.ins = Some(
        Imk::from_bytes([9; 32])
            .site_key("example.com", "")
            .indexed_secret("login"),
    );
    assert_eq!(tif(&service, &m, &m.body(&p), T0 + 2).bits(), 0xC5);

    // A re-key proves the previous identity's ins with pins, then stores the new one.
    let new = Iuk::generate(&mut OsRng);
    let (_, outcome) = log_in(
        &service,
        &Keys::new(new.imk(), new.ilk(), vec![old.clone()]),
        T0 + 3,
    );
    assert!(outcome.rekeyed);
    let new_idk = new.imk().site_key("example.com", "").public_key();
    let stored = sqrl_server::Store::account(service.store(), &new_idk)
        .unwrap()
        .unwrap()
        .ins;
    assert_eq!(
        stored,
        Some(
            new.imk()
                .site_key("example.com", "")
                .indexed_secret("login")
        )
    );
}

#[test]
fn open_flows_are_capped() {
    let mut config = Config::new("example.com");
    config.max_open_flows = 2;
    let service = SqrlService::new(config, &[1; 32], &[2; 32], MemoryStore::new());
    let imk = Imk::from_bytes([7; 32]);
    for _ in 0..2 {
        let mut m = Manual::new(&service, &imk, T0);
        assert_eq!(m.step(&service, Command::Query, T0).0, Tif::IPS_MATCHED);
    }
    let mut third = Manual::new(&service, &imk, T0);
    assert_eq!(third.step(&service, Command::Query, T0).0.bits(), 0x60);
    assert_eq!(service.store().flow_count(), 2);
    // Once the first two are past their lifetime, scans are accepted again.
    let mut later = Manual::new(&service, &imk, T0 + 300);
    assert_eq!(
        later.step(&service, Command::Query, T0 + 300).0,
        Tif::IPS_MATCHED
    );
}

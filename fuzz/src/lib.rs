//! The bodies of the fuzz targets, as plain functions of the input bytes.
//!
//! `fuzz/fuzz_targets/*.rs` call them under libFuzzer (`cargo fuzz run <target>`), and
//! `crates/sqrl-server/tests/fuzz_corpus.rs` includes this very file to replay the committed
//! corpus (`fuzz/corpus/<target>/`) on stable with `cargo test`. Each function must return
//! normally for every input: a panic is a finding. Besides "no panic", a few round trips are
//! asserted (what a parser accepts, re-encoded, parses to the same value; every reply the
//! server builds parses as server parameters).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_debug_implementations
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use ed25519_dalek::{Signer, SigningKey};
use sqrl_client::exchange::{self, Action, Decision, Exchange, Step};
use sqrl_client::keys::{Ilk, Imk, Iuk, Rlk};
use sqrl_client::storage::{base56, s4::S4};
use sqrl_client::{Identity, RescueCode};
use sqrl_proto::{
    b64, Bytes32, ClientParams, Limits, NameValueList, RequestBody, ServerEcho, ServerParams,
    SqrlUrl, Tif, VersionSet,
};
use sqrl_server::UnixTime;
use sqrl_server::{
    Account, AccountId, AskPolicy, Config, Endpoint, Flow, Incoming, NutCodec, Snapshot,
};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("url", url),
    ("namevalue", namevalue),
    ("client_params", client_params),
    ("server_params", server_params),
    ("body", body),
    ("server_request", server_request),
    ("nut", nut),
    ("record", flow_record),
    ("s4", s4),
    ("base56", base56_text),
    ("client_exchange", client_exchange),
];

// ---- sqrl-proto ----------------------------------------------------------------------------

/// `SqrlUrl::parse` and every accessor; the request URL re-parses (as `sqrl://`) to the same
/// auth domain — except when the path is missing: the request then goes to `/`, and by
/// `protocol.md` §2.2 `x=` counts characters of the path as written, so
/// `sqrl://h?x=1&nut=n` is `h` while `sqrl://h/?x=1&nut=n` is `h/`. `request_url_for` and
/// `resolve_link` run on the input's second line.
pub fn url(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, "/sqrl?nut=n2"));
    let Ok(url) = SqrlUrl::parse(first) else {
        return;
    };
    let _ = (url.host(), url.port(), url.path(), url.query(), url.nut());
    let _ = (url.extension(), url.cancel_url(), url.origin());
    let _ = url.path_and_query();
    let _ = url.request_url_for(rest);
    let _ = url.resolve_link(rest);
    let request = url.request_url();
    let again = request
        .strip_prefix("https://")
        .map(|tail| format!("sqrl://{tail}"))
        .expect("request_url is https");
    let reparsed = SqrlUrl::parse(&again)
        .unwrap_or_else(|e| panic!("{first:?}: request URL {request:?} does not re-parse: {e}"));
    if !url.path().is_empty() {
        assert_eq!(
            reparsed.auth_domain(),
            url.auth_domain(),
            "{first:?} → {request:?}"
        );
    }
}

fn any_limits() -> Limits {
    Limits {
        max_bytes: usize::MAX,
        max_pairs: usize::MAX,
    }
}

fn round_trip_list(list: &NameValueList) {
    let again = NameValueList::parse(&list.to_text(), any_limits())
        .unwrap_or_else(|e| panic!("{list:?}: text form does not re-parse: {e}"));
    assert_eq!(&again, list);
    let again = NameValueList::decode(&list.encode(), any_limits())
        .unwrap_or_else(|e| panic!("{list:?}: encoded form does not re-parse: {e}"));
    assert_eq!(&again, list);
}

/// `NameValueList::decode` (the input as base64url text) and `parse_bytes` (the input as the
/// decoded list), with the default limits; accepted lists round-trip.
pub fn namevalue(data: &[u8]) {
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(list) = NameValueList::decode(text, Limits::DEFAULT) {
            round_trip_list(&list);
        }
        let _ = b64::decode_lenient(text);
        let _ = VersionSet::parse(text);
        let _ = Tif::parse_hex(text);
    }
    if let Ok(list) = NameValueList::parse_bytes(data, Limits::DEFAULT) {
        round_trip_list(&list);
    }
}

/// `ClientParams::decode` of the input (as base64url text) and of its encoding (the input as
/// the plain list); accepted parameters that re-encode decode to the same value.
pub fn client_params(data: &[u8]) {
    let mut inputs = vec![b64::encode(data)];
    if let Ok(text) = core::str::from_utf8(data) {
        inputs.push(text.to_owned());
    }
    for text in inputs {
        let Ok(params) = ClientParams::decode(&text) else {
            continue;
        };
        if let Ok(encoded) = params.encode() {
            let again = ClientParams::decode(&encoded)
                .unwrap_or_else(|e| panic!("{params:?} re-encoded does not decode: {e}"));
            assert_eq!(again, params);
        }
    }
}

/// `ServerParams::decode`, as [`client_params`]; also `ServerEcho::decode`.
pub fn server_params(data: &[u8]) {
    let mut inputs = vec![b64::encode(data)];
    if let Ok(text) = core::str::from_utf8(data) {
        inputs.push(text.to_owned());
    }
    for text in inputs {
        let _ = ServerEcho::decode(&text);
        let Ok(params) = ServerParams::decode(&text) else {
            continue;
        };
        if let Ok(encoded) = params.encode() {
            let again = ServerParams::decode(&encoded)
                .unwrap_or_else(|e| panic!("{params:?} re-encoded does not decode: {e}"));
            assert_eq!(again, params);
        }
    }
}

/// `RequestBody::parse`, `client()`, `server()` and both signature checks; an accepted body
/// re-encodes to one that parses to the same value.
pub fn body(data: &[u8]) {
    let Ok(body) = RequestBody::parse(data) else {
        return;
    };
    let again = RequestBody::parse(body.encode().as_bytes())
        .unwrap_or_else(|e| panic!("{body:?} re-encoded does not parse: {e}"));
    assert_eq!(again, body);
    let _ = body.server();
    let _ = (body.has_pids(), body.has_urs());
    if let Ok(params) = body.client() {
        let _ = body.verify_identity_signatures(&params);
        let _ = body.verify_unlock_signature(params.vuk.as_ref().unwrap_or(&params.idk));
    }
}

// ---- sqrl-server ---------------------------------------------------------------------------

/// A deterministic "CSPRNG" for the fuzzer: a counter. Never use outside tests.
#[derive(Debug)]
pub struct CounterRng(pub u64);

impl rand_core::RngCore for CounterRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for CounterRng {}

/// The fuzzed server's clock, in seconds since the Unix epoch.
pub const NOW: u64 = 1_700_000_000;
/// The browser that "loaded the login page".
pub const BROWSER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// The nut key of the fuzzed server (`Endpoint::new(Config::new("example.com"), &NUT_KEY, …)`).
pub const NUT_KEY: [u8; 32] = [1; 32];
/// The indexed secret stored with accounts when the server sends `sin`.
pub const INS: [u8; 32] = [6; 32];

/// The fuzzed identity's keys.
pub struct Keys {
    /// The identity's site key (signs `ids`).
    pub id: SigningKey,
    /// A previous identity's site key (signs `pids`).
    pub previous: SigningKey,
    /// The unlock request key (signs `urs`; its public key is the stored `vuk`).
    pub unlock: SigningKey,
}

/// The fixed keys (seeds `[3; 32]`, `[4; 32]`, `[5; 32]`).
pub fn keys() -> Keys {
    Keys {
        id: SigningKey::from_bytes(&[3; 32]),
        previous: SigningKey::from_bytes(&[4; 32]),
        unlock: SigningKey::from_bytes(&[5; 32]),
    }
}

/// The server and a flow after one successful `query` (for second requests).
pub struct Fixture {
    /// The server under test.
    pub server: Endpoint,
    /// The identity.
    pub keys: Keys,
    /// A QR nut.
    pub qr_nut: String,
    /// The URL of that nut, which the first request echoes.
    pub qr_url: String,
    /// After the first query: the reply nut.
    pub reply_nut: String,
    /// The reply text (the next request's `server=`).
    pub reply: String,
    /// The stored flow.
    pub flow: sqrl_server::Flow,
}

/// A form body signed by the identity (`ids`), and by flags 1 (`pids`) and 2 (`urs`).
pub fn signed_body(keys: &Keys, client: &str, server: &str, flags: u8) -> Vec<u8> {
    let message = sqrl_proto::signing_input(client, server);
    let ids = keys.id.sign(&message).to_bytes();
    let pids = (flags & 1 != 0).then(|| keys.previous.sign(&message).to_bytes());
    let urs = (flags & 2 != 0).then(|| keys.unlock.sign(&message).to_bytes());
    RequestBody::new(
        client.to_owned(),
        server.to_owned(),
        &ids,
        pids.as_ref(),
        urs.as_ref(),
    )
    .encode()
    .into_bytes()
}

/// The plain `client=` list of a `query` by the identity.
pub fn query_text(keys: &Keys) -> String {
    format!(
        "ver=1\r\ncmd=query\r\nidk={}\r\n",
        b64::encode(keys.id.verifying_key().as_bytes())
    )
}

fn fixture(variant: bool) -> Fixture {
    let mut config = Config::new("example.com");
    if variant {
        config.secret_index = Some("fuzz-sin".into());
        config.ask = AskPolicy::Require;
    }
    let server = Endpoint::new(config, &NUT_KEY, &[2; 32]);
    let keys = keys();
    let mut rng = CounterRng(u64::from(variant));
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    let new = server.start_flow(BROWSER_IP, ua, UnixTime::from_secs(NOW), &mut rng);
    let client = b64::encode(query_text(&keys));
    let body = signed_body(&keys, &client, &b64::encode(&new.url), 0);
    let query = format!("nut={}", new.nut);
    let incoming = Incoming {
        query: &query,
        body: &body,
        client_ip: BROWSER_IP,
        now: UnixTime::from_secs(NOW),
    };
    let pending = server
        .receive(&incoming)
        .expect("fixture query is received");
    let decision = server.decide(pending, Snapshot::default(), &mut rng);
    let commit = decision.commit.expect("fixture query commits a flow");
    let reply_nut = ServerParams::decode(&decision.response.body)
        .expect("fixture reply parses")
        .nut;
    Fixture {
        server,
        keys,
        qr_nut: new.nut,
        qr_url: new.url,
        reply_nut,
        reply: decision.response.body,
        flow: commit.flow,
    }
}

/// The two fixtures: `Config::new("example.com")`, and the same with `sin` and
/// `AskPolicy::Require`.
pub fn fixtures() -> &'static [Fixture; 2] {
    static FIXTURES: OnceLock<[Fixture; 2]> = OnceLock::new();
    FIXTURES.get_or_init(|| [fixture(false), fixture(true)])
}

fn snapshot(fx: &Fixture, flags: u8, flow: Option<sqrl_server::Flow>, sin: bool) -> Snapshot {
    let account = |id: u8, key: &SigningKey| Account {
        id: AccountId([id; 16]),
        idk: Bytes32(key.verifying_key().to_bytes()),
        suk: Bytes32([7; 32]),
        vuk: Bytes32(fx.keys.unlock.verifying_key().to_bytes()),
        disabled: flags & 8 != 0,
        sqrlonly: false,
        hardlock: flags & 0x80 != 0,
        created_at: NOW - 1000,
        ins: sin.then_some(Bytes32(INS)),
    };
    Snapshot {
        flow,
        current: (flags & 4 != 0).then(|| account(1, &fx.keys.id)),
        previous: (flags & 0x10 != 0).then(|| account(2, &fx.keys.previous)),
        superseded: flags & 0x20 != 0,
    }
}

fn check_reply(body: &str) {
    ServerParams::decode(body).unwrap_or_else(|e| panic!("the server's reply {body:?}: {e}"));
}

/// One request through `Endpoint::receive` and, when it passes, `Endpoint::decide`; refusals
/// through `Endpoint::refuse`. Every reply must parse as server parameters, and every commit's
/// flow must survive its store record.
///
/// Input: `[mode, flags, rest…]`. `mode % 3`: 0 = raw, `rest` is the query, a 0xFF byte, then
/// the body; 1 = first request: `rest` is the plain `client=` list, signed by the fixture's
/// keys and sent with its QR nut and URL; 2 = second request: the same, with the reply nut and
/// reply of the fixture's first query, and its flow loaded. `mode & 4`: the server sends `sin`
/// and requires `ask`; `mode & 8`: a `can=` in the echoed URL; `mode & 16`: an hour later.
/// `flags`: 1 sign `pids`, 2 sign `urs`, 4 an account for `idk`, 8 it is disabled, 16 an
/// account for the previous key, 32 `idk` is superseded, 128 hardlock.
pub fn server_request(data: &[u8]) {
    let (&mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let (&flags, rest) = rest.split_first().unwrap_or((&0, &[]));
    let sin = mode & 4 != 0;
    let fx = &fixtures()[usize::from(sin)];
    let now = UnixTime::from_secs(if mode & 16 != 0 { NOW + 3600 } else { NOW + 5 });
    let mut rng = CounterRng(u64::from(mode) << 8 | u64::from(flags));
    let (query, body, flow) = match mode % 3 {
        0 => {
            let all = data.get(1..).unwrap_or_default();
            let split = all.iter().position(|&b| b == 0xFF).unwrap_or(all.len());
            let query = String::from_utf8_lossy(&all[..split]).into_owned();
            let body = all.get(split + 1..).unwrap_or_default().to_vec();
            (query, body, None)
        }
        1 => {
            let mut url = fx.qr_url.clone();
            if mode & 8 != 0 {
                url.push_str("&can=");
                url.push_str(&b64::encode("https://example.com/cancelled"));
            }
            let body = signed_body(&fx.keys, &b64::encode(rest), &b64::encode(&url), flags);
            (format!("nut={}", fx.qr_nut), body, None)
        }
        _ => {
            let body = signed_body(&fx.keys, &b64::encode(rest), &fx.reply, flags);
            let query = format!("nut={}", fx.reply_nut);
            (query, body, Some(fx.flow.clone()))
        }
    };
    let incoming = Incoming {
        query: &query,
        body: &body,
        client_ip: BROWSER_IP,
        now,
    };
    match fx.server.receive(&incoming) {
        Ok(pending) => {
            let _ = (pending.needs(), pending.opens_flow(), pending.cps());
            let decision = fx
                .server
                .decide(pending, snapshot(fx, flags, flow, sin), &mut rng);
            check_reply(&decision.response.body);
            if let Some(commit) = decision.commit {
                let stored = commit.flow.to_bytes();
                assert_eq!(Flow::from_bytes(&stored).as_ref(), Some(&commit.flow));
            }
        }
        Err(refused) => check_reply(&fx.server.refuse(refused, &mut rng).body),
    }
}

/// `Endpoint::open_nut` and `NutCodec::open` under the fixture's key and another; `FlowId` and
/// `AccountId` text; browser detection from a user agent.
pub fn nut(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let fx = &fixtures()[0];
    let ours = fx.server.open_nut(&text);
    assert_eq!(ours, NutCodec::new(&NUT_KEY).open(&text));
    let _ = NutCodec::new(&[9; 32]).open(&text);
    let _ = sqrl_server::FlowId::decode(&text);
    let _ = AccountId::from_hex(&text);
    let _ = sqrl_server::useragent::BrowserInfo::from_user_agent(&text);
}

/// `Flow::from_bytes` (flows as PostgreSQL/Redis keep them); a decoded flow re-encodes to a
/// record that decodes to the same flow.
pub fn flow_record(data: &[u8]) {
    if let Some(flow) = Flow::from_bytes(data) {
        assert_eq!(Flow::from_bytes(&flow.to_bytes()), Some(flow));
    }
}

// ---- sqrl-client ---------------------------------------------------------------------------

/// `S4::parse` (binary, text and header-less forms) and `Identity::import` (which also reads
/// the base56 textual identity); parsed containers survive both written forms. Never unlocks
/// anything (EnScrypt would take seconds).
pub fn s4(data: &[u8]) {
    if let Ok(s4) = S4::parse(data) {
        let binary = S4::parse(&s4.to_binary())
            .unwrap_or_else(|e| panic!("{s4:?}: binary form does not re-parse: {e}"));
        assert_eq!(binary, s4);
        let text = S4::parse(s4.to_text().as_bytes())
            .unwrap_or_else(|e| panic!("{s4:?}: text form does not re-parse: {e}"));
        assert_eq!(text, s4);
    }
    if let Ok(identity) = Identity::import(data) {
        let _ = identity.textual();
        let _ = identity.rescue_only();
    }
}

/// `base56::decode` (textual form with check characters) and `decode_digits`; decoded bytes
/// encode to text that decodes back to them. Also `RescueCode::parse`.
pub fn base56_text(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = base56::decode(text) {
        assert_eq!(base56::decode(&base56::encode(&bytes)).ok(), Some(bytes));
    }
    if let Ok(bytes) = base56::decode_digits(text) {
        assert_eq!(
            base56::decode_digits(&base56::encode_digits(&bytes)).ok(),
            Some(bytes)
        );
    }
    let _ = RescueCode::parse(text);
}

/// The client side of an exchange fed the input as server replies: `Exchange::start` for
/// `sqrl://example.com/sqrl?nut=…` (action `data[0] % 4`, with the unlock key), then every
/// reply (the plain list; replies separated by a 0x00 byte) through `Exchange::receive`, and
/// every prompt answered by `Exchange::decide` (`data[1] % 4`: approve, button 1, button 2,
/// cancel).
pub fn client_exchange(data: &[u8]) {
    let (&action, rest) = data.split_first().unwrap_or((&0, &[]));
    let (&answer, rest) = rest.split_first().unwrap_or((&0, &[]));
    let action = match action % 4 {
        0 => Action::Login,
        1 => Action::Disable,
        2 => Action::Enable,
        _ => Action::Remove,
    };
    let keys = exchange::Keys::new(
        Imk::from_bytes([21; 32]),
        Ilk::from_bytes([22; 32]),
        vec![Iuk::from_bytes([23; 32])],
    )
    .with_unlock_key(Iuk::from_bytes([24; 32]));
    let url = SqrlUrl::parse(&fixtures()[0].qr_url).expect("the fixture's URL parses");
    let config = exchange::Config {
        cps: answer & 4 != 0,
        ..exchange::Config::default()
    };
    let Ok((mut exchange, _first)) =
        Exchange::start(url, action, &keys, config, Rlk::from_bytes([25; 32]))
    else {
        return;
    };
    for reply in rest.split(|&b| b == 0) {
        let mut step = exchange.receive(&b64::encode(reply));
        while let Ok(Step::Confirm(_)) = step {
            let decision = match answer % 4 {
                0 => Decision::Approve,
                1 => Decision::Button(sqrl_proto::Button::First),
                2 => Decision::Button(sqrl_proto::Button::Second),
                _ => Decision::Cancel,
            };
            step = exchange.decide(decision);
        }
        match step {
            Ok(Step::Send(_)) => {}
            _ => break,
        }
    }
    let _ = exchange.cancel_url();
}

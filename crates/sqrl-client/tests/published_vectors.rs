//! `test-vectors/*.json`: generated here from our code, compared byte for byte with the
//! committed files, and every committed row re-checked through the public API the way another
//! implementation would check itself.
//!
//! Regenerate after an intended change with
//! `SQRL_UPDATE_VECTORS=1 cargo test -p sqrl-client --test published_vectors`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqrl_client::keys::{Imk, Iuk, Rlk, SiteKey};
use sqrl_proto::{
    b64, signing_input, verify_signature, Ask, Button, Bytes32, ClientParams, Command, Limits,
    NameValueList, ServerParams, SqrlUrl, Tif,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors")
}

fn check_or_write(name: &str, vectors: Vec<Value>) {
    let text = serde_json::to_string_pretty(&json!({ "vectors": vectors })).unwrap() + "\n";
    let path = dir().join(name);
    if std::env::var_os("SQRL_UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        committed == text,
        "test-vectors/{name} differs from what the code generates; if the change is intended, run \
         SQRL_UPDATE_VECTORS=1 cargo test -p sqrl-client --test published_vectors"
    );
}

fn load(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    value["vectors"].as_array().unwrap().clone()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Deterministic test keys: SHA-256 of a label.
fn test_bytes(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

fn test_imk(i: usize) -> Imk {
    Imk::from_bytes(test_bytes(&format!("sqrl-rs test vector IMK {i}")))
}

const NUT: &str = "oOB4QOFJux5Z";

fn valid_urls() -> Vec<String> {
    [
        "sqrl://example.com/sqrl?nut={}",
        "sqrl://ExAmPlE.CoM/sqrl?nut={}",
        "SQRL://EXAMPLE.COM/sqrl?nut={}",
        "sqrl://example.com:8443/sqrl?nut={}",
        "sqrl://jonny@example.com/sqrl?nut={}",
        "sqrl://Jonny:Secret@example.com:44344/sqrl?nut={}",
        "sqrl://example.com?nut={}",
        "sqrl://example.com/?nut={}&can=aHR0cHM6Ly9leGFtcGxlLmNvbS9sb2dpbg",
        "sqrl://example.com/jimbo/?x=6&nut={}",
        "sqrl://EXAMPLE.COM/JIMBO?x=16&nut={}",
        "sqrl://example.com/a/b/c?x=4&nut={}",
        "sqrl://example.com/a/b/c?nut={}&x=0",
        "sqrl://steve:badpass@SQRL.grc.com:8080/demo/cli.sqrl?x=5&nut={}&can=aHR0cHM6Ly9zcXJsLmdyYy5jb20vYWNjb3VudC9jb25uZWN0ZWQtYWNjb3VudHMv",
        "sqrl://bücher.example/sqrl?nut={}",
        "sqrl://xn--bcher-kva.example/sqrl?nut={}",
        "sqrl://MÜNCHEN.de:8080/Path/To?x=5&nut={}",
        "sqrl://127.0.0.1:8080/sqrl?nut={}",
        "sqrl://[::1]:25519/sqrl?nut={}",
        "sqrl://sub.domain.example.co.uk/auth/sqrl?nut={}&extra=kept",
    ]
    .iter()
    .map(|u| u.replace("{}", NUT))
    .collect()
}

fn invalid_urls() -> Vec<&'static str> {
    vec![
        "https://example.com/sqrl?nut=abc",
        "qrl://example.com/sqrl?nut=abc",
        "sqrl:/example.com/sqrl?nut=abc",
        "sqrl://example.com/sqrl",
        "sqrl://example.com/sqrl?nut=",
        "sqrl://example.com/sqrl?nut=a&nut=b",
        "sqrl://example.com/sqrl?x=1&x=2&nut=a",
        "sqrl://example.com/sqrl?x=abc&nut=a",
        "sqrl://example.com/sqrl?x=-3&nut=a",
        "sqrl://example.com:0/sqrl?nut=a",
        "sqrl://example.com:65536/sqrl?nut=a",
        "sqrl://example.com:/sqrl?nut=a",
        "sqrl://example.com:8o/sqrl?nut=a",
        "sqrl:///sqrl?nut=a",
        "sqrl://user@/sqrl?nut=a",
        "sqrl://exa mple.com/sqrl?nut=a",
        "sqrl://example..com/sqrl?nut=a",
        "sqrl://example.com./sqrl?nut=a",
        "sqrl://ex%61mple.com/sqrl?nut=a",
        "sqrl://[::1/sqrl?nut=a",
        "sqrl://[not:an:ip]/sqrl?nut=a",
        "sqrl://example.com/sqrl?nut=a#fragment",
        "sqrl://example.com/s qrl?nut=a",
        "sqrl://example.com/sqrl?nut=a\u{7}",
        "sqrl://example.com/sqrl?nut=a&can=not*base64",
        "sqrl://example.com/sqrl?nut=a&can=amF2YXNjcmlwdDphbGVydCgxKQ",
    ]
}

#[test]
fn urls_json_matches_code() {
    let mut rows = Vec::new();
    for url in valid_urls() {
        let parsed = SqrlUrl::parse(&url).unwrap();
        rows.push(json!({
            "url": url,
            "auth_domain": parsed.auth_domain(),
            "request_url": parsed.request_url(),
        }));
    }
    let long = format!(
        "sqrl://example.com/?nut={}",
        "a".repeat(sqrl_proto::MAX_URL_LEN)
    );
    for url in invalid_urls().into_iter().map(str::to_owned).chain([long]) {
        let error = SqrlUrl::parse(&url).unwrap_err();
        rows.push(json!({ "url": url, "error": error.code() }));
    }
    check_or_write("urls.json", rows);
}

#[test]
fn site_keys_json_matches_code() {
    let mut rows = Vec::new();
    let urls = valid_urls();
    for (i, url) in urls.iter().enumerate() {
        let auth_domain = SqrlUrl::parse(url).unwrap().auth_domain().to_owned();
        for (imk_index, alt_id) in [
            (0, ""),
            (1 + i % 3, ""),
            (0, ["1", "Personal", "Ärbeit ✓"][i % 3]),
        ] {
            let imk = test_imk(imk_index);
            let seed = imk.site_seed(&auth_domain, alt_id);
            rows.push(json!({
                "url": url,
                "imk": b64::encode(imk.expose()),
                "auth_domain": auth_domain,
                "alt_id": alt_id,
                "site_seed": b64::encode(seed.expose()),
                "idk": imk.site_key(&auth_domain, alt_id).public_key().encode(),
            }));
        }
    }
    assert!(rows.len() >= 40);
    check_or_write("site-keys.json", rows);
}

fn site(imk: usize, domain: &str) -> SiteKey {
    test_imk(imk).site_key(domain, "")
}

fn signature_row(
    key: &Bytes32,
    client: &str,
    server: &str,
    ids: &[u8; 64],
    valid: bool,
    case: &str,
) -> Value {
    json!({
        "case": case,
        "idk": key.encode(),
        "client": client,
        "server": server,
        "ids": b64::encode(ids),
        "valid": valid,
    })
}

/// Replaces the character at `index` of base64url text with another alphabet character.
fn flip_char(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Ed25519 group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `S + L`: the same scalar mod L, but a non-canonical encoding (S < L, so no overflow).
fn non_canonical_s(signature: &[u8; 64]) -> [u8; 64] {
    let mut out = *signature;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

#[test]
fn signatures_json_matches_code() {
    let mut rows = Vec::new();
    let domain = "example.com";
    let key = site(0, domain);
    let idk = key.public_key();
    let url = format!("sqrl://example.com/sqrl?nut={NUT}");
    let server = b64::encode(&url);
    let mut query = ClientParams::new(Command::Query, idk);
    query.opt.noiptest = true;
    query.opt.suk = true;
    let client = query.encode().unwrap();
    let message = signing_input(&client, &server);
    let ids = key.sign(&message);

    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &ids,
        true,
        "query, first request (server is the SQRL URL)",
    ));
    for imk in 1..4 {
        let other = site(imk, "www.example.org/forum");
        let params = ClientParams::new(Command::Query, other.public_key());
        let c = params.encode().unwrap();
        let sv = b64::encode("sqrl://www.example.org/forum/sqrl?x=6&nut=Zm9ydW0");
        let sig = other.sign(&signing_input(&c, &sv));
        rows.push(signature_row(
            &other.public_key(),
            &c,
            &sv,
            &sig,
            true,
            "query with x= extension",
        ));
    }

    // ident echoing a server reply, with suk/vuk of a new association
    let reply = {
        let mut r = ServerParams::new("sDf8-mK2pQ0v", Tif::IPS_MATCHED, "/sqrl?nut=sDf8-mK2pQ0v");
        r.extra
            .push(("mac".into(), "3q2-7wAAAAAAAAAAAAAAAA".into()));
        r.encode().unwrap()
    };
    let lock = Iuk::from_bytes(test_bytes("sqrl-rs test vector IUK 0"))
        .ilk()
        .lock(Rlk::from_bytes(test_bytes("sqrl-rs test vector RLK 0")));
    let mut ident = ClientParams::new(Command::Ident, idk);
    ident.suk = Some(lock.suk);
    ident.vuk = Some(lock.vuk);
    ident.opt.noiptest = true;
    let ident_client = ident.encode().unwrap();
    let ident_ids = key.sign(&signing_input(&ident_client, &reply));
    rows.push(signature_row(
        &idk,
        &ident_client,
        &reply,
        &ident_ids,
        true,
        "ident echoing the previous reply",
    ));

    // must-reject rows
    rows.push(signature_row(
        &idk,
        &flip_char(&client, 20),
        &server,
        &ids,
        false,
        "client text altered",
    ));
    rows.push(signature_row(
        &idk,
        &client,
        &flip_char(&server, 10),
        &ids,
        false,
        "server text altered",
    ));
    rows.push(signature_row(
        &idk,
        &ident_client,
        &flip_char(&reply, 30),
        &ident_ids,
        false,
        "echoed reply altered",
    ));
    let mut flipped = ids;
    flipped[5] ^= 0x01;
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &flipped,
        false,
        "bit flip in R of ids",
    ));
    let mut flipped = ids;
    flipped[40] ^= 0x80;
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &flipped,
        false,
        "bit flip in S of ids",
    ));
    let swapped = key.sign(&signing_input(&server, &client));
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &swapped,
        false,
        "signed server followed by client (fields swapped)",
    ));
    rows.push(signature_row(
        &idk,
        &server,
        &client,
        &ids,
        false,
        "client and server values swapped",
    ));
    let other_site = site(0, "evil.example");
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &other_site.sign(&message),
        false,
        "signed by the same identity's key for another site",
    ));
    let other_user = site(1, domain);
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &other_user.sign(&message),
        false,
        "signed by another identity's key for this site",
    ));
    let mut decoded = b64::decode(&client).unwrap();
    decoded.extend(b64::decode(&server).unwrap());
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &key.sign(&decoded),
        false,
        "signed the decoded text instead of the base64url text",
    ));
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &key.sign(format!("{client}&{server}").as_bytes()),
        false,
        "signed with a separator between client and server",
    ));
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &key.sign(client.as_bytes()),
        false,
        "signed client text only",
    ));
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &non_canonical_s(&ids),
        false,
        "non-canonical S (S + L)",
    ));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut small = [0u8; 64];
    small[0] = 1;
    rows.push(signature_row(&Bytes32(identity), &client, &server, &small, false, "small-order public key (identity point) with R = identity, S = 0: passes non-strict verification"));
    let mut zero_r = ids;
    zero_r[..32].copy_from_slice(&identity);
    rows.push(signature_row(
        &idk,
        &client,
        &server,
        &zero_r,
        false,
        "small-order R",
    ));
    // `=` padding is part of the text as sent: signatures cover it (protocol.md §1.1, §7).
    let mut padded_query = ClientParams::new(Command::Query, idk);
    padded_query.opt.cps = true;
    padded_query.opt.suk = true;
    let padded_client = pad(&padded_query.encode().unwrap());
    let padded_server = pad(&b64::encode(format!("sqrl://example.com/sqrl?nut={NUT}0")));
    assert!(padded_client.ends_with('=') && padded_server.ends_with('='));
    rows.push(signature_row(
        &idk,
        &padded_client,
        &padded_server,
        &key.sign(&signing_input(&padded_client, &padded_server)),
        true,
        "client and server sent with '=' padding, signed as sent",
    ));
    rows.push(signature_row(
        &idk,
        &padded_client,
        &padded_server,
        &key.sign(&signing_input(
            padded_client.trim_end_matches('='),
            padded_server.trim_end_matches('='),
        )),
        false,
        "padded client and server, but the signature left the padding out",
    ));
    check_or_write("signatures.json", rows);
}

/// Pads base64url text with `=` to a multiple of four characters.
fn pad(text: &str) -> String {
    let mut out = text.to_owned();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// A valid row whose `encoded` text carries `=` padding; `canonical` is our own encoding.
fn padded_message_row(kind: &str, list: &NameValueList) -> Value {
    let mut row = message_row(kind, list);
    let canonical = list.encode();
    row["encoded"] = json!(pad(&canonical));
    row["canonical"] = json!(canonical);
    row
}

/// A must-reject row from encoded text as it would arrive.
fn reject_encoded_row(kind: &str, encoded: &str, what: &str) -> Value {
    let error = match kind {
        "client" => ClientParams::decode(encoded).err(),
        "echo" => sqrl_proto::ServerEcho::decode(encoded).err(),
        _ => ServerParams::decode(encoded).err(),
    };
    let error = error.unwrap_or_else(|| panic!("{what}: decoded without error"));
    json!({ "kind": kind, "valid": false, "case": what, "encoded": encoded, "error": error.code() })
}

fn message_row(kind: &str, list: &NameValueList) -> Value {
    let params: Vec<Value> = list.iter().map(|(n, v)| json!([n, v])).collect();
    json!({
        "kind": kind,
        "valid": true,
        "params": params,
        "text": list.to_text(),
        "encoded": list.encode(),
    })
}

fn reject_row(kind: &str, raw: &[u8], what: &str) -> Value {
    let encoded = b64::encode(raw);
    let error = match kind {
        "client" => ClientParams::decode(&encoded).err(),
        _ => ServerParams::decode(&encoded).err(),
    };
    let error = error.unwrap_or_else(|| panic!("{what}: decoded without error"));
    json!({ "kind": kind, "valid": false, "case": what, "encoded": encoded, "error": error.code() })
}

#[test]
fn messages_json_matches_code() {
    let mut rows = Vec::new();
    let key = |i: usize| site(i, "example.com").public_key();

    let mut q = ClientParams::new(Command::Query, key(0));
    q.opt.cps = true;
    q.opt.suk = true;
    rows.push(message_row("client", &q.to_list().unwrap()));

    let mut ident = ClientParams::new(Command::Ident, key(0));
    let lock = Iuk::from_bytes(test_bytes("sqrl-rs test vector IUK 0"))
        .ilk()
        .lock(Rlk::from_bytes(test_bytes("sqrl-rs test vector RLK 0")));
    ident.suk = Some(lock.suk);
    ident.vuk = Some(lock.vuk);
    ident.opt.noiptest = true;
    ident.opt.sqrlonly = true;
    ident.opt.hardlock = true;
    rows.push(message_row("client", &ident.to_list().unwrap()));

    let mut rekey = ClientParams::new(Command::Ident, key(0));
    rekey.pidk = Some(key(1));
    let seed_site = site(0, "example.com");
    rekey.ins = Some(seed_site.indexed_secret("0"));
    rekey.pins = Some(site(1, "example.com").indexed_secret("0"));
    rekey.btn = Some(Button::First);
    rekey.opt.unknown.push("future".into());
    rekey
        .extra
        .push(("zzz".into(), "unknown names are kept".into()));
    rows.push(message_row("client", &rekey.to_list().unwrap()));

    for cmd in [Command::Disable, Command::Enable, Command::Remove] {
        let mut p = ClientParams::new(cmd, key(2));
        p.version = sqrl_proto::VersionSet::parse("1,3-5").unwrap();
        rows.push(message_row("client", &p.to_list().unwrap()));
    }

    let mut reply = ServerParams::new(
        "1WM9lfF1ST-z",
        Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED,
        "/cli.sqrl?nut=1WM9lfF1ST-z",
    );
    reply.suk = Some(lock.suk);
    rows.push(message_row("server", &reply.to_list().unwrap()));
    reply.url = Some("https://example.com/cps?token=4hVTe9LGHhMTuxz_mm6vRc_q".into());
    reply.can = Some("https://example.com/login".into());
    rows.push(message_row("server", &reply.to_list().unwrap()));
    let mut asking = ServerParams::new(
        "Nt2",
        Tif::COMMAND_FAILED | Tif::TRANSIENT_ERROR,
        "/sqrl?nut=Nt2",
    );
    asking.sin = Some("0".into());
    asking.ask = Some(
        Ask::new("Log in to example.com from Firefox on Linux at 12:00?")
            .with_button("Yes, log in", None)
            .unwrap()
            .with_button("No — cancel", Some("/cancel".into()))
            .unwrap(),
    );
    asking
        .extra
        .push(("mac".into(), "3q2-7wAAAAAAAAAAAAAAAA".into()));
    rows.push(message_row("server", &asking.to_list().unwrap()));
    let superseded = ServerParams::new("x", Tif::from_bits(0x240), "/sqrl?nut=x");
    rows.push(message_row("server", &superseded.to_list().unwrap()));
    // Some servers send url= as a path; the client resolves it against the origin.
    let mut relative = ServerParams::new(
        "Rl7",
        Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED,
        "/sqrl?nut=Rl7",
    );
    relative.url = Some("/account".into());
    rows.push(message_row("server", &relative.to_list().unwrap()));
    // Correct '=' padding is accepted; our own encoding has none.
    let mut padded_query = ClientParams::new(Command::Query, key(0));
    padded_query.opt.cps = true;
    padded_query.opt.suk = true;
    let padded_list = padded_query.to_list().unwrap();
    assert!(pad(&padded_list.encode()).ends_with('='));
    rows.push(padded_message_row("client", &padded_list));
    let padded_list = ["Pd1", "Pd12", "Pd123"]
        .iter()
        .map(|nut| {
            ServerParams::new(*nut, Tif::IPS_MATCHED, format!("/sqrl?nut={nut}"))
                .to_list()
                .unwrap()
        })
        .find(|list| pad(&list.encode()).ends_with('='))
        .unwrap();
    rows.push(padded_message_row("server", &padded_list));

    let idk = key(0).encode();
    // `ver` after `cmd` is accepted (GRC's server takes it anywhere; protocol.md §3).
    // It re-encodes to our canonical order, `ver` first.
    let late_ver = NameValueList::parse(
        &format!("cmd=query\r\nidk={idk}\r\nver=1\r\n"),
        Limits::DEFAULT,
    )
    .unwrap();
    let mut row = message_row("client", &late_ver);
    row["case"] = json!("ver after cmd (accepted)");
    row["canonical"] = json!(ClientParams::from_list(&late_ver)
        .unwrap()
        .encode()
        .unwrap());
    rows.push(row);
    let client_rejects: Vec<(String, &str)> = vec![
        (format!("cmd=query\r\nidk={idk}\r\n"), "ver missing"),
        ("ver=1\r\ncmd=query\r\n".into(), "idk missing"),
        (format!("ver=1\r\nidk={idk}\r\n"), "cmd missing"),
        ("ver=1\r\ncmd=query\r\nidk=AAAA\r\n".into(), "idk too short"),
        (
            format!("ver=1\r\ncmd=query\r\nidk=+/{}\r\n", &idk[2..]),
            "idk in the standard base64 alphabet",
        ),
        (
            format!("ver=1\r\ncmd=query\r\nidk={idk}==\r\n"),
            "idk with wrong padding (== where = is due)",
        ),
        (format!("ver=0\r\ncmd=query\r\nidk={idk}\r\n"), "version 0"),
        (
            format!("ver=1\r\ncmd=query\r\nidk={idk}\r\nbtn=3\r\n"),
            "btn out of range",
        ),
        (format!("ver=1\ncmd=query\nidk={idk}\n"), "LF line endings"),
        (
            format!("ver=1\r\ncmd=query\r\n\r\nidk={idk}\r\n"),
            "empty line",
        ),
        (
            format!("ver=1\r\ncmd=query\r\nidk={idk}\r\ncmd=ident\r\n"),
            "duplicate name",
        ),
        (
            format!("ver=1\r\ncmd=query\r\nidk={idk}\r\nopt\r\n"),
            "line without =",
        ),
        (
            format!("ver=1\r\ncmd=query\r\nidk={idk}\r\nop t=cps\r\n"),
            "space in a name",
        ),
    ];
    for (text, what) in client_rejects {
        rows.push(reject_row("client", text.as_bytes(), what));
    }
    rows.push(reject_row(
        "client",
        b"ver=1\r\ncmd=qu\xffery\r\n",
        "not UTF-8",
    ));
    let big = format!(
        "ver=1\r\ncmd=query\r\nidk={idk}\r\nzzz={}\r\n",
        "a".repeat(5000)
    );
    rows.push(reject_row("client", big.as_bytes(), "over the 4 KiB limit"));
    let server_rejects: Vec<(&str, &str)> = vec![
        ("ver=1\r\nnut=a\r\ntif=5\r\n", "qry missing"),
        ("ver=1\r\ntif=5\r\nqry=/s\r\n", "nut missing"),
        ("ver=1\r\nnut=a\r\nqry=/s\r\n", "tif missing"),
        ("nut=a\r\nver=1\r\ntif=5\r\nqry=/s\r\n", "ver not first"),
        ("ver=1\r\nnut=a\r\ntif=0x5\r\nqry=/s\r\n", "tif with 0x"),
        (
            "ver=1\r\nnut=a\r\ntif=5\r\nqry=https://evil.example/s\r\n",
            "qry not root-anchored",
        ),
        (
            "ver=1\r\nnut=a\r\ntif=5\r\nqry=//evil.example/s\r\n",
            "qry protocol-relative",
        ),
        (
            "ver=1\r\nnut=a\r\ntif=5\r\nqry=/s\r\nask=YQ~Yg~Yw~ZA\r\n",
            "ask with three buttons",
        ),
        (
            "ver=1\r\nnut=a\r\ntif=5\r\nqry=/s\r\nask=YQ~Yg;https://evil.example/\r\n",
            "ask button URL not root-anchored",
        ),
        (
            "ver=1\r\nnut=a\r\ntif=5\r\nqry=/s\r\nsuk=AAAA\r\n",
            "suk too short",
        ),
        ("ver=1\r\nnut=\r\ntif=5\r\nqry=/s\r\n", "empty nut"),
    ];
    for (text, what) in server_rejects {
        rows.push(reject_row("server", text.as_bytes(), what));
    }
    let query_text = ClientParams::new(Command::Query, key(0)).encode().unwrap();
    let reply_text = ServerParams::new("Pd2", Tif::IPS_MATCHED, "/sqrl?nut=Pd2")
        .encode()
        .unwrap();
    for (kind, unpadded) in [("client", &query_text), ("server", &reply_text)] {
        let wrong = format!(
            "{}{}",
            pad(unpadded),
            if pad(unpadded) == *unpadded {
                "=="
            } else {
                "="
            }
        );
        rows.push(reject_encoded_row(kind, &wrong, "too much '=' padding"));
        rows.push(reject_encoded_row(
            kind,
            &format!("={unpadded}"),
            "'=' before the text",
        ));
    }
    // `server=` echoes: a SQRL URL with another scheme is named as such.
    for url in [
        "qrl://example.com/sqrl?nut=abc",
        "https://example.com/sqrl?nut=abc",
    ] {
        rows.push(reject_encoded_row(
            "echo",
            &b64::encode(url),
            &format!("echoed URL with an unsupported scheme: {url}"),
        ));
    }
    check_or_write("messages.json", rows);
}

// ---- re-checking the committed files through the public API -----------------------------

#[test]
fn committed_site_keys_recompute() {
    let rows = load("site-keys.json");
    assert!(rows.len() >= 40);
    for row in rows {
        let url = SqrlUrl::parse(s(&row["url"])).unwrap();
        assert_eq!(url.auth_domain(), s(&row["auth_domain"]));
        let imk = Imk::from_bytes(b64::decode_array(s(&row["imk"]), "imk").unwrap());
        let seed = imk.site_seed(s(&row["auth_domain"]), s(&row["alt_id"]));
        assert_eq!(b64::encode(seed.expose()), s(&row["site_seed"]));
        assert_eq!(
            SiteKey::from_seed(seed).public_key().encode(),
            s(&row["idk"])
        );
    }
}

#[test]
fn committed_urls_parse_as_recorded() {
    for row in load("urls.json") {
        let result = SqrlUrl::parse(s(&row["url"]));
        match row.get("error") {
            Some(code) => assert_eq!(result.unwrap_err().code(), s(code), "{row}"),
            None => {
                let url = result.unwrap();
                assert_eq!(url.auth_domain(), s(&row["auth_domain"]));
                assert_eq!(url.request_url(), s(&row["request_url"]));
            }
        }
    }
}

#[test]
fn committed_signatures_verify_as_recorded() {
    let rows = load("signatures.json");
    assert!(rows.iter().any(|r| r["valid"] == true) && rows.iter().any(|r| r["valid"] == false));
    for row in rows {
        let idk = Bytes32(b64::decode_array(s(&row["idk"]), "idk").unwrap());
        let ids = b64::decode_array(s(&row["ids"]), "ids").unwrap();
        let message = signing_input(s(&row["client"]), s(&row["server"]));
        let verdict = verify_signature(&idk, "idk", &message, &ids, "ids").is_ok();
        assert_eq!(verdict, row["valid"].as_bool().unwrap(), "{}", row["case"]);
    }
}

#[test]
fn committed_messages_decode_as_recorded() {
    for row in load("messages.json") {
        let encoded = s(&row["encoded"]);
        let client = row["kind"] == "client";
        if row["kind"] == "echo" {
            let error = sqrl_proto::ServerEcho::decode(encoded).unwrap_err();
            assert_eq!(error.code(), s(&row["error"]), "{}", row["case"]);
            continue;
        }
        if row["valid"] == true {
            let list = NameValueList::decode(encoded, sqrl_proto::Limits::DEFAULT).unwrap();
            assert_eq!(list.to_text(), s(&row["text"]));
            let pairs: Vec<Value> = list.iter().map(|(n, v)| json!([n, v])).collect();
            assert_eq!(Value::Array(pairs), row["params"]);
            let reencoded = if client {
                ClientParams::decode(encoded).unwrap().encode().unwrap()
            } else {
                ServerParams::decode(encoded).unwrap().encode().unwrap()
            };
            // Padded input re-encodes to our canonical (unpadded) text.
            let canonical = row.get("canonical").map_or(encoded, s);
            assert_eq!(reencoded, canonical);
        } else {
            let error = if client {
                ClientParams::decode(encoded).unwrap_err()
            } else {
                ServerParams::decode(encoded).unwrap_err()
            };
            assert_eq!(error.code(), s(&row["error"]), "{}", row["case"]);
        }
    }
}

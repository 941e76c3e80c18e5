//! The committed fuzz corpus (`fuzz/corpus/<target>/`), replayed on stable through the very
//! functions the cargo-fuzz targets call (`fuzz/src/lib.rs`, included below): every seed and
//! every input that once crashed a target must pass, whether or not cargo-fuzz can run here.
//!
//! The `seed-*` files are generated from the published vectors (`test-vectors/*.json`,
//! `../shared/sqrl/vectors/`) and from the fuzzed server's own requests:
//!
//! ```sh
//! SQRL_UPDATE_FUZZ_CORPUS=1 cargo test -p sqrl-server --test fuzz_corpus
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// The fuzz crate's public functions, included here as a private module.
#[allow(unreachable_pub)]
#[path = "../../../fuzz/src/lib.rs"]
mod targets;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sqrl_proto::{b64, ServerParams};
use targets::{Fixture, Keys};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir(target: &str) -> PathBuf {
    repo().join("fuzz/corpus").join(target)
}

#[test]
fn committed_corpus_replays_through_every_target() {
    let mut total = 0;
    for (name, run) in targets::TARGETS {
        let dir = corpus_dir(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no seeds", dir.display());
        for file in &files {
            let data = std::fs::read(file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("fuzz target {name} panics on {}", file.display());
            }
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus files");
}

/// The target names match `fuzz/Cargo.toml` and `fuzz/fuzz_targets/`.
#[test]
fn every_target_has_a_binary() {
    let manifest = std::fs::read_to_string(repo().join("fuzz/Cargo.toml")).unwrap();
    for (name, _) in targets::TARGETS {
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
        assert!(repo()
            .join(format!("fuzz/fuzz_targets/{name}.rs"))
            .is_file());
    }
}

// ---- seed generation -----------------------------------------------------------------------

struct Seeds {
    target: &'static str,
    files: Vec<(String, Vec<u8>)>,
    seen: BTreeSet<Vec<u8>>,
}

impl Seeds {
    fn new(target: &'static str) -> Self {
        Self {
            target,
            files: Vec::new(),
            seen: BTreeSet::new(),
        }
    }
    fn add(&mut self, source: &str, data: impl Into<Vec<u8>>) {
        let data = data.into();
        if self.seen.insert(data.clone()) {
            let name = format!("seed-{source}-{:03}", self.files.len());
            self.files.push((name, data));
        }
    }
    fn write(self) {
        let dir = corpus_dir(self.target);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("seed-") {
                std::fs::remove_file(&path).unwrap();
            }
        }
        for (name, data) in &self.files {
            std::fs::write(dir.join(name), data).unwrap();
        }
        eprintln!("{}: {} seeds", self.target, self.files.len());
    }
}

fn json(name: &str) -> Vec<serde_json::Value> {
    let path = repo().join("test-vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["vectors"].as_array().unwrap().clone()
}

fn shared(name: &str) -> String {
    let dir = match std::env::var_os("SQRL_SHARED_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => repo().join("../shared/sqrl/vectors"),
    };
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The quoted fields of a CSV line of the sqrldev vectors (no embedded quotes there).
fn csv_fields(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').to_owned())
        .collect()
}

fn str_of(value: &serde_json::Value, key: &str) -> Option<String> {
    value.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A `server_request` input: `[mode, flags]` and the plain `client=` list.
fn request(mode: u8, flags: u8, lines: &[String]) -> Vec<u8> {
    let mut out = vec![mode, flags];
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn b(bytes: [u8; 32]) -> String {
    b64::encode(bytes)
}

fn server_request_seeds(seeds: &mut Seeds) {
    let keys: Keys = targets::keys();
    let idk = format!("idk={}", b64::encode(keys.id.verifying_key().as_bytes()));
    let pidk = format!(
        "pidk={}",
        b64::encode(keys.previous.verifying_key().as_bytes())
    );
    let suk = format!("suk={}", b([8; 32]));
    let vuk = format!(
        "vuk={}",
        b64::encode(keys.unlock.verifying_key().as_bytes())
    );
    let ins = format!("ins={}", b(targets::INS));
    let pins = format!("pins={}", b(targets::INS));
    let l = |parts: &[&str]| -> Vec<String> { parts.iter().map(|s| (*s).to_owned()).collect() };
    // First requests (QR nut): query with options, and a few other commands.
    for mode in [1u8, 5, 9, 13, 17] {
        for (flags, lines) in [
            (0, l(&["ver=1", "cmd=query", &idk])),
            (4, l(&["ver=1", "cmd=query", &idk, "opt=cps~suk"])),
            (0x15, l(&["ver=1", "cmd=query", &idk, &pidk, "opt=suk"])),
            (0x0C, l(&["ver=1", "cmd=query", &idk, "opt=noiptest"])),
        ] {
            seeds.add("first", request(mode, flags, &lines));
        }
    }
    seeds.add("first", request(1, 0, &l(&["ver=1", "cmd=ident", &idk])));
    seeds.add("first", request(1, 0, &l(&["ver=2", "cmd=query", &idk])));
    // Second requests (reply nut, stored flow).
    for mode in [2u8, 6, 18] {
        for (flags, lines) in [
            (0, l(&["ver=1", "cmd=query", &idk])),
            (0, l(&["ver=1", "cmd=ident", &idk, &suk, &vuk])),
            (
                0,
                l(&["ver=1", "cmd=ident", &idk, &suk, &vuk, &ins, "btn=1"]),
            ),
            (
                0,
                l(&["ver=1", "cmd=ident", &idk, &suk, &vuk, "opt=cps~suk"]),
            ),
            (4, l(&["ver=1", "cmd=ident", &idk, "btn=1"])),
            (
                4,
                l(&[
                    "ver=1",
                    "cmd=ident",
                    &idk,
                    &ins,
                    "btn=1",
                    "opt=sqrlonly~hardlock",
                ]),
            ),
            (4, l(&["ver=1", "cmd=ident", &idk, "btn=2"])),
            (4, l(&["ver=1", "cmd=disable", &idk])),
            (0x0E, l(&["ver=1", "cmd=enable", &idk])),
            (0x06, l(&["ver=1", "cmd=remove", &idk])),
            (
                0x11,
                l(&["ver=1", "cmd=ident", &idk, &pidk, &suk, &vuk, &ins, &pins]),
            ),
            (
                0x13,
                l(&["ver=1", "cmd=ident", &idk, &pidk, &suk, &vuk, "btn=1"]),
            ),
            (0x24, l(&["ver=1", "cmd=query", &idk])),
            (4, l(&["ver=1", "cmd=frob", &idk])),
        ] {
            seeds.add("second", request(mode, flags, &lines));
        }
    }
    // Raw requests: a valid first request as sent, and a few broken ones.
    let fx: &Fixture = &targets::fixtures()[0];
    let client = b64::encode(targets::query_text(&keys));
    let body = targets::signed_body(&keys, &client, &b64::encode(&fx.qr_url), 0);
    for query in [
        format!("nut={}", fx.qr_nut),
        format!("nut={}", fx.reply_nut),
    ] {
        let mut raw = vec![0u8];
        raw.extend_from_slice(query.as_bytes());
        raw.push(0xFF);
        raw.extend_from_slice(&body);
        seeds.add("raw", raw);
    }
    seeds.add("raw", b"\0nut=\xFFclient=&server=&ids=".to_vec());
}

#[test]
fn regenerate_seed_corpus() {
    if std::env::var_os("SQRL_UPDATE_FUZZ_CORPUS").is_none() {
        eprintln!("seeds are regenerated only with SQRL_UPDATE_FUZZ_CORPUS=1");
        return;
    }
    let fx: &Fixture = &targets::fixtures()[0];
    let fx_sin: &Fixture = &targets::fixtures()[1];
    let grc = shared("grc-spec-identity.md");
    let grc_field = |prefix: &str| -> Vec<String> {
        grc.lines()
            .filter_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
            .collect()
    };

    // url
    let mut url = Seeds::new("url");
    for row in json("urls.json") {
        url.add("urls", str_of(&row, "url").unwrap());
    }
    for row in json("site-keys.json") {
        url.add("site-keys", str_of(&row, "url").unwrap());
    }
    for line in shared("sqrldev/identity-vectors.txt").lines().skip(1) {
        let fields = csv_fields(line);
        if let Some(domain) = fields.get(3) {
            url.add("sqrldev", format!("sqrl://{domain}?nut=abc"));
        }
    }
    for site in grc_field("Site:") {
        url.add("grc", site);
    }
    url.add("server", fx.qr_url.clone());
    // Found by the fuzzer: no path, so x= counts nothing, while the request goes to `/`.
    url.add("no-path", "sqrl://example.com?x=2&nut=abc");
    url.add("resolve", format!("{}\n/account?x=1", fx.qr_url));
    url.add(
        "resolve",
        format!("{}\nhttps://example.com/done", fx.qr_url),
    );
    url.write();

    // namevalue, client_params, server_params
    let mut namevalue = Seeds::new("namevalue");
    let mut client = Seeds::new("client_params");
    let mut server = Seeds::new("server_params");
    for row in json("messages.json") {
        let kind = str_of(&row, "kind").unwrap();
        let encoded = str_of(&row, "encoded").unwrap();
        namevalue.add("messages", encoded.clone());
        let plain = str_of(&row, "text")
            .map(String::into_bytes)
            .or_else(|| b64::decode_lenient(&encoded).ok());
        if let Some(plain) = &plain {
            namevalue.add("messages", plain.clone());
        }
        match kind.as_str() {
            "client" => client.add("messages", plain.unwrap_or_else(|| encoded.into_bytes())),
            "server" => server.add("messages", plain.unwrap_or_else(|| encoded.into_bytes())),
            _ => server.add("echo", encoded),
        }
    }
    for reply in [&fx.reply, &fx_sin.reply] {
        server.add("server", b64::decode(reply).unwrap());
        namevalue.add("server", reply.clone());
    }
    for response in grc_field("-> response body (151 bytes):") {
        server.add("grc", b64::decode(&response).unwrap());
    }
    for text in grc_field("client=") {
        client.add("grc", b64::decode(&text).unwrap());
    }
    namevalue.add("limits", "a=b\r\n".repeat(33));
    namevalue.write();
    client.write();
    server.write();

    // body
    let mut body = Seeds::new("body");
    for row in json("signatures.json") {
        let (c, s, ids) = (
            str_of(&row, "client").unwrap(),
            str_of(&row, "server").unwrap(),
            str_of(&row, "ids").unwrap(),
        );
        body.add("signatures", format!("client={c}&server={s}&ids={ids}"));
    }
    let (c, s, i) = (
        grc_field("client="),
        grc_field("server="),
        grc_field("ids="),
    );
    for ((c, s), i) in c.iter().zip(&s).zip(&i) {
        body.add("grc", format!("client={c}&server={s}&ids={i}\r\n"));
    }
    let keys = targets::keys();
    let query = b64::encode(targets::query_text(&keys));
    body.add(
        "server",
        targets::signed_body(&keys, &query, &b64::encode(&fx.qr_url), 3),
    );
    body.write();

    // server_request
    let mut requests = Seeds::new("server_request");
    server_request_seeds(&mut requests);
    requests.write();

    // client_exchange: [action, answer] + plain replies separated by 0x00
    let mut replies = Seeds::new("client_exchange");
    let first = b64::decode(&fx.reply).unwrap();
    let sin_reply = b64::decode(&fx_sin.reply).unwrap();
    for action in 0..4u8 {
        for answer in [0u8, 1, 3, 4] {
            let mut data = vec![action, answer];
            data.extend_from_slice(&first);
            replies.add("server", data.clone());
            data.push(0);
            data.extend_from_slice(&sin_reply);
            replies.add("server", data);
        }
    }
    for row in json("messages.json") {
        if str_of(&row, "kind").as_deref() == Some("server") {
            if let Some(text) = str_of(&row, "text") {
                let mut data = vec![0u8, 0];
                data.extend_from_slice(text.as_bytes());
                replies.add("messages", data);
            }
        }
    }
    replies.write();

    // nut
    let mut nut = Seeds::new("nut");
    for n in [&fx.qr_nut, &fx.reply_nut, &fx_sin.qr_nut, &fx_sin.reply_nut] {
        nut.add("server", n.clone());
    }
    nut.add("grc", "fXkb4MBToCm7");
    nut.add("flow", fx.flow.id().encode());
    nut.add("account", sqrl_server::AccountId([0xA5; 16]).to_hex());
    nut.add(
        "ua",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0",
    );
    nut.write();

    // record
    let mut record = Seeds::new("record");
    for f in [fx, fx_sin] {
        record.add("server", f.flow.to_bytes());
        let mut confirmed = f.flow.clone().into_record();
        confirmed.cps_token_hash = Some([9; 32]);
        confirmed.asked = true;
        let confirmed = sqrl_server::Flow::from(confirmed);
        record.add("server", confirmed.to_bytes());
    }
    record.write();

    // s4
    let mut s4 = Seeds::new("s4");
    for text in grc_field("text:") {
        s4.add("grc", text.clone());
        let parsed = sqrl_client::storage::s4::S4::parse(text.as_bytes()).unwrap();
        s4.add("grc", parsed.to_binary());
        let rescue = sqrl_client::storage::s4::S4 {
            rescue: parsed.rescue.clone(),
            ..Default::default()
        };
        s4.add("grc", rescue.to_text().trim_start_matches("SQRLDATA"));
        let identity = sqrl_client::Identity::import(text.as_bytes()).unwrap();
        s4.add("grc", identity.textual().unwrap());
    }
    for hex_line in grc_field("hex :") {
        s4.add("grc", hex(&hex_line));
    }
    s4.write();

    // base56
    let mut base56 = Seeds::new("base56");
    for line in shared("sqrldev/base56-full-format-vectors.txt")
        .lines()
        .skip(1)
    {
        if let Some(out) = csv_fields(line).get(2) {
            base56.add("sqrldev", out.replace("\\n", "\n"));
        }
    }
    for line in shared("sqrldev/base56-vectors.txt").lines().skip(1) {
        if let Some(out) = csv_fields(line).get(2) {
            base56.add("sqrldev", out.clone());
        }
    }
    base56.add("rescue-code", "1198-8748-7132-2838-8318-7570");
    base56.write();

    // The reply of the fixture must itself be a valid reply (sanity of the generator).
    ServerParams::decode(&fx.reply).unwrap();
}

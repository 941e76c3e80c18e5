//! GRC's published query/ident transcript (SQRL Cryptography v1.04, transcribed in
//! `../shared/sqrl/vectors/grc-spec-identity.md`) decided by our server on a hand-built
//! snapshot ([`Endpoint::replay`]: the flow is new, the echo ours, the IP the browser's; the
//! account is the one GRC's server knew). Every signature is still verified; both requests
//! must get `tif=5` (known identity, same IP), and the ident, sent with `opt=cps`, its `url=`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// These tests play the core's caller, which supplies the randomness (spec/server.md §6).
#![allow(clippy::disallowed_types)]

use std::path::PathBuf;

use rand_core::OsRng;
use sqrl_proto::{Bytes32, RequestBody, ServerParams, Tif};
use sqrl_server::UnixTime;
use sqrl_server::{Account, AccountId, AskPolicy, Config, Endpoint, Snapshot};

/// GRC's transcript. The test is compiled as ignored where the build did not find the vectors
/// (`cfg(sqrl_vectors)`, see `build.rs`).
fn transcript() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/sqrl/vectors/grc-spec-identity.md");
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The `n`-th value of a `name=` line in the transcript.
fn field(text: &str, name: &str, n: usize) -> String {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}=")))
        .nth(n)
        .unwrap_or_else(|| panic!("{name} #{n} missing"))
        .trim()
        .to_owned()
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn grc_query_and_ident_replay_with_tif_5() {
    let Some(text) = transcript() else { return };
    let mut config = Config::new("sqrl.grc.com");
    config.ask = AskPolicy::Off; // GRC's client answered no question
    let server = Endpoint::new(config, &[1; 32], &[2; 32]);

    // The site already knows this identity (GRC's reply says tif=5), with the SUK it returns.
    let first_reply = ServerParams::decode(
        text.split("response body (151 bytes): ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap(),
    )
    .unwrap();
    let body = |n: usize| {
        format!(
            "client={}&server={}&ids={}",
            field(&text, "client", n),
            field(&text, "server", n),
            field(&text, "ids", n)
        )
    };
    let idk = RequestBody::parse(body(0).as_bytes())
        .unwrap()
        .client()
        .unwrap()
        .idk;
    let account = Account {
        id: AccountId([4; 16]),
        idk,
        suk: first_reply.suk.unwrap(),
        vuk: Bytes32([9; 32]),
        disabled: false,
        sqrlonly: false,
        hardlock: false,
        created_at: 0,
        ins: None,
    };
    let known = Snapshot {
        current: Some(account.clone()),
        ..Snapshot::default()
    };
    let replay = |body: &[u8]| {
        server
            .replay(
                body,
                known.clone(),
                UnixTime::from_secs(1_800_000_000),
                &mut OsRng,
            )
            .response
    };

    let query = replay(body(0).as_bytes());
    assert_eq!(query.tif, Tif::from_bits(5), "query");
    let reply = ServerParams::decode(&query.body).unwrap();
    assert_eq!(reply.suk, first_reply.suk, "opt=suk returns the stored SUK");

    let ident = replay(body(1).as_bytes());
    assert_eq!(ident.tif, Tif::from_bits(5), "ident");
    assert_eq!(ident.login, Some(account.id));
    assert_eq!(ident.refusal, None);
    let reply = ServerParams::decode(&ident.body).unwrap();
    assert!(
        reply
            .url
            .unwrap()
            .starts_with("https://sqrl.grc.com/sqrl/cps?token="),
        "opt=cps gets url="
    );

    // The replay skips only the nut, echo and IP checks: a flipped signature still fails.
    let mut forged = body(1);
    let at = forged.find("ids=").unwrap() + 10;
    forged.replace_range(at..=at, if &forged[at..=at] == "A" { "B" } else { "A" });
    assert_eq!(replay(forged.as_bytes()).tif.bits(), 0xC0);
}

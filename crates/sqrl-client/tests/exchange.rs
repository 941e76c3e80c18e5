//! The sans-IO exchange against a small in-memory SQRL server: new and known identities,
//! re-key through previous identities, disable → enable with the rescue code, remove, `ask`
//! and `btn`, `sin`/`ins`, CPS, transient errors, and malformed replies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::mini_server::MiniServer;
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Outcome, Prompt, Step};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::{Error, ExchangeError, TransportError};
use sqrl_proto::{b64, Ask, Button, ServerParams, SqrlUrl, Tif};

fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// Runs one exchange to the end against the in-memory server, answering the prompt with
/// `decide`; returns the outcome and the prompts shown.
fn run(
    server: &mut MiniServer,
    keys: &Keys,
    action: Action,
    config: Config,
    mut decide: impl FnMut(&Prompt) -> Decision,
) -> Result<(Outcome, Vec<Prompt>), Error> {
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (exchange, first) = Exchange::start(url, action, keys, config, Rlk::generate(&mut OsRng))?;
    let mut prompts = Vec::new();
    let outcome = exchange.drive(
        first,
        |request| Ok(server.handle(&path_and_query(&request.url), &request.body)),
        |prompt| {
            prompts.push(prompt.clone());
            decide(prompt)
        },
    )?;
    Ok((outcome, prompts))
}

fn approve(_: &Prompt) -> Decision {
    Decision::Approve
}

fn keys_for(iuk: &Iuk, previous: Vec<Iuk>) -> Keys {
    Keys::new(iuk.imk(), iuk.ilk(), previous)
}

fn login(server: &mut MiniServer, keys: &Keys) -> Result<(Outcome, Vec<Prompt>), Error> {
    run(server, keys, Action::Login, Config::default(), approve)
}

#[test]
fn new_then_known_identity() {
    let mut server = MiniServer::new("example.com");
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys_for(&iuk, vec![]);
    let (outcome, prompts) = login(&mut server, &keys).unwrap();
    assert!(outcome.new_association && !outcome.rekeyed);
    assert!(!prompts[0].known && prompts[0].ips_matched);
    assert_eq!(prompts[0].auth_domain, "example.com");
    assert_eq!(server.accounts.len(), 1);
    assert_eq!(server.log, ["query 4", "ident 5"]);

    let (outcome, prompts) = login(&mut server, &keys).unwrap();
    assert!(!outcome.new_association);
    assert!(prompts[0].known);
    assert_eq!(server.accounts.values().next().unwrap().logins, 2);
}

#[test]
fn rekey_walks_previous_identities_and_replaces_the_account() {
    let mut server = MiniServer::new("example.com");
    let oldest = Iuk::generate(&mut OsRng);
    login(&mut server, &keys_for(&oldest, vec![])).unwrap();
    // Two re-keys later the site still knows only the oldest identity.
    let middle = Iuk::generate(&mut OsRng);
    let current = Iuk::generate(&mut OsRng);
    let keys = keys_for(&current, vec![middle.clone(), oldest.clone()]);
    server.log.clear();
    let (outcome, prompts) = login(&mut server, &keys).unwrap();
    assert!(outcome.rekeyed && !outcome.new_association);
    assert!(prompts[0].replaces_previous);
    // query with the middle pidk (no match), query with the oldest (match), ident.
    assert_eq!(server.log, ["query 4", "query 6", "ident 5"]);
    assert_eq!(server.accounts.len(), 1);
    assert_eq!(server.superseded.len(), 1);

    // The new identity is now known; the old one is superseded.
    let (outcome, _) = login(&mut server, &keys).unwrap();
    assert!(!outcome.rekeyed && !outcome.new_association);
    assert_eq!(
        login(&mut server, &keys_for(&oldest, vec![])).unwrap_err(),
        Error::Exchange(ExchangeError::Superseded)
    );
}

#[test]
fn disable_then_enable_with_the_rescue_code_then_remove() {
    let mut server = MiniServer::new("example.com");
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys_for(&iuk, vec![]);
    login(&mut server, &keys).unwrap();

    let (outcome, _) = run(
        &mut server,
        &keys,
        Action::Disable,
        Config::default(),
        approve,
    )
    .unwrap();
    assert!(outcome.tif.contains(Tif::SQRL_DISABLED));
    assert_eq!(
        login(&mut server, &keys).unwrap_err(),
        Error::Exchange(ExchangeError::SqrlDisabled)
    );

    // enable needs the IUK from the rescue code
    let err = run(
        &mut server,
        &keys,
        Action::Enable,
        Config::default(),
        approve,
    )
    .unwrap_err();
    assert_eq!(err, Error::Exchange(ExchangeError::NeedRescueCode));
    let with_iuk = keys_for(&iuk, vec![]).with_unlock_key(iuk.clone());
    let (outcome, _) = run(
        &mut server,
        &with_iuk,
        Action::Enable,
        Config::default(),
        approve,
    )
    .unwrap();
    assert!(!outcome.tif.contains(Tif::SQRL_DISABLED));
    login(&mut server, &keys).unwrap();

    // A wrong IUK cannot sign urs for this account.
    let impostor = keys_for(&iuk, vec![]).with_unlock_key(Iuk::generate(&mut OsRng));
    let err = run(
        &mut server,
        &impostor,
        Action::Remove,
        Config::default(),
        approve,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Exchange(ExchangeError::ClientFailure(_))),
        "{err:?}"
    );
    assert_eq!(server.accounts.len(), 1);

    run(
        &mut server,
        &with_iuk,
        Action::Remove,
        Config::default(),
        approve,
    )
    .unwrap();
    assert!(server.accounts.is_empty());
    let (outcome, _) = login(&mut server, &keys).unwrap();
    assert!(outcome.new_association);
}

#[test]
fn ask_is_shown_and_answered_with_btn() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    server.ask = Some(
        Ask::new("Log in from Firefox?")
            .with_button("Yes", None)
            .unwrap()
            .with_button("No", None)
            .unwrap(),
    );
    let (_, prompts) = run(&mut server, &keys, Action::Login, Config::default(), |p| {
        assert_eq!(p.ask.as_ref().unwrap().message, "Log in from Firefox?");
        Decision::Button(Button::Second)
    })
    .unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(server.buttons, [Some(Button::Second)]);
    // Approve without choosing a button answers btn=0.
    login(&mut server, &keys).unwrap();
    assert_eq!(server.buttons[1], Some(Button::Ok));
}

/// Before, cancelling sent nothing more, and the site's login page showed "scanned" until
/// its code expired.
#[test]
fn cancel_tells_the_site_with_one_query_carrying_btn_2() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let err = run(&mut server, &keys, Action::Login, Config::default(), |_| {
        Decision::Cancel
    })
    .unwrap_err();
    assert_eq!(err, Error::Exchange(ExchangeError::Cancelled));
    assert_eq!(
        server.log,
        ["query 4", "query 4"],
        "exactly one more request"
    );
    assert_eq!(server.query_buttons, [None, Some(Button::Second)]);
    assert!(server.buttons.is_empty(), "no command that acts");
    assert!(server.accounts.is_empty());

    // Cancelling a re-key: the query presents the matched previous identity (signed with
    // pids, which the server checks) and asks for suk, as the query before it did.
    let old = Iuk::generate(&mut OsRng);
    login(&mut server, &keys_for(&old, vec![])).unwrap();
    let rekeyed = keys_for(&Iuk::generate(&mut OsRng), vec![old]);
    server.log.clear();
    server.asked_suk.clear();
    let err = run(
        &mut server,
        &rekeyed,
        Action::Login,
        Config::default(),
        |p| {
            assert!(p.replaces_previous);
            Decision::Cancel
        },
    )
    .unwrap_err();
    assert_eq!(err, Error::Exchange(ExchangeError::Cancelled));
    assert_eq!(server.log, ["query 6", "query 6"]);
    assert_eq!(server.asked_suk, [true, true]);
    assert_eq!(server.superseded.len(), 0, "nothing was replaced");
}

#[test]
fn cancel_ends_cancelled_whatever_the_site_answers_to_the_query() {
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let first = ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2")
        .encode()
        .unwrap();
    let answers = [
        ServerParams::new(
            "n3",
            Tif::COMMAND_FAILED | Tif::CLIENT_FAILURE,
            "/sqrl?nut=n3",
        )
        .encode()
        .unwrap(),
        ServerParams::new(
            "n3",
            Tif::COMMAND_FAILED | Tif::TRANSIENT_ERROR,
            "/sqrl?nut=n3",
        )
        .encode()
        .unwrap(),
        ServerParams::new("n3", Tif::from_bits(0x404), "/sqrl?nut=n3")
            .encode()
            .unwrap(),
        ServerParams::new("n3", Tif::IPS_MATCHED, "/sqrl?nut=n3")
            .encode()
            .unwrap(),
        "<html>502 Bad Gateway</html>".to_owned(),
        String::new(),
    ];
    for answer in answers {
        let mut exchange = started(&keys);
        assert!(matches!(exchange.receive(&first), Ok(Step::Confirm(_))));
        let Ok(Step::Send(query)) = exchange.decide(Decision::Cancel) else {
            panic!("no query after cancel")
        };
        assert_eq!(query.url, "https://example.com/sqrl?nut=n2");
        let params = sqrl_proto::RequestBody::parse(query.body.as_bytes())
            .unwrap()
            .client()
            .unwrap();
        assert_eq!(params.command, sqrl_proto::Command::Query);
        assert_eq!(params.btn, Some(Button::Second));
        assert_eq!(
            exchange.receive(&answer).unwrap_err(),
            Error::Exchange(ExchangeError::Cancelled),
            "{answer:?}"
        );
        assert_eq!(
            exchange.receive(&answer).unwrap_err(),
            Error::Exchange(ExchangeError::OutOfOrder)
        );
        assert_eq!(
            exchange.decide(Decision::Approve).unwrap_err(),
            Error::Exchange(ExchangeError::OutOfOrder)
        );
    }

    // Through drive: the query cannot even be sent.
    let (exchange, query) = Exchange::start(
        SqrlUrl::parse("sqrl://example.com/sqrl?nut=abc").unwrap(),
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let mut sent = 0;
    let result = exchange.drive(
        query,
        |_| {
            sent += 1;
            match sent {
                1 => Ok(first.clone()),
                _ => Err(Error::Transport(TransportError::Network(
                    "connection reset".into(),
                ))),
            }
        },
        |_| Decision::Cancel,
    );
    assert_eq!(
        result.unwrap_err(),
        Error::Exchange(ExchangeError::Cancelled)
    );
    assert_eq!(sent, 2);
}

#[test]
fn sin_is_answered_with_a_stable_ins() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    server.sin = Some("17".into());
    login(&mut server, &keys).unwrap();
    login(&mut server, &keys).unwrap();
    assert_eq!(server.ins.len(), 2);
    assert_eq!(server.ins[0], server.ins[1]);
    server.sin = Some("18".into());
    login(&mut server, &keys).unwrap();
    assert_ne!(server.ins[2], server.ins[0]);
}

#[test]
fn cps_returns_the_url_to_open() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let config = Config {
        cps: true,
        ..Config::default()
    };
    let (outcome, _) = run(&mut server, &keys, Action::Login, config, approve).unwrap();
    let token = &server.cps_tokens[0];
    assert_eq!(
        outcome.redirect.unwrap(),
        format!("https://example.com/cps?token={token}")
    );
}

#[test]
fn one_transient_error_is_retried_two_are_reported() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    server.transient = 1;
    login(&mut server, &keys).unwrap();
    assert_eq!(server.log, ["query 60", "query 4", "ident 5"]);
    server.transient = 2;
    assert_eq!(
        login(&mut server, &keys).unwrap_err(),
        Error::Exchange(ExchangeError::TransientRepeated)
    );
}

#[test]
fn unknown_tif_bits_abort() {
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    server.extra_tif = 0x400;
    let err = login(&mut server, &keys).unwrap_err();
    assert_eq!(
        err,
        Error::Exchange(ExchangeError::UnknownTifBits(Tif::from_bits(0x400)))
    );
    assert!(server.accounts.is_empty());
}

#[test]
fn ip_mismatch_is_shown_in_the_prompt() {
    let mut server = MiniServer::new("example.com");
    server.ip_mismatch = true;
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let (_, prompts) = login(&mut server, &keys).unwrap();
    assert!(!prompts[0].ips_matched);
}

fn started(keys: &Keys) -> Exchange<'_> {
    let url = SqrlUrl::parse("sqrl://example.com/sqrl?nut=abc").unwrap();
    Exchange::start(
        url,
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap()
    .0
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let good = ServerParams::new("n", Tif::IPS_MATCHED, "/sqrl?nut=n")
        .encode()
        .unwrap();
    let mut cases: Vec<String> = (0..good.len()).map(|i| good[..i].to_owned()).collect();
    cases.push("A".repeat(100_000));
    cases.push("not base64 at all!".into());
    cases.push(b64::encode("<html>502 Bad Gateway</html>"));
    cases.push(b64::encode("ver=2\r\nnut=n\r\ntif=4\r\nqry=/s\r\n"));
    cases.push(b64::encode(
        "ver=1\r\nnut=n\r\ntif=4\r\nqry=https://evil.example/s\r\n",
    ));
    cases.push(b64::encode("ver=1\r\nnut=n\r\ntif=4\r\n"));
    cases.push(b64::encode([0xff, 0xfe, 0x00]));
    for case in cases {
        let mut exchange = started(&keys);
        if let Ok(step) = exchange.receive(&case) {
            // Only prefixes that still form a complete reply may succeed.
            assert!(matches!(step, Step::Confirm(_)), "{case:?}");
        }
    }
    let mut exchange = started(&keys);
    assert_eq!(
        exchange.decide(Decision::Approve).unwrap_err(),
        Error::Exchange(ExchangeError::OutOfOrder)
    );
    let version2 = b64::encode("ver=2\r\nnut=n\r\ntif=4\r\nqry=/s\r\n");
    assert_eq!(
        exchange.receive(&version2).unwrap_err(),
        Error::Proto(sqrl_proto::Error::NoCommonVersion)
    );
}

#[test]
fn rekey_query_asks_for_suk_when_presenting_a_pidk() {
    // A server that returns the previous identity's suk only when asked (opt=suk).
    let mut server = MiniServer::new("example.com");
    server.withhold_unasked_suk = true;
    let old = Iuk::generate(&mut OsRng);
    login(&mut server, &keys_for(&old, vec![])).unwrap();
    let current = Iuk::generate(&mut OsRng);
    let keys = keys_for(&current, vec![Iuk::generate(&mut OsRng), old]);
    server.log.clear();
    server.asked_suk.clear();
    let (outcome, _) = login(&mut server, &keys).unwrap();
    assert!(outcome.rekeyed);
    assert_eq!(server.log, ["query 4", "query 6", "ident 5"]);
    // Both queries presented a pidk and asked (every request asks, see below).
    assert_eq!(server.asked_suk, [true, true, true]);
}

/// The client's `opt=` lines, one per request, read back from the request bodies.
fn opt_lines(requests: &[sqrl_client::exchange::Request]) -> Vec<Option<String>> {
    requests
        .iter()
        .map(|request| {
            let body = sqrl_proto::RequestBody::parse(request.body.as_bytes()).unwrap();
            let text = String::from_utf8(b64::decode(body.client_text()).unwrap()).unwrap();
            text.split("\r\n")
                .find_map(|line| line.strip_prefix("opt="))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn a_request_without_an_opt_line_is_never_sent() {
    // Two servers fail a request that has no `opt=` line: every request of every kind of
    // exchange carries at least `opt=suk`, as GRC's client does.
    let mut server = MiniServer::new("example.com");
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys_for(&iuk, vec![]);
    let with_iuk = keys_for(&iuk, vec![]).with_unlock_key(iuk.clone());
    let cases: [(&Keys, Action, Decision); 6] = [
        (&keys, Action::Login, Decision::Approve), // a new identity: query, ident
        (&keys, Action::Login, Decision::Approve), // a known one
        (&keys, Action::Login, Decision::Cancel),  // query, then the query with btn=2
        (&keys, Action::Disable, Decision::Approve),
        (&with_iuk, Action::Enable, Decision::Approve),
        (&with_iuk, Action::Remove, Decision::Approve),
    ];
    for (keys, action, decision) in cases {
        let url = SqrlUrl::parse(&server.issue_url()).unwrap();
        let (exchange, first) = Exchange::start(
            url,
            action,
            keys,
            Config::default(),
            Rlk::generate(&mut OsRng),
        )
        .unwrap();
        let mut requests = Vec::new();
        let _ = exchange.drive(
            first,
            |request| {
                requests.push(request.clone());
                Ok(server.handle(&path_and_query(&request.url), &request.body))
            },
            |_| decision,
        );
        assert!(requests.len() >= 2, "{action:?}");
        assert!(
            opt_lines(&requests).iter().all(|opt| opt
                .as_deref()
                .is_some_and(|o| o.split('~').any(|t| t == "suk"))),
            "{action:?} {decision:?}: {:?}",
            opt_lines(&requests)
        );
    }
    assert!(server.accounts.is_empty(), "the last exchange removed it");
    // Other options still come beside it.
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let config = Config {
        noiptest: true,
        cps: true,
        ..Config::default()
    };
    let (_, first) =
        Exchange::start(url, Action::Login, &keys, config, Rlk::generate(&mut OsRng)).unwrap();
    assert_eq!(opt_lines(&[first]), [Some("noiptest~cps~suk".to_owned())]);
}

#[test]
fn a_path_only_can_in_a_server_reply_is_resolved_against_the_origin() {
    // `can=/…` in a reply used to fail the whole reply ("must be an absolute http(s) URL").
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let url = SqrlUrl::parse("sqrl://example.com:8443/sqrl?nut=abc").unwrap();
    let (mut exchange, _) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let mut reply = ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2");
    reply.can = Some("/login?cancelled=1".into());
    let step = exchange.receive(&reply.encode().unwrap()).unwrap();
    assert!(matches!(step, Step::Confirm(_)), "{step:?}");
    assert_eq!(
        exchange.cancel_url(),
        Some("https://example.com:8443/login?cancelled=1")
    );
    let Step::Send(_) = exchange.decide(Decision::Approve).unwrap() else {
        panic!("no ident")
    };
    let mut done = ServerParams::new(
        "n3",
        Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED,
        "/sqrl?nut=n3",
    );
    done.can = Some("/bye".into());
    let Step::Done(outcome) = exchange.receive(&done.encode().unwrap()).unwrap() else {
        panic!("not done")
    };
    assert_eq!(
        outcome.cancel.as_deref(),
        Some("https://example.com:8443/bye")
    );

    // Anything else still fails the reply clearly, naming `can`.
    for bad in ["login", "//evil.example/x", "javascript:alert(1)"] {
        let mut exchange = started(&keys);
        let mut reply = ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2");
        reply.can = Some(bad.into());
        let error = exchange.receive(&reply.encode().unwrap()).unwrap_err();
        assert!(error.to_string().contains("can"), "{bad}: {error}");
    }
}

#[test]
fn relative_cps_url_is_resolved_against_the_sites_origin() {
    let mut server = MiniServer::new("example.com:8443");
    server.url_override = Some("/account?welcome=1".into());
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let config = Config {
        cps: true,
        ..Config::default()
    };
    let (outcome, _) = run(&mut server, &keys, Action::Login, config, approve).unwrap();
    assert_eq!(
        outcome.redirect.as_deref(),
        Some("https://example.com:8443/account?welcome=1")
    );
    assert_eq!(outcome.redirect_error, None);
    assert_eq!(server.accounts.len(), 1);
}

#[test]
fn unusable_url_after_a_confirmed_login_is_reported_beside_the_success() {
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let config = Config {
        cps: true,
        ..Config::default()
    };
    for url in ["javascript:alert(1)", "account", "//evil.example/x"] {
        let mut server = MiniServer::new("example.com");
        server.url_override = Some(url.into());
        let (outcome, _) = run(&mut server, &keys, Action::Login, config.clone(), approve)
            .unwrap_or_else(|e| panic!("{url}: a confirmed login reported as {e}"));
        assert!(outcome.tif.contains(Tif::CURRENT_ID_MATCH));
        assert_eq!(outcome.redirect, None, "{url}");
        assert!(
            matches!(outcome.redirect_error, Some(Error::Proto(_))),
            "{url}: {:?}",
            outcome.redirect_error
        );
    }
    // CPS asked and the login confirmed, but the reply has no url= at all: still a success.
    let mut server = MiniServer::new("example.com");
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (mut exchange, first) =
        Exchange::start(url, Action::Login, &keys, config, Rlk::generate(&mut OsRng)).unwrap();
    let reply = server.handle(&path_and_query(&first.url), &first.body);
    assert!(matches!(
        exchange.receive(&reply).unwrap(),
        Step::Confirm(_)
    ));
    let Step::Send(ident) = exchange.decide(Decision::Approve).unwrap() else {
        panic!("no ident")
    };
    let reply = server.handle(&path_and_query(&ident.url), &ident.body);
    let mut without_url = ServerParams::decode(&reply).unwrap();
    without_url.url = None;
    let Step::Done(outcome) = exchange.receive(&without_url.encode().unwrap()).unwrap() else {
        panic!("not done")
    };
    assert_eq!(outcome.redirect, None);
    assert_eq!(
        outcome.redirect_error,
        Some(Error::Exchange(ExchangeError::MissingCpsUrl))
    );
}

/// Before, a reply with a failure bit but without `0x40` (`tif=80`) was taken for a success:
/// the `sqrl` command said "New account created… Logged in" (or "disabled") while nothing
/// happened. Every failure bit fails, on the command's reply and on the query's, and the
/// error says which.
#[test]
fn tif_failure_bit_without_0x40_is_not_a_success() {
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let expected = |bit: Tif| match bit {
        Tif::FUNCTION_NOT_SUPPORTED => ExchangeError::NotSupported(bit | Tif::IPS_MATCHED),
        Tif::CLIENT_FAILURE => ExchangeError::ClientFailure(bit | Tif::IPS_MATCHED),
        Tif::BAD_ID_ASSOCIATION => ExchangeError::BadAssociation(bit | Tif::IPS_MATCHED),
        _ => ExchangeError::Superseded,
    };
    for bit in [
        Tif::FUNCTION_NOT_SUPPORTED,
        Tif::CLIENT_FAILURE,
        Tif::BAD_ID_ASSOCIATION,
        Tif::IDENTITY_SUPERSEDED,
    ] {
        let failed = ServerParams::new("n2", bit | Tif::IPS_MATCHED, "/sqrl?nut=n2")
            .encode()
            .unwrap();
        // On the reply to the command that acts.
        let mut exchange = started(&keys);
        let query = ServerParams::new("n1", Tif::IPS_MATCHED, "/sqrl?nut=n1")
            .encode()
            .unwrap();
        assert!(matches!(exchange.receive(&query), Ok(Step::Confirm(_))));
        assert!(matches!(
            exchange.decide(Decision::Approve),
            Ok(Step::Send(_))
        ));
        assert_eq!(
            exchange.receive(&failed).unwrap_err(),
            Error::Exchange(expected(bit)),
            "ident answered {bit}"
        );
        // On the reply to the query: no prompt, no command.
        let mut exchange = started(&keys);
        assert_eq!(
            exchange.receive(&failed).unwrap_err(),
            Error::Exchange(expected(bit)),
            "query answered {bit}"
        );
    }
}

#[test]
fn tif_0x80_without_0x40_is_not_a_success() {
    // The case reported: a new identity's ident answered `tif=80`, and a disable likewise.
    let mut server = MiniServer::new("example.com");
    let keys = keys_for(&Iuk::generate(&mut OsRng), vec![]);
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let result = exchange.drive(
        first,
        |request| {
            let reply = server.handle(&path_and_query(&request.url), &request.body);
            if server.log.len() < 2 {
                return Ok(reply);
            }
            let mut params = ServerParams::decode(&reply).unwrap();
            params.tif = Tif::CLIENT_FAILURE;
            Ok(params.encode().unwrap())
        },
        approve,
    );
    assert_eq!(
        result.unwrap_err(),
        Error::Exchange(ExchangeError::ClientFailure(Tif::CLIENT_FAILURE))
    );
}

#[test]
fn a_disabled_identity_is_reenabled_and_logged_in_on_the_same_exchange() {
    // The dead end: a login found SQRL disabled and spent its code, so `enable` needed a
    // second code and the login a third. Now the same exchange re-enables (urs from the
    // rescue code) and then logs in.
    let mut server = MiniServer::new("example.com");
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys_for(&iuk, vec![Iuk::generate(&mut OsRng)]);
    login(&mut server, &keys).unwrap();
    run(
        &mut server,
        &keys,
        Action::Disable,
        Config::default(),
        approve,
    )
    .unwrap();
    server.log.clear();

    // Without a rescue code offered (plain `drive`), the login stops as before.
    assert_eq!(
        login(&mut server, &keys).unwrap_err(),
        Error::Exchange(ExchangeError::SqrlDisabled)
    );
    // Declined at the offer: the same, nothing sent after the query.
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let send = |server: &mut MiniServer, r: &sqrl_client::exchange::Request| {
        Ok(server.handle(&path_and_query(&r.url), &r.body))
    };
    let err = exchange
        .drive_reenabling(first, |r| send(&mut server, r), approve, |_| None)
        .unwrap_err();
    assert_eq!(err, Error::Exchange(ExchangeError::SqrlDisabled));
    // One query each, nothing after it.
    assert_eq!(server.log, ["query D", "query D"]);
    server.log.clear();

    // Accepted: enable then ident on one code, and the prompts say what happens.
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let mut offered = Vec::new();
    let mut prompts = Vec::new();
    let outcome = exchange
        .drive_reenabling(
            first,
            |r| send(&mut server, r),
            |p| {
                prompts.push(p.clone());
                Decision::Approve
            },
            |p| {
                offered.push(p.clone());
                Some(iuk.clone())
            },
        )
        .unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].action, Action::Enable);
    assert!(offered[0].known && offered[0].ips_matched);
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].action, Action::Login);
    assert!(prompts[0].known);
    assert!(outcome.reenabled && !outcome.new_association && !outcome.rekeyed);
    assert!(outcome.tif.contains(Tif::CURRENT_ID_MATCH));
    assert!(!outcome.tif.contains(Tif::SQRL_DISABLED));
    // One code: the query (disabled), enable with urs, ident.
    assert_eq!(server.log, ["query D", "enable 5", "ident 5"]);
    let account = server.accounts.values().next().unwrap();
    assert!(!account.disabled);

    // A wrong rescue code cannot sign urs: refused, and the account stays as it was.
    run(
        &mut server,
        &keys,
        Action::Disable,
        Config::default(),
        approve,
    )
    .unwrap();
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let err = exchange
        .drive_reenabling(
            first,
            |r| send(&mut server, r),
            approve,
            |_| Some(Iuk::generate(&mut OsRng)),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Exchange(ExchangeError::ClientFailure(_))),
        "{err:?}"
    );
    assert!(server.accounts.values().next().unwrap().disabled);
}

//! The SQRL protocol, each test written once and run over both transports (`in_process::*`
//! calls the `SqrlServer` driver, `over_http::*` the axum router): full logins driven by the
//! real client, and the negative matrix with hand-built (faithful or hostile) requests, each
//! checked for its exact TIF and for changing nothing. The clock is virtual.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

use std::sync::{Arc, Barrier};

use common::*;
use futures_util::{FutureExt, StreamExt};
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Keys};
use sqrl_client::keys::{Imk, Iuk};
use sqrl_proto::{signing_input, Button, Command, RequestBody, ServerParams, Tif, VersionSet};
use sqrl_server::{AskPolicy, FlowError, Rule, Status, StoreError};

over_both_transports!(
    // full logins with the real client
    new_account_then_known_then_browser_redeems_once,
    an_ip_mismatch_does_not_clear_the_question,
    a_login_disabled_before_redemption_gets_no_session,
    disable_and_remove_reach_the_waiting_page,
    only_the_browser_with_the_secret_sees_and_redeems,
    forged_flow_cookie_issue_time_is_refused,
    declined_on_the_phone_rejects_the_flow,
    cps_token_logs_in_once_and_the_waiting_page_cannot,
    rekey_disable_enable_remove_through_the_client,
    cross_device_needs_noiptest,
    secret_index_is_answered_and_checked,
    codes_expire_on_the_virtual_clock,
    a_waiting_page_wakes_only_for_its_own_flow,
    // the negative matrix
    replayed_query_and_ident_are_refused,
    byte_flips_and_forged_echoes_fail_with_client_failure,
    another_sites_key_and_another_flows_nut_are_refused,
    hostile_phone_requests_are_refused_and_change_nothing,
    expired_nuts_are_transient_errors,
    foreign_ip_without_noiptest_is_exactly_0x40_and_the_retry_works,
    unknown_command_wrong_version_and_bad_bodies,
    another_identity_and_missing_keys,
    ident_after_reject_is_refused,
    two_concurrent_idents_on_one_nut_exactly_one_wins,
    enable_and_remove_need_urs,
    scans_are_limited_per_network_prefix,
    // regressions
    btn_zero_after_a_question_with_buttons_does_not_log_in,
    unknown_command_verb_is_function_not_supported,
    cps_failures_carry_url,
    cps_transient_failures_carry_url,
    cps_disable_enable_remove_send_the_browser_home,
    ask_policy_offer_lets_clients_without_ask_log_in,
    ask_policy_require_refuses_ident_without_btn,
    cancel_at_the_clients_own_prompt_reaches_the_waiting_page,
    a_login_refused_for_a_disabled_account_tells_the_waiting_page,
);

fn new_keys() -> (Iuk, Keys) {
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys(&iuk);
    (iuk, keys)
}

// ---- full logins with the real client --------------------------------------------------

fn new_account_then_known_then_browser_redeems_once<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let page = t.start();
    assert!(page.url.starts_with("sqrl://example.com/sqrl?nut="));
    assert!(
        !t.flow_stored(&page.flow),
        "an unscanned code stores nothing"
    );
    t.set_now(T0 + 1);
    assert_eq!(t.status(&page), Ok(Status::New));

    // A new user is not asked (AskPolicy::Offer asks only known accounts).
    t.set_now(T0 + 5);
    let mut asked = None;
    let outcome = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |p| {
            asked = Some(p.ask.clone());
            assert!(p.ips_matched);
            assert!(!p.known);
            Decision::Approve
        },
    )
    .unwrap();
    assert_eq!(asked, Some(None), "no question for a new user");
    assert!(outcome.new_association);
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
    let account = t.account(&idk_of(&iuk.imk())).unwrap();

    t.set_now(T0 + 6);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    assert_eq!(t.redeem(&page), Ok(account.id));
    t.set_now(T0 + 7);
    assert_eq!(
        t.redeem(&page),
        Err(Denied::Flow(FlowError::WrongState)),
        "a login is redeemed once"
    );
    assert_eq!(t.status(&page), Ok(Status::Redeemed));

    // A known account is asked, and the question names the browser that showed the code.
    t.set_now(T0 + 100);
    let page = t.start();
    let mut question = None;
    let outcome = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |p| {
            question = p.ask.clone();
            assert!(p.known);
            Decision::Button(Button::First)
        },
    )
    .unwrap();
    assert!(!outcome.new_association);
    let question = question.expect("a known account is asked");
    assert_eq!(question.buttons.len(), 2);
    assert!(
        question.message.contains("Firefox on Linux") && question.message.contains(BROWSER_IP),
        "{}",
        question.message
    );
    assert_eq!(t.redeem(&page), Ok(account.id), "the same account");
}

fn only_the_browser_with_the_secret_sees_and_redeems<T: Transport>() {
    let t = T::site();
    let (_, keys) = new_keys();
    let (page, _) = log_in(&t, &keys);
    let other = t.start_for(ip("192.0.2.99"), FIREFOX);
    // Knowing the nut (and so the flow id) is not enough.
    let with_other_secret = Page {
        secret: other.secret.clone(),
        ..page.clone()
    };
    assert_eq!(t.redeem(&with_other_secret), Err(Denied::Unknown));
    assert_eq!(t.status(&with_other_secret), Err(Denied::Unknown));
    let without_secret = Page {
        secret: String::new(),
        ..page.clone()
    };
    assert_eq!(t.redeem(&without_secret), Err(Denied::Unknown));
    assert_eq!(t.status(&without_secret), Err(Denied::Unknown));
    // The other browser's own cookie names its own flow, which nobody scanned.
    assert_eq!(t.redeem(&other), Err(Denied::Unknown));
    assert!(t.redeem(&page).is_ok());
}

fn forged_flow_cookie_issue_time_is_refused<T: Transport>() {
    let t = T::site();
    let (_, keys) = new_keys();
    let (page, _) = log_in(&t, &keys);
    // A later issue time would stretch the code's lifetime; an earlier one is no better.
    for issued_at in [
        page.issued_at + 1,
        page.issued_at + 3600,
        page.issued_at - 1,
    ] {
        let forged = Page {
            issued_at,
            ..page.clone()
        };
        assert_eq!(t.status(&forged), Err(Denied::Unknown), "{issued_at}");
        assert_eq!(t.redeem(&forged), Err(Denied::Unknown), "{issued_at}");
    }
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    assert!(t.redeem(&page).is_ok(), "the genuine cookie still redeems");
}

fn declined_on_the_phone_rejects_the_flow<T: Transport>() {
    // Require: the new user is asked, and answers with the second button.
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let (iuk, keys) = new_keys();
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |p| {
            assert!(p.ask.is_some());
            Decision::Button(Button::Second)
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::CommandFailed(Tif::from_bits(
            0x44
        ))),
        "declined: command failed, IPs matched"
    );
    t.set_now(T0 + 1);
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    assert!(t.account(&idk_of(&iuk.imk())).is_none());

    // A known account under the default policy declines the same way.
    let t = T::site();
    log_in(&t, &keys);
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Button(Button::Second),
    )
    .unwrap_err();
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::CommandFailed(Tif::from_bits(
            0x45
        ))),
        "declined: command failed, IPs matched, known"
    );
    assert_eq!(t.status(&page), Ok(Status::Rejected));
}

fn cps_token_logs_in_once_and_the_waiting_page_cannot<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let page = t.start();
    let config = ClientConfig {
        cps: true,
        ..ClientConfig::default()
    };
    let outcome = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        config,
        browser_ip(),
        |_| Decision::Approve,
    )
    .unwrap();
    let link = outcome.redirect.unwrap();
    assert!(
        link.starts_with("https://example.com/sqrl/cps?token="),
        "{link}"
    );
    assert_eq!(t.status(&page), Ok(Status::ConfirmedElsewhere));
    t.set_now(T0 + 1);
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    let (head, token) = link.split_once("token=").unwrap();
    let mut flipped = token.to_owned().into_bytes();
    flipped[30] = if flipped[30] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}token={}", String::from_utf8(flipped).unwrap());
    assert_eq!(t.open_cps(&tampered), None, "a tampered token");
    let account = t.account(&idk_of(&iuk.imk())).unwrap();
    assert_eq!(t.open_cps(&link), Some(account.id));
    t.set_now(T0 + 2);
    assert_eq!(t.open_cps(&link), None, "token reuse");
    assert_eq!(
        t.status(&page),
        Ok(Status::ConfirmedElsewhere),
        "the page never thinks it is logged in"
    );
}

fn rekey_disable_enable_remove_through_the_client<T: Transport>() {
    let t = T::site();
    let old = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&old));
    let first = t.account(&idk_of(&old.imk())).unwrap();
    let new = Iuk::generate(&mut OsRng);
    let rekeyed = Keys::new(new.imk(), new.ilk(), vec![old.clone()]);
    t.set_now(T0 + 10);
    let (page, outcome) = log_in(&t, &rekeyed);
    assert!(outcome.rekeyed);
    assert_eq!(
        t.redeem(&page),
        Ok(first.id),
        "the account id survives the re-key"
    );
    assert!(t.account(&idk_of(&old.imk())).is_none());
    // The old identity is superseded: its query succeeds with 0x200, its login fails.
    t.set_now(T0 + 20);
    let (_, result) = act(&t, &keys(&old), Action::Login);
    assert_eq!(
        result.unwrap_err(),
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::Superseded)
    );

    t.set_now(T0 + 30);
    act(&t, &rekeyed, Action::Disable).1.unwrap();
    assert!(t.account(&idk_of(&new.imk())).unwrap().disabled);
    assert_eq!(
        act(&t, &rekeyed, Action::Login).1.unwrap_err(),
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::SqrlDisabled)
    );
    let with_rescue = keys(&new).with_unlock_key(new.clone());
    let wrong_rescue = keys(&new).with_unlock_key(old.clone());
    assert!(matches!(
        act(&t, &wrong_rescue, Action::Enable).1.unwrap_err(),
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::ClientFailure(_))
    ));
    assert!(t.account(&idk_of(&new.imk())).unwrap().disabled);
    act(&t, &with_rescue, Action::Enable).1.unwrap();
    assert!(!t.account(&idk_of(&new.imk())).unwrap().disabled);
    log_in(&t, &rekeyed);
    act(&t, &with_rescue, Action::Remove).1.unwrap();
    assert!(t.account(&idk_of(&new.imk())).is_none());
    let (_, outcome) = log_in(&t, &keys(&new));
    assert!(outcome.new_association);
    assert_ne!(t.account(&idk_of(&new.imk())).unwrap().id, first.id);
}

/// Before, a page whose code was used to disable or remove the account stayed on "scanned"
/// until the code expired.
fn disable_and_remove_reach_the_waiting_page<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    log_in(&t, &keys);
    let (page, outcome) = act(&t, &keys, Action::Disable);
    outcome.unwrap();
    assert_eq!(t.status(&page), Ok(Status::Disabled));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    let with_rescue = self::keys(&iuk).with_unlock_key(iuk.clone());
    act(&t, &with_rescue, Action::Enable).1.unwrap();
    let (page, outcome) = act(&t, &with_rescue, Action::Remove);
    outcome.unwrap();
    assert_eq!(t.status(&page), Ok(Status::Removed));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
}

fn cross_device_needs_noiptest<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let phone = ip("198.51.100.7");
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        phone,
        |p| {
            assert!(!p.ips_matched);
            Decision::Approve
        },
    )
    .unwrap_err();
    // exactly 0x40: the IP bit clear, no client failure
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::CommandFailed(
            Tif::COMMAND_FAILED
        ))
    );
    assert!(t.account(&idk_of(&iuk.imk())).is_none());
    assert_eq!(t.status(&page), Ok(Status::Scanned));

    let page = t.start();
    let config = ClientConfig {
        noiptest: true,
        ..ClientConfig::default()
    };
    let outcome = drive(&t, &page.url, &keys, Action::Login, config, phone, |_| {
        Decision::Approve
    })
    .unwrap();
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
}

fn secret_index_is_answered_and_checked<T: Transport>() {
    let mut setup = Setup::default();
    setup.config.secret_index = Some("login".into());
    let t = T::new(setup);
    let old = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&old));
    log_in(&t, &keys(&old));
    let site = old.imk().site_key(HOST, "");
    assert_eq!(
        t.account(&site.public_key()).unwrap().ins,
        Some(site.indexed_secret("login"))
    );

    // Without ins, or with another identity's, the ident fails and changes nothing.
    let mut m = Phone::new(&t, &old.imk());
    let (tif, _) = m.step(&t, Command::Query);
    assert_eq!(tif, 0x05);
    let mut p = m.params(Command::Ident);
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC5);
    p.ins = Some(
        Imk::from_bytes([9; 32])
            .site_key(HOST, "")
            .indexed_secret("login"),
    );
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC5);
    p.ins = Some(site.indexed_secret("login"));
    assert_eq!(m.tif(&t, &m.body(&p)), 0x05, "the right ins logs in");

    // A re-key proves the previous identity's ins with pins, then stores the new one.
    let new = Iuk::generate(&mut OsRng);
    let (_, outcome) = log_in(&t, &Keys::new(new.imk(), new.ilk(), vec![old.clone()]));
    assert!(outcome.rekeyed);
    let new_site = new.imk().site_key(HOST, "");
    assert_eq!(
        t.account(&new_site.public_key()).unwrap().ins,
        Some(new_site.indexed_secret("login"))
    );
}

fn codes_expire_on_the_virtual_clock<T: Transport>() {
    let t = T::site();
    let (_, keys) = new_keys();
    let unscanned = t.start();
    t.set_now(T0 + 299);
    assert_eq!(t.status(&unscanned), Ok(Status::New));
    t.set_now(T0 + 300);
    assert_eq!(t.status(&unscanned), Ok(Status::Expired));

    // A confirmed login waits the redeem window (120 s) from its confirmation, not longer.
    t.set_now(T0 + 1000);
    let (page, _) = log_in(&t, &keys);
    t.set_now(T0 + 1119);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    t.set_now(T0 + 1120);
    assert_eq!(t.status(&page), Ok(Status::Expired));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::Expired)));
}

fn a_waiting_page_wakes_only_for_its_own_flow<T: Transport>() {
    let t = T::site();
    let (_, keys) = new_keys();
    let mine = t.start();
    let other = t.start();
    let mut mine_events = t.sqrl().subscribe(mine.flow);
    let mut other_events = t.sqrl().subscribe(other.flow);
    drive(
        &t,
        &mine.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Approve,
    )
    .unwrap();
    assert_eq!(
        mine_events.next().now_or_never(),
        Some(Some(Status::Scanned))
    );
    assert_eq!(
        mine_events.next().now_or_never(),
        Some(Some(Status::Confirmed))
    );
    assert_eq!(
        other_events.next().now_or_never(),
        None,
        "nothing for the other page"
    );
    t.redeem(&mine).unwrap();
    assert_eq!(
        mine_events.next().now_or_never(),
        Some(Some(Status::Redeemed))
    );
    assert_eq!(other_events.next().now_or_never(), None);
}

// ---- the negative matrix ---------------------------------------------------------------

fn replayed_query_and_ident_are_refused<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    let before_query = m.clone();
    let (tif, query) = m.step(&t, Command::Query);
    assert_eq!(tif, 0x04);
    assert_eq!(before_query.tif(&t, &query), 0x60, "replayed query");
    let before_ident = m.clone();
    let (tif, ident) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
    assert_eq!(before_ident.tif(&t, &ident), 0x60, "replayed ident");
    assert_eq!(
        before_query.tif(&t, &query),
        0x60,
        "the query replayed once more"
    );
    assert!(t.account(&idk_of(&imk)).is_some());
}

fn byte_flips_and_forged_echoes_fail_with_client_failure<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
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
            assert_eq!(m.tif(&t, &flipped), 0xC0, "{field} byte {i}");
        }
    }
    assert!(!t.flow_stored(&page.flow), "nothing stored");

    // A reply altered by someone in the middle (tif, then qry), then faithfully signed by the
    // client: the server's hash of what it sent does not match.
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    for forge in [
        (|p: &mut ServerParams| p.tif = Tif::from_bits(0x5)) as fn(&mut ServerParams),
        |p: &mut ServerParams| p.qry = format!("{}&x=1", p.qry),
    ] {
        let mut reply = ServerParams::decode(&m.server_text).unwrap();
        forge(&mut reply);
        let forged = Phone {
            server_text: reply.encode().unwrap(),
            ..m.clone()
        };
        assert_eq!(
            forged.tif(&t, &forged.body(&forged.params(Command::Ident))),
            0xC0
        );
    }
    assert!(t.account(&idk_of(&imk)).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05, "the genuine ident still works");
}

fn another_sites_key_and_another_flows_nut_are_refused<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    // Signed by the same identity's key for another site.
    let client = m.params(Command::Query).encode().unwrap();
    let other = imk
        .site_key("evil.example", "")
        .sign(&signing_input(&client, &m.server_text));
    let body = RequestBody::new(client, m.server_text.clone(), &other, None, None).encode();
    assert_eq!(m.tif(&t, &body), 0xC0);
    // The URL of one flow echoed with the nut of another.
    let other_page = t.start();
    let mixed = Phone {
        query: other_page.query(),
        ..m.clone()
    };
    assert_eq!(
        mixed.tif(&t, &mixed.body(&mixed.params(Command::Query))),
        0xC0
    );
    // A nut we never minted: garbage is a client failure; the shape of a reply nut names a
    // flow with no record: stale, like the nut of a flow that is gone.
    for (nut, tif) in [
        ("nut=not-a-nut", 0xC0),
        ("nut=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0x60),
    ] {
        let forged = Phone {
            query: nut.into(),
            ..m.clone()
        };
        assert_eq!(
            forged.tif(&t, &forged.body(&forged.params(Command::Query))),
            tif,
            "{nut}"
        );
    }
    assert!(!t.flow_stored(&page.flow));
    assert!(!t.flow_stored(&other_page.flow));
}

fn hostile_phone_requests_are_refused_and_change_nothing<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    // The first request must be a query.
    for command in [Command::Ident, Command::Disable, Command::Remove] {
        assert_eq!(
            m.tif(&t, &m.body(&m.params(command.clone()))),
            0xC0,
            "{command:?}"
        );
    }
    // No nut, or a nut with the QR URL echo of another host.
    let body = m.body(&m.params(Command::Query));
    assert_eq!(
        ServerParams::decode(&t.post("", body.as_bytes(), m.ip))
            .unwrap()
            .tif
            .bits(),
        0xC0
    );
    let elsewhere = Phone {
        server_text: sqrl_proto::b64::encode(page.url.replace("example.com", "evil.example")),
        ..m.clone()
    };
    assert_eq!(
        elsewhere.tif(&t, &elsewhere.body(&elsewhere.params(Command::Query))),
        0xC0
    );
    // A same-device `can=` that is not base64url.
    let bad_can = Phone {
        server_text: sqrl_proto::b64::encode(format!("{}&can=a b", page.url)),
        ..m.clone()
    };
    assert_eq!(
        bad_can.tif(&t, &bad_can.body(&bad_can.params(Command::Query))),
        0xC0
    );
    assert!(!t.flow_stored(&page.flow));

    // A reply nut used as if it were a QR nut in a new exchange, and the QR nut of a flow
    // that moved on.
    let mut m = Phone::scan(&page, &imk);
    m.step(&t, Command::Query);
    let reused = Phone {
        server_text: sqrl_proto::b64::encode(&page.url),
        ..m.clone()
    };
    assert_eq!(
        reused.tif(&t, &reused.body(&reused.params(Command::Query))),
        0xC0,
        "a reply nut with a QR echo"
    );
    let again = Phone::scan(&page, &Imk::from_bytes([8; 32]));
    assert_eq!(
        again.tif(&t, &again.body(&again.params(Command::Query))),
        0x60,
        "a used QR nut"
    );
    // The flow still belongs to the first phone.
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
    assert!(t.account(&idk_of(&Imk::from_bytes([8; 32]))).is_none());
}

fn expired_nuts_are_transient_errors<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    t.set_now(T0 + 300);
    assert_eq!(m.tif(&t, &m.body(&m.params(Command::Query))), 0x60);
    assert!(!t.flow_stored(&page.flow));

    t.set_now(T0);
    let mut m = Phone::new(&t, &imk);
    t.set_now(T0 + 10);
    m.step(&t, Command::Query);
    t.set_now(T0 + 300);
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x60);
    assert!(t.account(&idk_of(&imk)).is_none());
}

fn foreign_ip_without_noiptest_is_exactly_0x40_and_the_retry_works<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.ip = ip("198.51.100.7");
    let (tif, _) = m.step(&t, Command::Query);
    assert_eq!(tif, 0x00, "the query reports that the IPs differ");
    let reply = m.send(&t, &m.body(&m.params(Command::Ident)));
    assert_eq!(
        ServerParams::decode(&reply).unwrap().tif.bits(),
        0x40,
        "exactly 0x40 without noiptest"
    );
    assert!(t.account(&idk_of(&imk)).is_none());
    // The refusal keeps the exchange going: its reply's nut takes a retry with noiptest.
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.opt.noiptest = true;
    assert_eq!(m.tif(&t, &m.body(&p)), 0x01);
    assert!(t.account(&idk_of(&imk)).is_some());
}

fn unknown_command_wrong_version_and_bad_bodies<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    let body = m.body(&m.params(Command::Other("frobnicate".into())));
    assert_eq!(m.tif(&t, &body), 0x50);
    let mut p = m.params(Command::Query);
    p.version = VersionSet::parse("2-3").unwrap();
    assert_eq!(m.tif(&t, &m.body(&p)), 0x50);
    let oversized = "x".repeat(20_000);
    let posted = t.post_raw(&m.query, oversized.as_bytes(), m.ip);
    if T::OVER_HTTP {
        assert_eq!(posted.status, 413, "HTTP refuses a body over 8 KiB");
    } else {
        assert_eq!(ServerParams::decode(&posted.body).unwrap().tif.bits(), 0xC0);
    }
    for bad in [
        String::new(),
        "client=&server=&ids=".into(),
        "x".repeat(8000),
        "client=%%%&server=YQ&ids=YQ".into(),
        String::from_utf8_lossy(&[0xff; 100]).into_owned(),
        m.body(&m.params(Command::Query)).replace("ids=", "ids=ids"),
    ] {
        assert_eq!(m.tif(&t, &bad), 0xC0, "{}", &bad[..bad.len().min(40)]);
    }
    assert!(t.account(&idk_of(&imk)).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05, "the exchange is still usable");
}

fn another_identity_and_missing_keys<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    // Another identity continues this flow.
    let intruder = Phone {
        site: Imk::from_bytes([8; 32]).site_key(HOST, ""),
        ..m.clone()
    };
    assert_eq!(
        intruder.tif(&t, &intruder.body(&intruder.params(Command::Ident))),
        0x1C0
    );
    // A new association without suk, or without vuk.
    let mut p = m.params(Command::Ident);
    p.suk = None;
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    let mut p = m.params(Command::Ident);
    p.vuk = None;
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    assert!(t.account(&idk_of(&imk)).is_none());
    assert!(t.account(&idk_of(&Imk::from_bytes([8; 32]))).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
}

fn ident_after_reject_is_refused<T: Transport>() {
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    m.step(&t, Command::Query);
    let mut p = m.params(Command::Ident);
    p.btn = Some(Button::Second);
    let reply = m.send(&t, &m.body(&p));
    assert_eq!(ServerParams::decode(&reply).unwrap().tif.bits(), 0x44);
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    m.follow(&reply);
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x40, "the flow is closed");
    assert!(t.account(&idk_of(&imk)).is_none());
    assert_eq!(t.status(&page), Ok(Status::Rejected));
}

fn two_concurrent_idents_on_one_nut_exactly_one_wins<T: Transport>() {
    let t = T::site();
    for round in 0..20u8 {
        let imk = Imk::from_bytes([round; 32]);
        let mut m = Phone::new(&t, &imk);
        m.step(&t, Command::Query);
        let mut a = m.params(Command::Ident);
        a.btn = Some(Button::First);
        let mut b = m.params(Command::Ident);
        b.btn = Some(Button::Ok);
        let bodies = [m.body(&a), m.body(&b)];
        let barrier = Barrier::new(2);
        let mut results: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let (t, m, barrier) = (&t, &m, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        m.tif(t, body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        results.sort_unstable();
        assert_eq!(results, [0x05, 0x60], "round {round}: {results:x?}");
        assert!(t.account(&idk_of(&imk)).is_some());
    }
}

fn enable_and_remove_need_urs<T: Transport>() {
    let t = T::site();
    let iuk = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&iuk));
    for command in [Command::Remove, Command::Enable] {
        let mut m = Phone::new(&t, &iuk.imk());
        m.step(&t, Command::Query);
        let body = m.body(&m.params(command.clone()));
        assert_eq!(m.tif(&t, &body), 0xC5, "{command:?}");
    }
    assert!(t.account(&idk_of(&iuk.imk())).is_some());
}

fn scans_are_limited_per_network_prefix<T: Transport>() {
    let t = T::new(Setup {
        scan_rule: Rule {
            name: "scans",
            burst: 2,
            per_second: 0.01,
        },
        ..Setup::default()
    });
    let imk = Imk::from_bytes([7; 32]);
    let scan_from = |phone: &str| {
        let mut m = Phone::new(&t, &imk);
        m.ip = ip(phone);
        m.step(&t, Command::Query).0
    };
    // One client (an IPv6 /64) may open two flows at once.
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::2"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::3"), 0x60, "the /64 is cut off");
    assert_eq!(scan_from("2001:db8:1:1:ffff::9"), 0x60, "anywhere in it");
    // Another /64, and IPv4 addresses, are other clients.
    assert_eq!(scan_from("2001:db8:1:2::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:2::1"), 0x00);
    assert_eq!(scan_from(BROWSER_IP), 0x04);
    assert_eq!(scan_from("192.0.2.11"), 0x00);
    // Requests that continue a flow are not scans: the cut-off client still finishes.
    let mut m = Phone::new(&t, &Imk::from_bytes([8; 32]));
    m.ip = ip("2001:db8:1:3::1");
    m.step(&t, Command::Query);
    m.step(&t, Command::Query);
    assert_eq!(scan_from("2001:db8:1:3::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:3::1"), 0x60);
    let mut p = m.params(Command::Ident);
    p.opt.noiptest = true;
    assert_eq!(m.step_with(&t, &p).0, 0x01);
    // The bucket refills: 0.01 per second, one scan after 150 s.
    t.set_now(T0 + 150);
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x60);
}

// ---- regressions -----------------------------------------------------------------------

fn btn_zero_after_a_question_with_buttons_does_not_log_in<T: Transport>() {
    // A known account is asked a question with two buttons (AskPolicy::Offer).
    let t = T::site();
    let iuk = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&iuk));
    let page = t.start();
    let mut m = Phone::scan(&page, &iuk.imk());
    let query = m.params(Command::Query);
    let body = m.body(&query);
    let reply = m.send(&t, &body);
    let ask = ServerParams::decode(&reply).unwrap().ask.unwrap();
    assert_eq!(ask.buttons.len(), 2);
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.btn = Some(Button::Ok);
    assert_eq!(
        m.tif(&t, &m.body(&p)),
        0xC5,
        "btn=0 answers a message without buttons"
    );
    assert_eq!(t.status(&page), Ok(Status::Scanned));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));

    // The real client approving without choosing a button sends btn=0: refused.
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys(&iuk),
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Approve,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            sqrl_client::Error::Exchange(sqrl_client::ExchangeError::ClientFailure(_))
        ),
        "{err:?}"
    );
    assert_eq!(t.status(&page), Ok(Status::Scanned));

    // Under Require, a new user's btn=0 creates no account.
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    let mut p = m.params(Command::Ident);
    p.btn = Some(Button::Ok);
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    assert!(t.account(&idk_of(&imk)).is_none());
}

fn unknown_command_verb_is_function_not_supported<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    // As the first request.
    let reply = m.reply(&t, &m.body(&m.params(Command::Other("frobnicate".into()))));
    assert_eq!(reply.tif.bits(), 0x50);
    assert!(!t.flow_stored(&page.flow));
    // After a query.
    m.step(&t, Command::Query);
    for verb in ["frobnicate", "login"] {
        let reply = m.reply(&t, &m.body(&m.params(Command::Other(verb.into()))));
        assert_eq!(reply.tif.bits(), 0x50, "{verb}");
    }
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05, "nothing changed");
}

fn cps_failures_carry_url<T: Transport>() {
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let cps = |mut p: sqrl_proto::ClientParams| {
        p.opt.cps = true;
        p
    };
    let mut m = Phone::new(&t, &imk);
    // A query reply never carries url=, not even with cps.
    let query = cps(m.params(Command::Query));
    let reply = m.send(&t, &m.body(&query));
    assert_eq!(ServerParams::decode(&reply).unwrap().url, None);
    m.follow(&reply);

    let mut failures = Vec::new();
    // Missing btn under Require.
    let mut p = cps(m.params(Command::Ident));
    p.btn = None;
    failures.push(("missing btn", m.reply(&t, &m.body(&p))));
    // btn=0 after a question with buttons.
    let mut p = cps(m.params(Command::Ident));
    p.btn = Some(Button::Ok);
    failures.push(("btn=0", m.reply(&t, &m.body(&p))));
    // A bad echo.
    let mut forged = ServerParams::decode(&m.server_text).unwrap();
    forged.tif = Tif::from_bits(0x05);
    let liar = Phone {
        server_text: forged.encode().unwrap(),
        ..m.clone()
    };
    failures.push((
        "bad echo",
        liar.reply(&t, &liar.body(&cps(liar.params(Command::Ident)))),
    ));
    // Disable of an unknown account.
    failures.push((
        "disable unknown",
        m.reply(&t, &m.body(&cps(m.params(Command::Disable)))),
    ));
    // An unknown command and a wrong version.
    failures.push((
        "unknown command",
        m.reply(
            &t,
            &m.body(&cps(m.params(Command::Other("frobnicate".into())))),
        ),
    ));
    let mut p = cps(m.params(Command::Ident));
    p.version = VersionSet::parse("7").unwrap();
    failures.push(("wrong version", m.reply(&t, &m.body(&p))));
    // A replayed nut after the exchange moved on, and an expired flow.
    let mut declined = cps(m.params(Command::Ident));
    declined.btn = Some(Button::Second);
    let before = m.clone();
    let reply = m.send(&t, &m.body(&declined));
    failures.push(("declined", ServerParams::decode(&reply).unwrap()));
    failures.push((
        "stale nut",
        before.reply(&t, &before.body(&cps(before.params(Command::Ident)))),
    ));
    m.follow(&reply);
    failures.push((
        "closed flow",
        m.reply(&t, &m.body(&cps(m.params(Command::Ident)))),
    ));
    // Another IP without noiptest (a refusal that keeps the exchange going).
    let mut away = Phone::new(&t, &imk);
    away.ip = ip("198.51.100.7");
    away.step_with(&t, &cps(away.params(Command::Query)));
    failures.push((
        "ip mismatch",
        away.reply(&t, &away.body(&cps(away.params(Command::Ident)))),
    ));
    let mut late = Phone::new(&t, &imk);
    late.step_with(&t, &cps(late.params(Command::Query)));
    t.set_now(T0 + 300);
    failures.push((
        "expired",
        late.reply(&t, &late.body(&cps(late.params(Command::Ident)))),
    ));

    for (what, reply) in &failures {
        assert!(
            reply.tif.contains(Tif::COMMAND_FAILED),
            "{what}: {:x}",
            reply.tif.bits()
        );
        assert_eq!(reply.url.as_deref(), Some(HOME), "{what}");
    }
    assert!(t.account(&idk_of(&imk)).is_none());
}

fn with_cps(mut p: sqrl_proto::ClientParams) -> sqrl_proto::ClientParams {
    p.opt.cps = true;
    p
}

fn cps_transient_failures_carry_url<T: Transport>() {
    // A lost race (another request on the nut committed first) and a failed backend: the
    // command failed, so with opt=cps the reply sends the browser home like any failure.
    let faulty = Arc::new(Faulty::default());
    let t = T::new(Setup {
        store: Some(faulty.clone()),
        ..Setup::default()
    });
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step_with(&t, &with_cps(m.params(Command::Query)));
    for error in [StoreError::Conflict, StoreError::Backend("down".into())] {
        faulty.fail_commits(Some(error.clone()));
        let reply = m.reply(&t, &m.body(&with_cps(m.params(Command::Ident))));
        assert_eq!(reply.tif.bits(), 0x60, "{error}");
        assert_eq!(reply.url.as_deref(), Some(HOME), "{error}");
    }
    faulty.fail_commits(None);
    let reply = m.reply(&t, &m.body(&with_cps(m.params(Command::Ident))));
    assert_eq!(
        reply.tif.bits(),
        0x05,
        "nothing changed: the ident still works"
    );
    assert!(reply.url.unwrap().contains("/sqrl/cps?token="));
}

fn cps_disable_enable_remove_send_the_browser_home<T: Transport>() {
    let t = T::site();
    let iuk = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&iuk));
    let site = iuk.imk().site_key(HOST, "");
    let run = |command: Command| {
        let mut m = Phone::new(&t, &iuk.imk());
        m.step_with(&t, &with_cps(m.params(Command::Query)));
        let mut p = with_cps(m.params(command.clone()));
        p.btn = Some(Button::First);
        let client = p.encode().unwrap();
        let ids = site.sign(&signing_input(&client, &m.server_text));
        // enable and remove prove the rescue code with urs under the stored vuk.
        let urs = (command != Command::Disable).then(|| {
            iuk.unlock_request_signing_key(&t.account(&site.public_key()).unwrap().suk)
                .sign(&signing_input(&client, &m.server_text))
        });
        let body =
            RequestBody::new(client, m.server_text.clone(), &ids, None, urs.as_ref()).encode();
        m.reply(&t, &body)
    };
    let disabled = run(Command::Disable);
    assert_eq!(disabled.tif.bits(), 0x0D);
    assert_eq!(disabled.url.as_deref(), Some(HOME));
    let enabled = run(Command::Enable);
    assert_eq!(enabled.tif.bits(), 0x05);
    assert_eq!(enabled.url.as_deref(), Some(HOME));
    let removed = run(Command::Remove);
    assert_eq!(removed.tif.bits(), 0x04);
    assert_eq!(removed.url.as_deref(), Some(HOME));
    assert!(t.account(&site.public_key()).is_none());
}

fn ask_policy_offer_lets_clients_without_ask_log_in<T: Transport>() {
    let t = T::site();
    // A new user: no question, and an ident without btn logs in.
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    let query = m.params(Command::Query);
    let reply = m.send(&t, &m.body(&query));
    assert_eq!(ServerParams::decode(&reply).unwrap().ask, None);
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.btn = None;
    assert_eq!(m.step_with(&t, &p).0, 0x05);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));

    // A known account is asked; a client without `ask` (no btn) still logs in.
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    let reply = m.send(&t, &m.body(&m.params(Command::Query)));
    assert!(ServerParams::decode(&reply).unwrap().ask.is_some());
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.btn = None;
    assert_eq!(m.step_with(&t, &p).0, 0x05);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    assert!(t.redeem(&page).is_ok());
}

fn ask_policy_require_refuses_ident_without_btn<T: Transport>() {
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    let reply = m.send(&t, &m.body(&m.params(Command::Query)));
    let ask = ServerParams::decode(&reply).unwrap().ask;
    assert!(ask.is_some(), "Require asks a new user too");
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.btn = None;
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    assert!(t.account(&idk_of(&imk)).is_none());
    assert_eq!(t.status(&page), Ok(Status::Scanned));
    // The refusal changed nothing: the same exchange goes on with the first button.
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
}

/// Before, any reply without a question cleared the flow's "asked" mark: a refused ident from
/// another address (the relayed-QR case) let the next ident log in without answering.
fn an_ip_mismatch_does_not_clear_the_question<T: Transport>() {
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    let reply = m.send(&t, &m.body(&m.params(Command::Query)));
    assert!(ServerParams::decode(&reply).unwrap().ask.is_some());
    m.follow(&reply);
    // An ident from another address, without noiptest: refused, the exchange goes on.
    let home = m.ip;
    m.ip = "198.51.100.99".parse().unwrap();
    let reply = m.send(&t, &m.body(&m.params(Command::Ident)));
    let tif = ServerParams::decode(&reply).unwrap().tif.bits();
    assert_eq!(tif & 0x40, 0x40, "refused: {tif:#x}");
    m.follow(&reply); // the refusal's nut carries the exchange on
    m.ip = home;
    // The next ident still has to answer the question.
    let mut p = m.params(Command::Ident);
    p.btn = None;
    assert_eq!(m.tif(&t, &m.body(&p)) & 0xC0, 0xC0);
    assert!(t.account(&idk_of(&imk)).is_none());
}

/// Before, a confirmed login was redeemed even if the account had been disabled (or removed)
/// on the phone in the meantime.
fn a_login_disabled_before_redemption_gets_no_session<T: Transport>() {
    let t = T::site();
    let (_, keys) = new_keys();
    log_in(&t, &keys);
    let page = t.start();
    drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Button(Button::First),
    )
    .unwrap();
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    act(&t, &keys, Action::Disable).1.unwrap();
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
}

/// Before, a user who cancelled at the client's own prompt (a new user: the site asks nothing)
/// left the page on "scanned" until its code expired.
fn cancel_at_the_clients_own_prompt_reaches_the_waiting_page<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |p| {
            assert!(p.ask.is_none(), "a new user is asked nothing");
            Decision::Cancel
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::Cancelled)
    );
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    assert!(t.account(&idk_of(&iuk.imk())).is_none());

    // A known account cancelling a disable: nothing changes, and the page is told too.
    log_in(&t, &keys);
    let page = t.start();
    let err = drive(
        &t,
        &page.url,
        &keys,
        Action::Disable,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Cancel,
    )
    .unwrap_err();
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::Cancelled)
    );
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    assert!(!t.account(&idk_of(&iuk.imk())).unwrap().disabled);
}

/// Before, the page of a login refused because SQRL login is disabled for the account said
/// "scanned" ("confirm on your phone") with no hint until its code expired.
fn a_login_refused_for_a_disabled_account_tells_the_waiting_page<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    log_in(&t, &keys);
    act(&t, &keys, Action::Disable).1.unwrap();
    let (page, result) = act(&t, &keys, Action::Login);
    assert_eq!(
        result.unwrap_err(),
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::SqrlDisabled)
    );
    assert_eq!(
        t.status(&page),
        Ok(Status::ScannedDisabled),
        "open, with the hint"
    );
    // Re-enabled on another code, the identity logs in on a new one.
    act(
        &t,
        &self::keys(&iuk).with_unlock_key(iuk.clone()),
        Action::Enable,
    )
    .1
    .unwrap();
    let (page, _) = log_in(&t, &keys);
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
}

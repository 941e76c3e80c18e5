//! Faults found and fixed, each pinned by a test named after it.

use std::sync::Arc;

use crate::new_keys;
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision};
use sqrl_client::keys::{Imk, Iuk};
use sqrl_proto::{signing_input, Button, Command, RequestBody, ServerParams, Tif, VersionSet};
use sqrl_server::{AskPolicy, FlowError, Status, StoreError};
use sqrl_testkit::harness::*;
use sqrl_testkit::over_both_transports;

over_both_transports!(
    a_reply_the_wire_cannot_carry_is_refused_not_sent_empty,
    an_ip_mismatch_does_not_clear_the_question,
    a_login_disabled_before_redemption_gets_no_session,
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
    let err = login_with(&t, &page.url, &keys(&iuk), |_| Decision::Approve).unwrap_err();
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
    t.set_now(at(T0 + 300));
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
    // A new user: a message without buttons, and an ident without btn logs in.
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    let query = m.params(Command::Query);
    let reply = m.send(&t, &m.body(&query));
    let told = ServerParams::decode(&reply).unwrap().ask.unwrap();
    assert!(told.buttons.is_empty());
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
    login_with(&t, &page.url, &keys, |_| Decision::Button(Button::First)).unwrap();
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    act(&t, &keys, Action::Disable).1.unwrap();
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
}

/// Before, a user who cancelled at the client's own prompt (a new user: the site's words come
/// without buttons) left the page on "scanned" until its code expired.
fn cancel_at_the_clients_own_prompt_reaches_the_waiting_page<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let page = t.start();
    let err = login_with(&t, &page.url, &keys, |p| {
        assert!(
            p.ask.as_ref().is_some_and(|a| a.buttons.is_empty()),
            "a new user is told, without buttons"
        );
        Decision::Cancel
    })
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

/// Before, a reply that could not be encoded (here a `sin` configured with a line break) was
/// sent as an empty body with status 200, and its commit went ahead: the phone could parse
/// nothing. Now the command is refused with a reply it can parse, and nothing changes.
fn a_reply_the_wire_cannot_carry_is_refused_not_sent_empty<T: Transport>() {
    let mut setup = Setup::default();
    setup.config.secret_index = Some("login\r\nnut=forged".into());
    let t = T::new(setup);
    let iuk = Iuk::generate(&mut OsRng);
    let m = Phone::new(&t, &iuk.imk());
    let reply = m.send(&t, &m.body(&m.params(Command::Query)));
    assert!(!reply.is_empty(), "an empty reply");
    let tif = ServerParams::decode(&reply).unwrap().tif.bits();
    assert_eq!(tif & 0x40, 0x40, "command failed: {tif:#x}");
    assert!(t.account(&idk_of(&iuk.imk())).is_none());
}

//! Full logins driven by the real client: new account, known login, redemption, CPS,
//! re-key, disable/enable/remove, the question, the IP check, expiry, waiting pages.

use crate::new_keys;
use futures_util::{FutureExt, StreamExt};
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Keys};
use sqrl_client::keys::{Imk, Iuk};
use sqrl_proto::{Button, Command, Tif};
use sqrl_server::{AskPolicy, FlowError, Status};
use sqrl_testkit::harness::*;
use sqrl_testkit::over_both_transports;

over_both_transports!(
    new_account_then_known_then_browser_redeems_once,
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
);

fn new_account_then_known_then_browser_redeems_once<T: Transport>() {
    let t = T::site();
    let (iuk, keys) = new_keys();
    let page = t.start();
    assert!(page.url.starts_with("sqrl://example.com/sqrl?nut="));
    assert!(
        !t.flow_stored(&page.flow),
        "an unscanned code stores nothing"
    );
    t.set_now(at(T0 + 1));
    assert_eq!(t.status(&page), Ok(Status::New));

    // A new user is told the question's words without buttons (AskPolicy::Offer asks known
    // accounts with buttons): every approval names the browser and its IP.
    t.set_now(at(T0 + 5));
    let mut asked = None;
    let outcome = login_with(&t, &page.url, &keys, |p| {
        asked = Some(p.ask.clone());
        assert!(p.ips_matched);
        assert!(!p.known);
        Decision::Approve
    })
    .unwrap();
    let told = asked
        .flatten()
        .expect("a new user is told which browser asked");
    assert!(told.buttons.is_empty(), "no buttons for a new user");
    assert!(told.message.contains(" from "), "{}", told.message);
    assert!(outcome.new_association);
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
    let account = t.account(&idk_of(&iuk.imk())).unwrap();

    t.set_now(at(T0 + 6));
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    assert_eq!(t.redeem(&page), Ok(account.id));
    t.set_now(at(T0 + 7));
    assert_eq!(
        t.redeem(&page),
        Err(Denied::Flow(FlowError::WrongState)),
        "a login is redeemed once"
    );
    assert_eq!(t.status(&page), Ok(Status::Redeemed));

    // A known account is asked, and the question names the browser that showed the code.
    t.set_now(at(T0 + 100));
    let page = t.start();
    let mut question = None;
    let outcome = login_with(&t, &page.url, &keys, |p| {
        question = p.ask.clone();
        assert!(p.known);
        Decision::Button(Button::First)
    })
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
    let err = login_with(&t, &page.url, &keys, |p| {
        assert!(p.ask.is_some());
        Decision::Button(Button::Second)
    })
    .unwrap_err();
    assert_eq!(
        err,
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::CommandFailed(Tif::from_bits(
            0x44
        ))),
        "declined: command failed, IPs matched"
    );
    t.set_now(at(T0 + 1));
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    assert!(t.account(&idk_of(&iuk.imk())).is_none());

    // A known account under the default policy declines the same way.
    let t = T::site();
    log_in(&t, &keys);
    let page = t.start();
    let err = login_with(&t, &page.url, &keys, |_| Decision::Button(Button::Second)).unwrap_err();
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
    t.set_now(at(T0 + 1));
    assert_eq!(t.redeem(&page), Err(Denied::Flow(FlowError::WrongState)));
    let (head, token) = link.split_once("token=").unwrap();
    let mut flipped = token.to_owned().into_bytes();
    flipped[30] = if flipped[30] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}token={}", String::from_utf8(flipped).unwrap());
    assert_eq!(t.open_cps(&tampered), None, "a tampered token");
    let account = t.account(&idk_of(&iuk.imk())).unwrap();
    assert_eq!(t.open_cps(&link), Some(account.id));
    t.set_now(at(T0 + 2));
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
    t.set_now(at(T0 + 10));
    let (page, outcome) = log_in(&t, &rekeyed);
    assert!(outcome.rekeyed);
    assert_eq!(
        t.redeem(&page),
        Ok(first.id),
        "the account id survives the re-key"
    );
    assert!(t.account(&idk_of(&old.imk())).is_none());
    // The old identity is superseded: its query succeeds with 0x200, its login fails.
    t.set_now(at(T0 + 20));
    let (_, result) = act(&t, &keys(&old), Action::Login);
    assert_eq!(
        result.unwrap_err(),
        sqrl_client::Error::Exchange(sqrl_client::ExchangeError::Superseded)
    );

    t.set_now(at(T0 + 30));
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
    t.set_now(at(T0 + 299));
    assert_eq!(t.status(&unscanned), Ok(Status::New));
    t.set_now(at(T0 + 300));
    assert_eq!(t.status(&unscanned), Ok(Status::Expired));

    // A confirmed login waits the redeem window (120 s) from its confirmation, not longer.
    t.set_now(at(T0 + 1000));
    let (page, _) = log_in(&t, &keys);
    t.set_now(at(T0 + 1119));
    assert_eq!(t.status(&page), Ok(Status::Confirmed));
    t.set_now(at(T0 + 1120));
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
    login_with(&t, &mine.url, &keys, |_| Decision::Approve).unwrap();
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

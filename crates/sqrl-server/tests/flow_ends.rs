//! The sans-IO decisions ([`Endpoint::receive`] then [`Endpoint::decide`]) on hand-built
//! snapshots: how each end of the phone's conversation reaches the page that waits on its
//! code — the flow the decision commits and the status it publishes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// These tests play the core's caller, which supplies the randomness (spec/server.md §6).
#![allow(clippy::disallowed_types)]

use std::net::IpAddr;

use rand_core::OsRng;
use sqrl_client::keys::{Imk, Iuk, SiteKey};
use sqrl_proto::{b64, signing_input, Button, Bytes32, ClientParams, Command, RequestBody, Tif};
use sqrl_server::UnixTime;
use sqrl_server::{
    Account, AccountChange, AccountId, Config, Decision, Endpoint, Flow, FlowId, Incoming, Phase,
    Refusal, Snapshot, Status,
};

const T0: u64 = 1_800_000_000;
const HOST: &str = "example.com";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn browser_ip() -> IpAddr {
    IpAddr::from([192, 0, 2, 10])
}

/// One site with one login page, its stored flow and at most one account, and the phone
/// that scanned the page's code.
struct Exchange {
    server: Endpoint,
    flow: Option<Flow>,
    account: Option<Account>,
    site: SiteKey,
    /// The query string of the next request (`nut=…`).
    query: String,
    /// What the next request echoes as `server`.
    server_text: String,
    /// The flow of the login page's code.
    page: FlowId,
}

impl Exchange {
    fn new(imk: &Imk) -> Self {
        Self::new_for(imk, "")
    }

    /// A login page of an identity provider for the application `app`.
    fn new_for(imk: &Imk, app: &str) -> Self {
        let server = Endpoint::new(Config::new(HOST), &[1; 32], &[2; 32]);
        let page = server.start_flow_for(
            browser_ip(),
            FIREFOX,
            app,
            UnixTime::from_secs(T0),
            &mut OsRng,
        );
        Self {
            server,
            flow: None,
            account: None,
            site: imk.site_key(HOST, ""),
            query: format!("nut={}", page.nut),
            server_text: b64::encode(&page.url),
            page: page.flow,
        }
    }

    fn params(&self, command: Command, btn: Option<Button>) -> ClientParams {
        let mut p = ClientParams::new(command, self.site.public_key());
        p.btn = btn;
        p
    }

    /// Sends `params` (with `urs` by `unlock`'s key for the stored SUK, if given): the
    /// decision, after committing it to the stored flow and account and following the reply
    /// when it belongs to the flow.
    fn send(&mut self, params: &ClientParams, unlock: Option<&Iuk>) -> Decision {
        let client = params.encode().unwrap();
        let message = signing_input(&client, &self.server_text);
        let ids = self.site.sign(&message);
        let urs = unlock.map(|iuk| {
            let suk = self.account.as_ref().unwrap().suk;
            iuk.unlock_request_signing_key(&suk).sign(&message)
        });
        let body =
            RequestBody::new(client, self.server_text.clone(), &ids, None, urs.as_ref()).encode();
        let incoming = Incoming {
            query: &self.query,
            body: body.as_bytes(),
            client_ip: browser_ip(),
            now: UnixTime::from_secs(T0 + 5),
        };
        let pending = self.server.receive(&incoming).unwrap();
        let snapshot = Snapshot {
            flow: self.flow.clone(),
            current: self.account.clone(),
            previous: None,
            superseded: false,
        };
        let decision = self.server.decide(pending, snapshot, &mut OsRng);
        if let Some(commit) = &decision.commit {
            self.flow = Some(commit.flow.clone());
            match &commit.account {
                AccountChange::Keep => {}
                AccountChange::Put(account) => self.account = Some(account.clone()),
                other => panic!("unexpected account change {other:?}"),
            }
        }
        if decision.response.flow.is_some() {
            let reply = sqrl_proto::ServerParams::decode(&decision.response.body).unwrap();
            self.query = reply.qry.split_once('?').unwrap().1.to_owned();
            self.server_text = decision.response.body.clone();
        }
        decision
    }

    fn phase(&self) -> Phase {
        self.flow.as_ref().unwrap().phase()
    }
}

/// Before, a query carried `btn=2` to no effect: a user who cancelled at the client's own
/// prompt (a new user, asked nothing by the site) left the page on "scanned" until its code
/// expired.
#[test]
fn a_query_with_btn_2_rejects_the_flow_and_publishes_rejected() {
    let mut x = Exchange::new(&Imk::from_bytes([7; 32]));
    let query = x.send(&x.params(Command::Query, None), None);
    assert_eq!(query.status, Some(Status::Scanned));
    assert_eq!(
        query.response.tif,
        Tif::IPS_MATCHED,
        "a new user, not asked"
    );

    let declined = x.send(&x.params(Command::Query, Some(Button::Second)), None);
    assert_eq!(declined.status, Some(Status::Rejected), "the page is told");
    assert_eq!(x.phase(), Phase::Rejected);
    let commit = declined.commit.as_ref().unwrap();
    assert_eq!(commit.account, AccountChange::Keep, "no account changes");
    assert!(commit.guards.is_empty(), "a query depends on no account");
    // Answered as a query: the fact bits, no failure, nobody logged in, no question.
    assert_eq!(declined.response.tif, Tif::IPS_MATCHED);
    assert_eq!(declined.response.refusal, None);
    assert_eq!(declined.response.login, None);
    let reply = sqrl_proto::ServerParams::decode(&declined.response.body).unwrap();
    assert_eq!((reply.ask, reply.sin), (None, None));

    // The flow is closed: the reply's nut logs nobody in.
    let ident = x.send(&x.params(Command::Ident, None), None);
    assert_eq!(ident.response.refusal, Some(Refusal::FlowClosed));
    assert_eq!(ident.response.login, None);
    assert_eq!(x.phase(), Phase::Rejected);
}

#[test]
fn a_known_accounts_query_with_btn_2_rejects_the_flow_without_failing() {
    let imk = Imk::from_bytes([8; 32]);
    let mut x = Exchange::new(&imk);
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), false));
    let query = x.send(&x.params(Command::Query, None), None);
    let reply = sqrl_proto::ServerParams::decode(&query.response.body).unwrap();
    assert!(reply.ask.is_some(), "a known account is asked");
    let declined = x.send(&x.params(Command::Query, Some(Button::Second)), None);
    assert_eq!(declined.status, Some(Status::Rejected));
    assert_eq!(
        declined.response.tif,
        Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED
    );
    assert_eq!(
        x.account,
        Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), false))
    );
}

/// Show-and-compare: the question quotes the code the login page shows beside its QR code,
/// so a user shown a relayed code is asked about a number that is not on their screen.
#[test]
fn the_login_question_quotes_the_code_the_page_shows() {
    let imk = Imk::from_bytes([8; 32]);
    let mut x = Exchange::new(&imk);
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), false));
    let code = x.page.compare_code();
    assert!((10..=99).contains(&code));
    let query = x.send(&x.params(Command::Query, None), None);
    let ask = sqrl_proto::ServerParams::decode(&query.response.body)
        .unwrap()
        .ask
        .unwrap();
    let shows = format!("The login page shows {code} and was opened at ");
    assert!(ask.message.contains(&shows), "{}", ask.message);
    assert!(ask.message.contains("Firefox"), "{}", ask.message);

    // A site whose page does not show the code leaves it out of the question.
    let mut x = Exchange::new(&imk);
    let mut config = Config::new(HOST);
    config.compare_code = false;
    x.server = Endpoint::new(config, &[1; 32], &[2; 32]);
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), false));
    let query = x.send(&x.params(Command::Query, None), None);
    let ask = sqrl_proto::ServerParams::decode(&query.response.body)
        .unwrap()
        .ask
        .unwrap();
    assert!(!ask.message.contains("shows"), "{}", ask.message);
    assert!(ask.message.contains("The login page was opened at "));
}

/// An identity provider's login page: the question names the application and the provider
/// ("Log in to Wiki via example.com"); the name is sealed with the nut, so a code cannot be
/// relabelled, nor its label dropped.
#[test]
fn the_login_question_names_the_application_of_the_code() {
    let imk = Imk::from_bytes([8; 32]);
    let mut x = Exchange::new_for(&imk, "Wiki");
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), false));
    let url = String::from_utf8(b64::decode(&x.server_text).unwrap()).unwrap();
    assert!(
        url.ends_with(&format!("&app={}", b64::encode("Wiki"))),
        "{url}"
    );
    let query = x.send(&x.params(Command::Query, None), None);
    let ask = sqrl_proto::ServerParams::decode(&query.response.body)
        .unwrap()
        .ask
        .unwrap();
    assert!(
        ask.message
            .starts_with("Log in to Wiki via example.com in Firefox"),
        "{}",
        ask.message
    );

    // Relabelled, or the label dropped: the nut does not open.
    for forged in [
        url.replace(&b64::encode("Wiki"), &b64::encode("Bank")),
        url.replace(&format!("&app={}", b64::encode("Wiki")), ""),
        format!("{url}&app={}", b64::encode("Wiki")),
    ] {
        let mut x = Exchange::new_for(&imk, "Wiki");
        let nut = x.query.clone();
        x.server_text = b64::encode(&forged);
        x.query = nut;
        let params = x.params(Command::Query, None);
        let client = params.encode().unwrap();
        let message = signing_input(&client, &x.server_text);
        let ids = x.site.sign(&message);
        let body = RequestBody::new(client, x.server_text.clone(), &ids, None, None).encode();
        let refused = x
            .server
            .receive(&Incoming {
                query: &x.query,
                body: body.as_bytes(),
                client_ip: browser_ip(),
                now: UnixTime::from_secs(T0 + 5),
            })
            .unwrap_err();
        assert_eq!(refused.refusal, Refusal::UnknownNut, "{forged}");
    }
}

/// Before, a login that re-enabled a disabled identity on the same code was never asked: the
/// query of a disabled identity carries no question and the `enable` reply carried none, so
/// even under `require` an `ident` without `btn` logged in, naming no browser to the user.
#[test]
fn a_login_after_re_enabling_on_the_same_code_is_asked() {
    let imk = Imk::from_bytes([8; 32]);
    let iuk = Iuk::from_bytes([9; 32]);
    let mut x = Exchange::new(&imk);
    let mut config = Config::new(HOST);
    config.ask = sqrl_server::AskPolicy::Require;
    x.server = Endpoint::new(config, &[1; 32], &[2; 32]);
    x.account = Some(account_of(&x.site, &iuk, true));
    let query = x.send(&x.params(Command::Query, None), None);
    let reply = sqrl_proto::ServerParams::decode(&query.response.body).unwrap();
    assert!(reply.tif.contains(Tif::SQRL_DISABLED) && reply.ask.is_none());
    let enable = x.send(&x.params(Command::Enable, None), Some(&iuk));
    assert_eq!(enable.response.refusal, None);
    let reply = sqrl_proto::ServerParams::decode(&enable.response.body).unwrap();
    let ask = reply
        .ask
        .expect("the enable's reply asks the login question");
    assert_eq!(ask.buttons.len(), 2);
    assert!(ask.message.contains("Firefox"), "{}", ask.message);
    let unanswered = x.send(&x.params(Command::Ident, None), None);
    assert_eq!(unanswered.response.refusal, Some(Refusal::MissingAnswer));
}

/// Names come cleaned and bounded: no control characters, one space between words, at most
/// 40 characters.
#[test]
fn application_names_are_cleaned_before_a_code_carries_them() {
    assert_eq!(sqrl_server::app_label("  My\tWiki\n\u{7}  "), "My Wiki");
    assert_eq!(sqrl_server::app_label("\u{1b}[2J"), "[2J");
    assert_eq!(sqrl_server::app_label(" \n "), "");
    assert_eq!(
        sqrl_server::app_label("Wi\u{202e}ki\u{200b}"),
        "Wiki",
        "no bidirectional override or zero-width character"
    );
    let long = sqrl_server::app_label(&"x".repeat(100));
    assert_eq!(long.chars().count(), sqrl_server::APP_LABEL_MAX);
    assert!(long.ends_with('…'));
}

#[test]
fn btn_0_and_btn_1_on_a_query_mean_nothing() {
    let mut x = Exchange::new(&Imk::from_bytes([7; 32]));
    x.send(&x.params(Command::Query, None), None);
    for btn in [Button::Ok, Button::First] {
        let query = x.send(&x.params(Command::Query, Some(btn)), None);
        assert_eq!(query.status, None, "{btn:?}: no change for the page");
        assert_eq!(query.response.tif, Tif::IPS_MATCHED, "{btn:?}");
        assert_eq!(x.phase(), Phase::Scanned, "{btn:?}");
    }
    let mut ident = x.params(Command::Ident, None);
    ident.suk = Some(Bytes32([5; 32]));
    ident.vuk = Some(
        Iuk::from_bytes([6; 32])
            .unlock_request_signing_key(&Bytes32([5; 32]))
            .verify_key(),
    );
    let login = x.send(&ident, None);
    assert_eq!(login.status, Some(Status::Confirmed));
}

/// An account of `site`'s identity whose rescue code is `iuk`.
fn account_of(site: &SiteKey, iuk: &Iuk, disabled: bool) -> Account {
    let suk = Bytes32([11; 32]);
    Account {
        id: AccountId([3; 16]),
        idk: site.public_key(),
        suk,
        vuk: iuk.unlock_request_signing_key(&suk).verify_key(),
        disabled,
        sqrlonly: false,
        hardlock: false,
        created_at: T0 - 1000,
        ins: None,
    }
}

/// Before, a page whose code was scanned by an identity disabled at the site said "confirm on
/// your phone" to someone whose login could only be refused.
#[test]
fn a_disabled_identity_marks_the_open_flow_until_it_enables_and_logs_in() {
    let imk = Imk::from_bytes([8; 32]);
    let rescue = Iuk::from_bytes([9; 32]);
    let mut x = Exchange::new(&imk);
    x.account = Some(account_of(&x.site, &rescue, true));
    let query = x.send(&x.params(Command::Query, None), None);
    assert_eq!(query.status, Some(Status::ScannedDisabled));
    assert_eq!(x.phase(), Phase::ScannedDisabled);
    assert_eq!(
        query.response.tif,
        Tif::CURRENT_ID_MATCH | Tif::SQRL_DISABLED | Tif::IPS_MATCHED
    );

    // An ident is refused, and the page keeps saying why (no new status to publish).
    let ident = x.send(&x.params(Command::Ident, None), None);
    assert_eq!(ident.response.refusal, Some(Refusal::Disabled));
    assert_eq!(ident.status, None);
    assert_eq!(x.phase(), Phase::ScannedDisabled);

    // enable with the rescue code: the identity may log in, the page is plain "scanned".
    let enable = x.send(&x.params(Command::Enable, None), Some(&rescue));
    assert_eq!(enable.response.refusal, None);
    assert_eq!(enable.status, Some(Status::Scanned));
    assert!(!x.account.as_ref().unwrap().disabled);
    let login = x.send(&x.params(Command::Ident, None), None);
    assert_eq!(login.response.login, Some(AccountId([3; 16])));
    assert_eq!(login.status, Some(Status::Confirmed));
}

#[test]
fn a_disabled_identity_that_cancels_or_disables_still_ends_the_flow() {
    let imk = Imk::from_bytes([8; 32]);
    let mut x = Exchange::new(&imk);
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), true));
    x.send(&x.params(Command::Query, None), None);
    let declined = x.send(&x.params(Command::Query, Some(Button::Second)), None);
    assert_eq!(declined.status, Some(Status::Rejected));
    assert!(declined.response.tif.contains(Tif::SQRL_DISABLED));

    let mut x = Exchange::new(&imk);
    x.account = Some(account_of(&x.site, &Iuk::from_bytes([9; 32]), true));
    x.send(&x.params(Command::Query, None), None);
    let disabled = x.send(&x.params(Command::Disable, None), None);
    assert_eq!(disabled.status, Some(Status::Disabled));
}

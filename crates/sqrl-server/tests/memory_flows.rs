//! Flows kept in memory beside a database for accounts (`SplitStore { flows: MemoryStore, .. }`, the
//! single-process site's default): a restart forgets the logins in progress, and
//! `Config::codes_not_before` keeps every code single use across it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// These tests play the core's caller, which supplies the randomness (spec/server.md §6).
#![allow(clippy::disallowed_types)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures_executor::block_on;
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Exchange, Keys, Step};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_proto::SqrlUrl;
use sqrl_server::UnixTime;
use sqrl_server::{
    Config, Endpoint, Incoming, Lifetimes, MemoryStore, Refusal, SplitStore, SqrlServer, Status,
    Store, CLOCK_SKEW,
};

const T0: u64 = 1_795_000_000;
/// `secs` seconds since the Unix epoch.
fn at(secs: u64) -> UnixTime {
    UnixTime::from_secs(secs)
}

const BROWSER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// One process of the site, started at `started`, with its flows in memory.
fn process(started: u64) -> SqrlServer {
    let mut config = Config::new("example.com");
    config.codes_not_before = started;
    let store: Arc<dyn Store> = Arc::new(SplitStore {
        flows: MemoryStore::new(),
        accounts: MemoryStore::new(),
    });
    SqrlServer::new(Endpoint::new(config, &[1; 32], &[2; 32]), store)
}

/// Sends the client's requests to `site` at `now` until the exchange ends; the refusal of
/// the first request that was refused, if any.
fn log_in(site: &SqrlServer, url: &str, keys: &Keys, now: UnixTime) -> Option<Refusal> {
    let url = SqrlUrl::parse(url).unwrap();
    let (mut exchange, mut request) = Exchange::start(
        url,
        Action::Login,
        keys,
        ClientConfig::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    loop {
        let query = request.url.split_once('?').unwrap().1.to_owned();
        let response = block_on(site.handle(
            &Incoming {
                query: &query,
                body: request.body.as_bytes(),
                client_ip: BROWSER,
                now,
            },
            &mut OsRng,
        ));
        if response.refusal.is_some() {
            return response.refusal;
        }
        let mut step = exchange.receive(&response.body).unwrap();
        if let Step::Confirm(_) = step {
            step = exchange.decide(Decision::Approve).unwrap();
        }
        match step {
            Step::Send(next) => request = next,
            Step::Done(_) => return None,
            Step::Confirm(_) => panic!("asked twice"),
        }
    }
}

#[test]
fn a_code_used_before_a_restart_stays_used_after_it() {
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);

    let before = process(T0 - 60);
    let used = before.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    let waiting = before.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    assert_eq!(log_in(&before, &used.url, &keys, at(T0 + 5)), None);

    // The restart forgets both flows; neither code opens a new one.
    let after = process(T0 + 10);
    assert_eq!(
        log_in(&after, &used.url, &keys, at(T0 + 11)),
        Some(Refusal::Expired)
    );
    assert_eq!(
        log_in(&after, &waiting.url, &keys, at(T0 + 11)),
        Some(Refusal::Expired)
    );
    // The page that showed the unused code is told so at once (not "new" until it expires).
    let status = block_on(after.status(&waiting.flow, &waiting.browser_secret, T0, at(T0 + 11)));
    assert_eq!(status.unwrap(), Status::Expired);

    // A code of the new process works.
    let fresh = after
        .server()
        .start_flow(BROWSER, "", at(T0 + 12), &mut OsRng);
    assert_eq!(log_in(&after, &fresh.url, &keys, at(T0 + 13)), None);
    let status = block_on(after.status(&fresh.flow, &fresh.browser_secret, T0 + 12, at(T0 + 14)));
    assert_eq!(status.unwrap(), Status::Confirmed);
}

#[test]
fn a_full_memory_flow_store_refuses_new_flows_and_keeps_the_others() {
    let flows = MemoryStore::with_flow_limit(1);
    let site = SqrlServer::new(
        Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32]),
        Arc::new(SplitStore {
            flows,
            accounts: MemoryStore::new(),
        }),
    );
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let first = site.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    let second = site.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    assert_eq!(log_in(&site, &first.url, &keys, at(T0 + 1)), None);
    // The second scan finds the store full: a transient backend refusal, nothing stored.
    assert_eq!(
        log_in(&site, &second.url, &keys, at(T0 + 2)),
        Some(Refusal::Backend)
    );
    let status = block_on(site.status(&first.flow, &first.browser_secret, T0, at(T0 + 3)));
    assert_eq!(status.unwrap(), Status::Confirmed);
}

/// The fault: the site forgot flows a day after their code was issued, so a busy site's full
/// flow store refused every new login for up to a day. Housekeeping now forgets a flow once
/// every phase of it has ended, and not before.
#[test]
fn a_full_memory_flow_store_takes_new_flows_once_finished_ones_are_forgotten() {
    let site = SqrlServer::new(
        Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32]),
        Arc::new(SplitStore {
            flows: MemoryStore::with_flow_limit(1),
            accounts: MemoryStore::new(),
        }),
    );
    let life = Lifetimes::default();
    let retention = life.flow_retention();
    assert_eq!(retention, life.nut + life.redeem + CLOCK_SKEW);
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    // Confirmed in the last second of its code's lifetime: redeemable for `redeem` more.
    let first = site.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    let confirmed_at = T0 + life.nut - 1;
    assert_eq!(log_in(&site, &first.url, &keys, at(confirmed_at)), None);
    let last_redeemable = confirmed_at + life.redeem - 1;
    assert_eq!(
        block_on(site.purge_expired_flows(at(last_redeemable))).unwrap(),
        0
    );
    let status = block_on(site.status(&first.flow, &first.browser_secret, T0, at(last_redeemable)));
    assert_eq!(status.unwrap(), Status::Confirmed);
    // Kept through the clock skew another instance may have, then forgotten.
    assert_eq!(
        block_on(site.purge_expired_flows(at(T0 + retention))).unwrap(),
        0
    );
    let later = T0 + retention + 1;
    assert_eq!(block_on(site.purge_expired_flows(at(later))).unwrap(), 1);

    // The store takes a new flow again.
    let other = Iuk::generate(&mut OsRng);
    let other = Keys::new(other.imk(), other.ilk(), vec![]);
    let second = site.server().start_flow(BROWSER, "", at(later), &mut OsRng);
    assert_eq!(log_in(&site, &second.url, &other, at(later + 1)), None);
    // The forgotten flow's page reads "expired", and its code stays used up.
    let status = block_on(site.status(&first.flow, &first.browser_secret, T0, at(later + 2)));
    assert_eq!(status.unwrap(), Status::Expired);
    assert_eq!(
        log_in(&site, &first.url, &keys, at(later + 2)),
        Some(Refusal::Expired)
    );
}

/// A phone's first query only (a scan never confirmed), from `ip`: the refusal, if any.
fn scan_only(
    site: &SqrlServer,
    url: &str,
    keys: &Keys,
    ip: IpAddr,
    now: UnixTime,
) -> Option<Refusal> {
    let (_, request) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        Action::Login,
        keys,
        ClientConfig::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let query = request.url.split_once('?').unwrap().1.to_owned();
    block_on(site.handle(
        &Incoming {
            query: &query,
            body: request.body.as_bytes(),
            client_ip: ip,
            now,
        },
        &mut OsRng,
    ))
    .refusal
}

/// The fault: about 100 000 addresses filled the 1 000 000-flow cap with scans they never
/// confirmed, and every user was locked out until housekeeping forgot them (8.6 minutes). A
/// full store now evicts the oldest unconfirmed scan, never a confirmed login: scans from
/// many addresses, four times the cap, and an honest user still logs in; a confirmed login
/// from before the flood is still there.
#[test]
fn a_flood_of_scans_from_many_addresses_cannot_lock_out_an_honest_login() {
    const CAP: usize = 50;
    let site = SqrlServer::new(
        Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32]),
        Arc::new(SplitStore {
            flows: MemoryStore::with_flow_limit(CAP),
            accounts: MemoryStore::new(),
        }),
    );
    let honest = {
        let iuk = Iuk::generate(&mut OsRng);
        Keys::new(iuk.imk(), iuk.ilk(), vec![])
    };
    let earlier = site.server().start_flow(BROWSER, "", at(T0), &mut OsRng);
    assert_eq!(log_in(&site, &earlier.url, &honest, at(T0 + 1)), None);

    let attacker = {
        let iuk = Iuk::generate(&mut OsRng);
        Keys::new(iuk.imk(), iuk.ilk(), vec![])
    };
    for n in 0..4 * CAP {
        let n = u8::try_from(n).unwrap();
        // One address in each of many networks: no per-client or per-network limit bites.
        let ip = IpAddr::V4(Ipv4Addr::new(10, n, 0, 1));
        let code = site.server().start_flow(ip, "", at(T0 + 2), &mut OsRng);
        assert_eq!(scan_only(&site, &code.url, &attacker, ip, at(T0 + 2)), None);
    }

    // Another honest user (a new one: not asked to confirm, as the helper cannot answer).
    let newcomer = {
        let iuk = Iuk::generate(&mut OsRng);
        Keys::new(iuk.imk(), iuk.ilk(), vec![])
    };
    let page = site
        .server()
        .start_flow(BROWSER, "", at(T0 + 3), &mut OsRng);
    assert_eq!(log_in(&site, &page.url, &newcomer, at(T0 + 4)), None);
    let status = block_on(site.status(&page.flow, &page.browser_secret, T0 + 3, at(T0 + 5)));
    assert_eq!(status.unwrap(), Status::Confirmed);
    let status = block_on(site.status(&earlier.flow, &earlier.browser_secret, T0, at(T0 + 5)));
    assert_eq!(
        status.unwrap(),
        Status::Confirmed,
        "a confirmed login is never evicted"
    );
}

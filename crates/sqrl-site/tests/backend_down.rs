//! The site while a backend is down, on a throwaway `redis-server` or PostgreSQL killed (and
//! restarted) by the test: a backend failure is 503 "try again", never a refusal that blames
//! the client, and readiness (`/readyz`) says which backend is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use sqrl_client::transport::HttpTransport;
use sqrl_testkit::{wait_until, Postgres, Redis};
use support::{answer, new_keys, temp_dir, Browser, SiteProcess};

/// The fault: while Redis was down, every new code got 429 "Too many codes requested, wait
/// a minute" (the limiter failed closed and called it rate limiting), so the login page
/// failed for everyone with a false message. The code limit still fails closed, but as a
/// backend failure: 503 "try again". A page's status read is 503 too (its flow is in Redis);
/// once Redis is back, codes are given again.
#[test]
fn a_new_code_while_redis_is_down_is_503_try_again_never_429() {
    let mut redis = Redis::start().unwrap();
    let dir = temp_dir("redis-down");
    let site = SiteProcess::start(
        &dir,
        &["--redis", &redis.url(), "--metrics-bind", "127.0.0.1:0"],
    );
    let mut browser = Browser::new(&site.base, None);
    browser.new_code();
    assert_eq!(browser.send("GET", "/readyz").status, 200);

    redis.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let reply = browser.send("POST", "/sqrl/new");
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(reply.body.contains("try again"), "{}", reply.body);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "answered after {:?}",
            started.elapsed()
        );
    }
    let poll = browser.send("GET", "/sqrl/poll?last=");
    assert_eq!(poll.status, 503, "{}", poll.body);
    assert!(
        site.log().contains("rate limiter unavailable"),
        "{}",
        site.log()
    );
    // Operators see it as backend errors, not as limit hits: three codes and a status read
    // (let through by the limit, then 503 from the flow store).
    let metrics = ureq::get(site.metrics.as_deref().unwrap())
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for line in [
        "sqrl_backend_errors_total{source=\"limiter\"} 4",
        "sqrl_backend_errors_total{source=\"browser\"} 4",
        "sqrl_refusals_total{code=\"unavailable\"} 4",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
    assert!(!metrics.contains("sqrl_limit_hits_total{"), "{metrics}");

    redis.restart().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || browser
            .send("POST", "/sqrl/new")
            .status
            == 200),
        "no code after Redis came back: {}",
        site.log()
    );
    assert!(wait_until(Duration::from_secs(5), || browser
        .send("GET", "/readyz")
        .status
        == 200));
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Readiness follows the backends: 503 naming the flow store while Redis is down, 200 once it
/// is back; liveness stays 200 throughout (restarting the site would not bring Redis back).
#[test]
fn readiness_is_false_while_redis_is_down_and_liveness_stays_true() {
    let mut redis = Redis::start().unwrap();
    let dir = temp_dir("ready-redis");
    let site = SiteProcess::start(&dir, &["--redis", &redis.url()]);
    let mut probe = Browser::new(&site.base, None);
    let ready = probe.send("GET", "/readyz");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    redis.kill();
    // The last answer may be reused for a second.
    let mut reply = probe.send("GET", "/readyz");
    wait_until(Duration::from_secs(10), || {
        reply = probe.send("GET", "/readyz");
        reply.status == 503
    });
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("flow store"), "{}", reply.body);
    assert_eq!(probe.send("GET", "/healthz").status, 200);
    redis.restart().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || probe
            .send("GET", "/readyz")
            .status
            == 200),
        "not ready after Redis came back: {}",
        site.log()
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Readiness names the database while PostgreSQL is down.
#[test]
fn readiness_is_false_while_the_database_is_down() {
    let pg = Postgres::start().unwrap();
    let dir = temp_dir("ready-pg");
    let site = SiteProcess::start(&dir, &["--database", &pg.url()]);
    let mut probe = Browser::new(&site.base, None);
    assert_eq!(probe.send("GET", "/readyz").status, 200);
    pg.kill();
    let mut reply = probe.send("GET", "/readyz");
    wait_until(Duration::from_secs(10), || {
        reply = probe.send("GET", "/readyz");
        reply.status == 503
    });
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("database"), "{}", reply.body);
    assert_eq!(probe.send("GET", "/healthz").status, 200);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The fault: Redis restarted empty lost every login confirmed but not yet redeemed, and the
/// page went back to `new` (a fresh code, as if nothing had happened) while its redemption
/// got 403. Without Redis persistence the login still cannot survive, but it now fails
/// visibly: the page is told `failed` (final, so it offers a new code), and nobody is logged
/// in.
#[test]
fn a_login_lost_by_a_redis_restart_is_reported_failed_not_new() {
    let mut redis = Redis::start().unwrap();
    let dir = temp_dir("redis-lost");
    let site = SiteProcess::start(&dir, &["--redis", &redis.url()]);
    let mut browser = Browser::new(&site.base, None);
    let url = browser.new_code();
    let transport = HttpTransport::default().danger_allow_loopback_http();
    answer(&url, &new_keys(), &transport).unwrap();
    let confirmed = browser.send("GET", "/sqrl/poll?last=new&detail=");
    assert!(
        confirmed.body.contains("\"status\":\"confirmed\""),
        "{}",
        confirmed.body
    );

    redis.restart().unwrap();
    let mut reply = browser.send("GET", "/sqrl/poll?last=confirmed&detail=");
    wait_until(Duration::from_secs(20), || {
        reply = browser.send("GET", "/sqrl/poll?last=confirmed&detail=");
        reply.status == 200
    });
    assert!(
        reply.body.contains("\"status\":\"failed\""),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("\"final\":true"), "{}", reply.body);
    // A page that never had a phone is unaffected.
    let mut other = Browser::new(&site.base, None);
    other.new_code();
    let fresh = other.send("GET", "/sqrl/poll?last=&detail=");
    assert!(fresh.body.contains("\"status\":\"new\""), "{}", fresh.body);
    // Never a login.
    let redeem = browser.send("POST", "/sqrl/redeem");
    assert_ne!(redeem.status, 200, "{}", redeem.body);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

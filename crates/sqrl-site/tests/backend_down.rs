//! The site while a backend is down, on a throwaway `redis-server` killed and restarted by
//! the test: a backend failure is 503 "try again", never a refusal that blames the client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use sqrl_testkit::{wait_until, Redis};
use support::{temp_dir, Browser, SiteProcess};

/// The fault: while Redis was down, every new code got 429 "Too many codes requested, wait
/// a minute" (the limiter failed closed and called it rate limiting), so the login page
/// failed for everyone with a false message. The code limit still fails closed, but as a
/// backend failure: 503 "try again". A page's status read is 503 too (its flow is in Redis);
/// once Redis is back, codes are given again.
#[test]
fn a_new_code_while_redis_is_down_is_503_try_again_never_429() {
    let mut redis = Redis::start().unwrap();
    let dir = temp_dir("redis-down");
    let site = SiteProcess::start(&dir, &["--redis", &redis.url()]);
    let mut browser = Browser::new(&site.base, None);
    browser.new_code();

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

    redis.restart().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || browser
            .send("POST", "/sqrl/new")
            .status
            == 200),
        "no code after Redis came back: {}",
        site.log()
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

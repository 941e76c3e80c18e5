//! The rate limiter's failure policy in the driver: a limiter whose backend is down (Redis
//! killed) is not a client over its limit. A phone's first query is then refused as a backend
//! failure ("try again"), never as rate limiting, and `check` tells the three answers apart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// These tests play the core's caller, which supplies the randomness (spec/server.md §6).
#![allow(clippy::disallowed_types)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures_executor::block_on;
use rand_core::OsRng;
use sqrl_client::keys::Imk;
use sqrl_proto::{b64, signing_input, ClientParams, Command, RequestBody};
use sqrl_server::{
    Admission, Config, Endpoint, Incoming, Limiter, MemoryLimiter, Refusal, Rule, SqrlServer,
    StoreError, UnixTime,
};

const T0: u64 = 1_800_000_000;
const HOST: &str = "example.com";

/// A limiter that works until `down` is set, then fails as a lost Redis does.
#[derive(Default)]
struct Flaky {
    inner: MemoryLimiter,
    down: AtomicBool,
}

#[async_trait]
impl Limiter for Flaky {
    async fn allow(&self, rule: &Rule, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::backend("connection refused"));
        }
        self.inner.allow(rule, key, now).await
    }
}

fn ip() -> IpAddr {
    IpAddr::from([192, 0, 2, 10])
}

/// A phone's signed first query for a fresh code of `server`.
fn first_query(server: &Endpoint) -> (String, String) {
    let page = server.start_flow(ip(), "", UnixTime::from_secs(T0), &mut OsRng);
    let site = Imk::from_bytes([7; 32]).site_key(HOST, "");
    let client = ClientParams::new(Command::Query, site.public_key())
        .encode()
        .unwrap();
    let server_text = b64::encode(&page.url);
    let ids = site.sign(&signing_input(&client, &server_text));
    let body = RequestBody::new(client, server_text, &ids, None, None).encode();
    (format!("nut={}", page.nut), body)
}

/// The fault: with Redis down, every limit refused as if the client were over it, so each
/// new login was told "rate limited". Now the limiter's failure is its own answer, and a
/// phone's first query is refused as a backend failure.
#[test]
fn a_limiter_that_is_down_is_a_backend_failure_not_rate_limiting() {
    let limiter = Arc::new(Flaky::default());
    let endpoint = || Endpoint::new(Config::new(HOST), &[1; 32], &[2; 32]);
    let sqrl = SqrlServer::in_memory(endpoint()).with_limiter(limiter.clone());
    let rule = Rule {
        name: "t",
        burst: 1,
        per_second: 0.001,
    };
    let now = UnixTime::from_secs(T0);
    assert_eq!(block_on(sqrl.check(&rule, ip(), now)), Admission::Allowed);
    assert_eq!(block_on(sqrl.check(&rule, ip(), now)), Admission::Limited);
    limiter.down.store(true, Ordering::SeqCst);
    assert_eq!(
        block_on(sqrl.check(&rule, ip(), now)),
        Admission::Unavailable
    );
    assert!(
        !block_on(sqrl.allow(&rule, ip(), now)),
        "allow fails closed"
    );

    let (query, body) = first_query(sqrl.server());
    let incoming = Incoming {
        query: &query,
        body: body.as_bytes(),
        client_ip: ip(),
        now: UnixTime::from_secs(T0 + 1),
    };
    let response = block_on(sqrl.handle(&incoming, &mut OsRng));
    assert_eq!(response.refusal, Some(Refusal::Backend));
    assert_eq!(response.tif.bits() & 0x60, 0x60, "the phone may retry");

    // Back up: the same query opens its flow.
    limiter.down.store(false, Ordering::SeqCst);
    let response = block_on(sqrl.handle(&incoming, &mut OsRng));
    assert_eq!(response.refusal, None, "{response:?}");
}

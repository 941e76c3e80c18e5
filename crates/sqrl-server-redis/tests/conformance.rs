//! Redis on a throwaway `redis-server` (free loopback port, no persistence): flows pass the
//! core's flow suite, events reach a page on another instance, limits are shared, and a lost
//! Redis gives backend errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::StreamExt;
use sqrl_server::testkit::{self, flow};
use sqrl_server::{Events, FlowId, FlowStore, Limiter, Rule, Status, StoreError, UnixTime};
use sqrl_server_redis::{RedisConnection, RedisEvents, RedisFlows, RedisLimiter};
use sqrl_testkit::Redis;

async fn connect(redis: &Redis) -> RedisConnection {
    RedisConnection::connect(&redis.url(), "sqrl-test:")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flows_conform_and_expire() {
    let redis = Redis::start().unwrap();
    let flows = RedisFlows::new(connect(&redis).await, Duration::from_secs(1));
    testkit::flows_conform_without_purge(&flows).await;
    flows.put_flow(&flow(5, 0), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        flows.flow(&FlowId([5; 16])).await.unwrap(),
        None,
        "a flow key expires by itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_a_page_on_another_instance() {
    let redis = Redis::start().unwrap();
    let a = RedisEvents::connect(connect(&redis).await).await.unwrap();
    let b = RedisEvents::connect(connect(&redis).await).await.unwrap();
    testkit::events_conform(&a, Duration::ZERO).await;
    let mut page_on_b = b.subscribe(FlowId([3; 16]));
    let mut other_on_b = b.subscribe(FlowId([4; 16]));
    a.publish(FlowId([3; 16]), Status::Confirmed).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), page_on_b.next()).await;
    assert_eq!(got.unwrap(), Some(Status::Confirmed));
    let nothing = tokio::time::timeout(Duration::from_millis(200), other_on_b.next()).await;
    assert!(nothing.is_err(), "another flow's page is not woken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_limit_is_shared_by_every_instance() {
    let redis = Redis::start().unwrap();
    let a = RedisLimiter::new(connect(&redis).await);
    let b = RedisLimiter::new(connect(&redis).await);
    let rule = Rule {
        name: "codes",
        burst: 3,
        per_second: 1.0,
    };
    let t = UnixTime::from_secs(1_800_000_000);
    assert!(a.allow(&rule, "192.0.2.1/32", t).await.unwrap());
    assert!(b.allow(&rule, "192.0.2.1/32", t).await.unwrap());
    assert!(a.allow(&rule, "192.0.2.1/32", t).await.unwrap());
    assert!(
        !b.allow(&rule, "192.0.2.1/32", t).await.unwrap(),
        "the fourth request on any instance is over the shared burst"
    );
    assert!(b.allow(&rule, "192.0.2.2/32", t).await.unwrap());
    assert!(a
        .allow(
            &rule,
            "192.0.2.1/32",
            t.saturating_add(Duration::from_millis(1100))
        )
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_redis_gives_backend_errors() {
    let redis = Redis::start().unwrap();
    let flows = RedisFlows::new(connect(&redis).await, Duration::from_secs(60));
    drop(redis);
    let result = flows.put_flow(&flow(1, 0), None).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
}

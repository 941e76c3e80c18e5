//! Redis for `sqrl-server` across several instances: login flows ([`RedisFlows`]), per-flow
//! events by pub/sub ([`RedisEvents`]) and shared rate limits ([`RedisLimiter`]).
//!
//! What lives here is short-lived and written on every request: a flow lasts minutes, an
//! event is a few bytes, a rate-limit bucket a few seconds. Accounts, sessions and the site's
//! keys stay in the durable database (PostgreSQL); `sqrl_server::SplitStore` joins the two. Every
//! key expires by itself, so nothing needs purging. If Redis restarts without persistence,
//! logins in progress are lost (their pages say "expired"; a used nut cannot come back to
//! life, because a lost flow refuses its reply nuts) — never a wrong login.
//!
//! Writes are compare-and-set by the flow's version in one Lua script, so of two instances
//! racing on one nut exactly one wins.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::Script;
use sqrl_server::{
    Events, Flow, FlowId, FlowStore, Hub, Limiter, Rule, Status, StoreError, Subscription, UnixTime,
};

fn backend(e: impl core::fmt::Display) -> StoreError {
    StoreError::backend(e)
}

/// A connection to Redis shared by the three parts: one multiplexed connection that
/// reconnects by itself, and the key prefix.
#[derive(Clone)]
pub struct RedisConnection {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: Arc<str>,
}

impl core::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `url` (`redis://host[:port][/db]`); keys start with `prefix` (e.g.
    /// `"sqrl:"`), so one Redis can serve several sites.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(backend)?;
        Ok(Self {
            client,
            manager,
            prefix: prefix.into(),
        })
    }

    fn key(&self, kind: &str, id: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + kind.len() + id.len());
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(kind.as_bytes());
        key.extend_from_slice(id);
        key
    }
}

/// Compare-and-set of a flow: `ARGV[1]` the expected version ("" for absent), `ARGV[2]` the
/// new version, `ARGV[3]` the record, `ARGV[4]` the key's lifetime in seconds.
const PUT_FLOW: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'r', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Login flows in Redis, each key expiring `ttl` after its last write.
#[derive(Debug, Clone)]
pub struct RedisFlows {
    connection: RedisConnection,
    ttl: Duration,
    put: Arc<Script>,
}

impl RedisFlows {
    /// Flows on `connection`, kept `ttl` after their last write (at least the code's
    /// lifetime plus the redemption window).
    pub fn new(connection: RedisConnection, ttl: Duration) -> Self {
        Self {
            connection,
            ttl,
            put: Arc::new(Script::new(PUT_FLOW)),
        }
    }
}

#[async_trait]
impl FlowStore for RedisFlows {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        let mut manager = self.connection.manager.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.connection.key("flow:", &id.0))
            .arg("r")
            .query_async(&mut manager)
            .await
            .map_err(backend)?;
        match bytes {
            None => Ok(None),
            Some(bytes) => Flow::from_bytes(&bytes)
                .map(Some)
                .ok_or_else(|| StoreError::backend("damaged flow record")),
        }
    }

    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        let mut manager = self.connection.manager.clone();
        let written: i64 = self
            .put
            .key(self.connection.key("flow:", &flow.id().0))
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(flow.version().to_string())
            .arg(flow.to_bytes())
            .arg(self.ttl.as_secs().max(1))
            .invoke_async(&mut manager)
            .await
            .map_err(backend)?;
        if written == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn purge_flows(&self, _before: u64) -> Result<usize, StoreError> {
        Ok(0) // every flow key expires by itself
    }
}

/// Per-flow events over Redis pub/sub. Every instance subscribes to one channel and fans the
/// events out locally to the pages it holds, so a waiting page wakes only for its own flow
/// whichever instance handled the phone.
#[derive(Debug, Clone)]
pub struct RedisEvents {
    connection: RedisConnection,
    hub: Hub,
    channel: Arc<[u8]>,
}

impl RedisEvents {
    /// Subscribes this instance (returns once the subscription is in place) and keeps it up:
    /// after a lost connection it resubscribes, waiting pages re-reading their flows in the
    /// meantime.
    pub async fn connect(connection: RedisConnection) -> Result<Self, StoreError> {
        let channel: Arc<[u8]> = connection.key("events", b"").into();
        let hub = Hub::new();
        let mut pubsub = connection
            .client
            .get_async_pubsub()
            .await
            .map_err(backend)?;
        pubsub.subscribe(&*channel).await.map_err(backend)?;
        let events = Self {
            connection,
            hub,
            channel,
        };
        tokio::spawn(events.clone().listen(pubsub));
        Ok(events)
    }

    async fn listen(self, mut pubsub: redis::aio::PubSub) {
        loop {
            {
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let payload = message.get_payload_bytes();
                    let (Some(id), Some(&code)) = (payload.get(..16), payload.get(16)) else {
                        continue;
                    };
                    let (Ok(id), Some(status)) =
                        (<[u8; 16]>::try_from(id), Status::from_code(code))
                    else {
                        continue;
                    };
                    self.hub.deliver(FlowId(id), status);
                }
            }
            tracing::warn!("Redis event subscription lost; reconnecting");
            pubsub = loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Ok(mut next) = self.connection.client.get_async_pubsub().await else {
                    continue;
                };
                if next.subscribe(&*self.channel).await.is_ok() {
                    break next;
                }
            };
        }
    }
}

#[async_trait]
impl Events for RedisEvents {
    async fn publish(&self, flow: FlowId, status: Status) -> Result<(), StoreError> {
        let mut manager = self.connection.manager.clone();
        let mut payload = flow.0.to_vec();
        payload.push(status.code());
        redis::cmd("PUBLISH")
            .arg(&*self.channel)
            .arg(payload)
            .query_async::<i64>(&mut manager)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    fn subscribe(&self, flow: FlowId) -> Subscription {
        self.hub.subscribe(flow)
    }
}

/// A token bucket in one Lua script: `ARGV` = burst, tokens per second, now (ms), the key's
/// lifetime (ms).
const TAKE_TOKEN: &str = r"
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return allowed
";

/// Rate limits shared by every instance.
#[derive(Debug, Clone)]
pub struct RedisLimiter {
    connection: RedisConnection,
    take: Arc<Script>,
}

impl RedisLimiter {
    /// Limits on `connection`.
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            take: Arc::new(Script::new(TAKE_TOKEN)),
        }
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn allow(&self, rule: &Rule, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let mut manager = self.connection.manager.clone();
        let mut name = rule.name.as_bytes().to_vec();
        name.push(b':');
        name.extend_from_slice(key.as_bytes());
        // Long enough for an empty bucket to fill up again; then it may as well be gone.
        let refill_ms = if rule.per_second > 0.0 {
            (f64::from(rule.burst) / rule.per_second * 1000.0).min(86_400_000.0) as u64
        } else {
            86_400_000
        };
        let allowed: i64 = self
            .take
            .key(self.connection.key("limit:", &name))
            .arg(rule.burst)
            .arg(rule.per_second)
            .arg(now.as_millis())
            .arg(refill_ms.max(1000))
            .invoke_async(&mut manager)
            .await
            .map_err(backend)?;
        Ok(allowed == 1)
    }
}

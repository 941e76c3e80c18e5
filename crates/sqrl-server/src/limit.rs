//! Rate limits keyed by network prefix, behind a trait so several instances share them.
//!
//! Limits count per *prefix* (an IPv4 address, an IPv6 /64 by default), because one host on
//! IPv6 holds a whole /64. [`MemoryLimiter`] serves one process; a shared backend (Redis)
//! makes N instances enforce one limit instead of N.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::store::StoreError;
use crate::time::UnixTime;

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Names the limit in keys and logs (`"codes"`, `"scans"`, `"polls"`).
    pub name: &'static str,
    /// Requests allowed at once.
    pub burst: u32,
    /// Sustained requests per second.
    pub per_second: f64,
}

/// How many leading bits of an address make one client for the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefixes {
    /// IPv4 prefix length (32: each address; 24: each /24).
    pub v4: u8,
    /// IPv6 prefix length (64: each /64, what one host or home is given).
    pub v6: u8,
}

impl Default for Prefixes {
    fn default() -> Self {
        Self { v4: 32, v6: 64 }
    }
}

impl Prefixes {
    /// The wider networks these prefixes sit in (8 bits shorter for IPv4, 16 for IPv6: a /24
    /// and a /48 by default), for limits on a whole network.
    pub fn wide(&self) -> Prefixes {
        Prefixes {
            v4: self.v4.saturating_sub(8),
            v6: self.v6.saturating_sub(16),
        }
    }

    /// The limit key of an address: its prefix in CIDR notation, e.g. `2001:db8:1:2::/64`.
    /// IPv4-mapped IPv6 addresses count as IPv4.
    pub fn key(&self, ip: IpAddr) -> String {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let bits = self.v4.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                let net = std::net::Ipv4Addr::from(u32::from(v4) & mask);
                format!("{net}/{bits}")
            }
            IpAddr::V6(v6) => {
                let bits = self.v6.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{net}/{bits}")
            }
        }
    }
}

/// A limit's answer to one request ([`SqrlServer::check`](crate::SqrlServer::check)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Under the limit: a token was taken.
    Allowed,
    /// Over the limit: refuse with "too many" (HTTP 429, TIF `0x60` for a phone).
    Limited,
    /// The limiter could not be asked (its backend, e.g. Redis, is down). Not a client's
    /// fault: each limit says what it does then ([`WhenDown`]), and a refusal for this reason
    /// is "try again" (HTTP 503), never "too many".
    Unavailable,
}

/// What a limit does while its limiter is unavailable: its failure policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDown {
    /// Fail open: let the request through unlimited.
    Admit,
    /// Fail closed: refuse it as a backend failure ("try again"), not as rate limiting.
    Refuse,
}

/// Decides whether one more request under a rule and key is allowed now.
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// Takes one token from the bucket of `(rule, key)` at `now` (on any clock that only
    /// moves forward; its milliseconds count); `false` when it is empty.
    async fn allow(&self, rule: &Rule, key: &str, now: UnixTime) -> Result<bool, StoreError>;
}

/// Most buckets kept in memory; past it, the oldest half is forgotten (bounded memory, and a
/// forgotten bucket starts full, which only ever errs towards letting a client in).
const MAX_TRACKED: usize = 200_000;

/// (rule, client) → (tokens left, last update in ms).
type Buckets = HashMap<(&'static str, String), (f64, u64)>;

/// Token buckets in this process.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    buckets: Mutex<Buckets>,
}

impl MemoryLimiter {
    /// No buckets yet.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Refills a bucket of `tokens` last seen at `last_ms` and takes one token if it can.
pub(crate) fn take_token(rule: &Rule, tokens: f64, last_ms: u64, now_ms: u64) -> (bool, f64) {
    let elapsed = now_ms.saturating_sub(last_ms) as f64 / 1000.0;
    let burst = f64::from(rule.burst);
    let tokens = (tokens + elapsed * rule.per_second).min(burst);
    if tokens >= 1.0 {
        (true, tokens - 1.0)
    } else {
        (false, tokens)
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn allow(&self, rule: &Rule, key: &str, now: UnixTime) -> Result<bool, StoreError> {
        let now_ms = now.as_millis();
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| StoreError::backend("poisoned lock"))?;
        if buckets.len() >= MAX_TRACKED {
            let mut seen: Vec<u64> = buckets.values().map(|(_, t)| *t).collect();
            seen.sort_unstable();
            let cut = seen.get(seen.len() / 2).copied().unwrap_or(u64::MAX);
            buckets.retain(|_, (_, t)| *t > cut);
        }
        let entry = buckets
            .entry((rule.name, key.to_owned()))
            .or_insert((f64::from(rule.burst), now_ms));
        let (allowed, left) = take_token(rule, entry.0, entry.1, now_ms);
        *entry = (left, now_ms.max(entry.1));
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    const RULE: Rule = Rule {
        name: "t",
        burst: 3,
        per_second: 1.0,
    };

    #[test]
    fn bursts_then_refills_per_key() {
        let limit = MemoryLimiter::new();
        let allow = |key: &str, t: u64| {
            block_on(limit.allow(&RULE, key, UnixTime::from_millis(t))).unwrap()
        };
        assert!((0..3).all(|_| allow("a", 1000)));
        assert!(!allow("a", 1000));
        assert!(allow("b", 1000), "another key has its own bucket");
        assert!(allow("a", 2100));
        assert!(!allow("a", 2200));
    }

    #[test]
    fn an_ipv6_host_is_one_client_for_its_whole_64() {
        let p = Prefixes::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(p.key(a), "2001:db8:1:2::/64");
        assert_eq!(p.key(a), p.key(b));
        assert_ne!(p.key(a), p.key(c));
        let v4: IpAddr = "192.0.2.77".parse().unwrap();
        assert_eq!(p.key(v4), "192.0.2.77/32");
        let wide = Prefixes { v4: 24, v6: 48 };
        assert_eq!(wide.key(v4), "192.0.2.0/24");
        let mapped: IpAddr = "::ffff:192.0.2.77".parse().unwrap();
        assert_eq!(p.key(mapped), "192.0.2.77/32");
        assert_eq!(Prefixes { v4: 0, v6: 0 }.key(v4), "0.0.0.0/0");
    }
}

//! Caps on open status streams: overall, per client (network prefix) and per flow, with
//! headroom, so that a few clients holding many streams cannot shut out an honest browser
//! waiting for its login.
//!
//! A client may hold `per_client` streams while the site is quiet; once three quarters of the
//! overall cap are in use, each client may hold only `crowded_per_client` (an honest page
//! needs one). A flow may be watched by `per_flow` streams (a page and a few reloads).
//!
//! When every place is taken, a newcomer takes the place of the oldest stream of the client
//! holding the most, if that client holds at least two more than the newcomer's: the shares
//! even out (max-min fairness) instead of the first comers keeping every place. The evicted
//! stream is told so ([`StreamPermit::evicted`]) and ends with its retry interval; its page
//! reconnects, or polls if refused. Only when every client holds about as many as the
//! newcomer is it refused.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqrl_server::FlowId;
use tokio::sync::Notify;

/// The caps on open status streams: overall, per client and per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Most streams open at once.
    pub total: usize,
    /// Most streams one client may hold while fewer than 3/4 of `total` are open.
    pub per_client: usize,
    /// Most streams one client may hold once 3/4 of `total` are open.
    pub crowded_per_client: usize,
    /// Most streams watching one flow.
    pub per_flow: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            total: 10_000,
            per_client: 32,
            crowded_per_client: 2,
            per_flow: 4,
        }
    }
}

/// Which cap refused a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCap {
    /// The site's overall cap.
    Total,
    /// The client's cap.
    Client,
    /// The flow's cap.
    Flow,
}

/// One open stream's place: its flow, and whether it was given to a newcomer.
#[derive(Debug)]
struct Slot {
    flow: FlowId,
    evicted: AtomicBool,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// Each client's streams, oldest first.
    clients: HashMap<String, VecDeque<Arc<Slot>>>,
    flows: HashMap<FlowId, usize>,
}

impl Open {
    fn held_by(&self, client: &str) -> usize {
        self.clients.get(client).map_or(0, VecDeque::len)
    }

    /// Frees the oldest place of the client holding the most, if it holds at least two more
    /// than `client`; whether a place was freed.
    fn evict_for(&mut self, client: &str) -> bool {
        let mine = self.held_by(client);
        let Some((victim, held)) = self
            .clients
            .iter()
            .map(|(key, slots)| (key, slots.len()))
            .max_by_key(|(_, held)| *held)
        else {
            return false;
        };
        if held < mine.saturating_add(2) {
            return false;
        }
        let victim = victim.clone();
        let Some(slots) = self.clients.get_mut(&victim) else {
            return false;
        };
        let Some(slot) = slots.pop_front() else {
            return false;
        };
        if slots.is_empty() {
            self.clients.remove(&victim);
        }
        self.total = self.total.saturating_sub(1);
        decrement(&mut self.flows, &slot.flow);
        slot.evicted.store(true, Ordering::SeqCst);
        slot.notify.notify_one();
        true
    }
}

/// Counts open streams.
#[derive(Debug)]
pub struct Streams {
    limits: StreamLimits,
    open: Mutex<Open>,
}

/// One open stream; dropping it closes it in the counts.
#[derive(Debug)]
pub struct StreamPermit {
    streams: Arc<Streams>,
    client: String,
    slot: Arc<Slot>,
}

impl StreamPermit {
    /// Returns once this stream's place was given to a newcomer (at once if it already was):
    /// the stream should end, with its retry interval.
    pub async fn evicted(&self) {
        if self.slot.evicted.load(Ordering::SeqCst) {
            return;
        }
        self.slot.notify.notified().await;
    }
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Streams {
    /// No streams open yet.
    pub fn new(limits: StreamLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new(Open::default()),
        })
    }

    /// Opens a stream for `client` watching `flow` (taking the place of another client's
    /// stream when the site is full and that is fair), or says which cap refused it.
    pub fn open(self: &Arc<Self>, client: &str, flow: FlowId) -> Result<StreamPermit, StreamCap> {
        let mut open = self.open.lock().map_err(|_| StreamCap::Total)?;
        let limits = &self.limits;
        let crowded = open.total.saturating_mul(4) >= limits.total.saturating_mul(3);
        let client_cap = if crowded {
            limits.crowded_per_client
        } else {
            limits.per_client
        };
        if open.held_by(client) >= client_cap {
            return Err(StreamCap::Client);
        }
        if open.flows.get(&flow).copied().unwrap_or(0) >= limits.per_flow {
            return Err(StreamCap::Flow);
        }
        if open.total >= limits.total && !open.evict_for(client) {
            return Err(StreamCap::Total);
        }
        open.total = open.total.saturating_add(1);
        let slot = Arc::new(Slot {
            flow,
            evicted: AtomicBool::new(false),
            notify: Notify::new(),
        });
        open.clients
            .entry(client.to_owned())
            .or_default()
            .push_back(Arc::clone(&slot));
        *open.flows.entry(flow).or_insert(0) += 1;
        Ok(StreamPermit {
            streams: Arc::clone(self),
            client: client.to_owned(),
            slot,
        })
    }

    /// Streams open now.
    pub fn total(&self) -> usize {
        self.open.lock().map_or(0, |o| o.total)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.streams.open.lock() {
            // Read under the lock, where an eviction sets it: its place was freed then.
            if self.slot.evicted.load(Ordering::SeqCst) {
                return;
            }
            open.total = open.total.saturating_sub(1);
            if let Some(slots) = open.clients.get_mut(&self.client) {
                slots.retain(|slot| !Arc::ptr_eq(slot, &self.slot));
                if slots.is_empty() {
                    open.clients.remove(&self.client);
                }
            }
            decrement(&mut open.flows, &self.slot.flow);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crowd_of_clients_leaves_room_for_an_honest_browser() {
        let streams = Streams::new(StreamLimits {
            total: 100,
            per_client: 10,
            crowded_per_client: 1,
            per_flow: 2,
        });
        let mut held = Vec::new();
        // Seven greedy clients take ten streams each (70 open), an eighth five more (75):
        // three quarters of the cap.
        for client in 0..8u8 {
            let count = if client == 7 { 5 } else { 10 };
            for n in 0..count {
                let flow = FlowId([client, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
                held.push(
                    streams
                        .open(&format!("198.51.100.{client}/32"), flow)
                        .unwrap(),
                );
            }
        }
        assert_eq!(
            streams.open("198.51.100.0/32", FlowId([9; 16])).err(),
            Some(StreamCap::Client)
        );
        // Now crowded: the eighth client gets no sixth stream, and a new one gets one.
        assert_eq!(
            streams.open("198.51.100.7/32", FlowId([8; 16])).err(),
            Some(StreamCap::Client)
        );
        let _newcomer = streams.open("203.0.113.5/32", FlowId([1; 16])).unwrap();
        assert_eq!(
            streams.open("203.0.113.5/32", FlowId([2; 16])).err(),
            Some(StreamCap::Client)
        );
        // An honest browser still watches its login.
        let _honest = streams.open("192.0.2.1/32", FlowId([3; 16])).unwrap();
        // A flow takes only so many watchers (a permit dropped at once frees its place).
        assert!(streams.open("192.0.2.2/32", FlowId([3; 16])).is_ok());
        let _reload = streams.open("192.0.2.2/32", FlowId([3; 16])).unwrap();
        assert_eq!(
            streams.open("192.0.2.3/32", FlowId([3; 16])).err(),
            Some(StreamCap::Flow)
        );
        // Closing streams frees their places.
        let before = streams.total();
        held.truncate(10);
        assert_eq!(streams.total(), before - 65);
        assert!(streams.open("203.0.113.5/32", FlowId([2; 16])).is_ok());
    }

    fn flow(n: u16) -> FlowId {
        let [a, b] = n.to_be_bytes();
        FlowId([a, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7])
    }

    /// The fault: about 1500 addresses held all 10 000 streams, and every new page was
    /// refused (503) while they stayed open. A newcomer now takes the place of the oldest
    /// stream of the client holding the most, which is told to end; once the shares are
    /// even, a newcomer is refused.
    #[test]
    fn a_full_site_gives_a_newcomer_the_place_of_the_largest_holder() {
        let streams = Streams::new(StreamLimits {
            total: 6,
            per_client: 4,
            crowded_per_client: 4,
            per_flow: 4,
        });
        let greedy: Vec<_> = (0..4)
            .map(|n| streams.open("greedy", flow(n)).unwrap())
            .collect();
        let _a = streams.open("a", flow(10)).unwrap();
        let _b = streams.open("b", flow(11)).unwrap();
        assert_eq!(streams.total(), 6);

        let honest = streams.open("honest", flow(20)).unwrap();
        assert_eq!(streams.total(), 6, "a place changed hands");
        let first = &greedy[0];
        futures_util::FutureExt::now_or_never(first.evicted()).expect("the oldest was told");
        assert!(futures_util::FutureExt::now_or_never(greedy[1].evicted()).is_none());
        // Dropping the evicted permit frees nothing twice.
        drop(greedy);
        assert_eq!(streams.total(), 3);
        drop(honest);
        assert_eq!(streams.total(), 2);

        // Even shares: nobody holds two more than a newcomer, so it is refused.
        let even = Streams::new(StreamLimits {
            total: 2,
            per_client: 4,
            crowded_per_client: 4,
            per_flow: 4,
        });
        let _x = even.open("x", flow(1)).unwrap();
        let _y = even.open("y", flow(2)).unwrap();
        assert_eq!(even.open("z", flow(3)).err(), Some(StreamCap::Total));
        // A client cannot evict itself into more places than the others.
        let _x2 = even.open("x", flow(4)).err();
        assert_eq!(even.total(), 2);
    }
}

//! Caps on open status streams: overall, per client (network prefix) and per flow, with
//! headroom, so that a few clients holding many streams cannot shut out an honest browser
//! waiting for its login.
//!
//! A client may hold `per_client` streams while the site is quiet; once three quarters of the
//! overall cap are in use, each client may hold only `crowded_per_client` (an honest page
//! needs one). A flow may be watched by `per_flow` streams (a page and a few reloads).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqrl_server::FlowId;

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

#[derive(Debug, Default)]
struct Open {
    total: usize,
    clients: HashMap<String, usize>,
    flows: HashMap<FlowId, usize>,
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
    flow: FlowId,
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

    /// Opens a stream for `client` watching `flow`, or says which cap refused it.
    pub fn open(self: &Arc<Self>, client: &str, flow: FlowId) -> Result<StreamPermit, StreamCap> {
        let mut open = self.open.lock().map_err(|_| StreamCap::Total)?;
        let limits = &self.limits;
        if open.total >= limits.total {
            return Err(StreamCap::Total);
        }
        let crowded = open.total.saturating_mul(4) >= limits.total.saturating_mul(3);
        let client_cap = if crowded {
            limits.crowded_per_client
        } else {
            limits.per_client
        };
        if open.clients.get(client).copied().unwrap_or(0) >= client_cap {
            return Err(StreamCap::Client);
        }
        if open.flows.get(&flow).copied().unwrap_or(0) >= limits.per_flow {
            return Err(StreamCap::Flow);
        }
        open.total = open.total.saturating_add(1);
        *open.clients.entry(client.to_owned()).or_insert(0) += 1;
        *open.flows.entry(flow).or_insert(0) += 1;
        Ok(StreamPermit {
            streams: Arc::clone(self),
            client: client.to_owned(),
            flow,
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
            open.total = open.total.saturating_sub(1);
            decrement(&mut open.clients, &self.client);
            decrement(&mut open.flows, &self.flow);
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
}

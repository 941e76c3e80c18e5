//! Per-flow events: a waiting login page wakes only when its own flow changes.
//!
//! [`Events`] is the seam between instances: the in-memory [`MemoryEvents`] serves one
//! process; a shared backend (Redis pub/sub) publishes to every instance, and each instance
//! fans out locally through a [`Hub`] to the pages it holds.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_channel::mpsc;
use futures_core::Stream;

use crate::flow::Status;
use crate::nut::FlowId;
use crate::store::StoreError;

/// Publishes and delivers flow status changes.
#[async_trait]
pub trait Events: Send + Sync + 'static {
    /// Tells every subscriber of `flow` (on any instance) its new status.
    async fn publish(&self, flow: FlowId, status: Status) -> Result<(), StoreError>;
    /// The changes of one flow from now on. Subscribe *before* reading the flow's current
    /// status, so that no change falls between the two.
    fn subscribe(&self, flow: FlowId) -> Subscription;
}

type Senders = HashMap<FlowId, Vec<mpsc::UnboundedSender<Status>>>;

/// The local fan-out: flow id → the subscriptions of this process.
#[derive(Debug, Clone, Default)]
pub struct Hub {
    senders: Arc<Mutex<Senders>>,
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers a status to this process's subscribers of `flow`.
    pub fn deliver(&self, flow: FlowId, status: Status) {
        let Ok(mut senders) = self.senders.lock() else {
            return;
        };
        if let Some(list) = senders.get_mut(&flow) {
            list.retain(|tx| tx.unbounded_send(status).is_ok());
            if list.is_empty() {
                senders.remove(&flow);
            }
        }
    }

    /// A subscription to `flow` in this process.
    pub fn subscribe(&self, flow: FlowId) -> Subscription {
        let (tx, rx) = mpsc::unbounded();
        if let Ok(mut senders) = self.senders.lock() {
            senders.entry(flow).or_default().push(tx);
        }
        Subscription {
            flow,
            rx,
            hub: Some(self.clone()),
        }
    }

    /// Flows with at least one subscriber here (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.senders.lock().map_or(0, |s| s.len())
    }

    fn forget_closed(&self, flow: &FlowId) {
        if let Ok(mut senders) = self.senders.lock() {
            if let Some(list) = senders.get_mut(flow) {
                list.retain(|tx| !tx.is_closed());
                if list.is_empty() {
                    senders.remove(flow);
                }
            }
        }
    }
}

/// The status changes of one flow. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    flow: FlowId,
    rx: mpsc::UnboundedReceiver<Status>,
    hub: Option<Hub>,
}

impl Subscription {
    /// A subscription that never delivers (for backends without events).
    pub fn never(flow: FlowId) -> Self {
        let (_, rx) = mpsc::unbounded();
        Self {
            flow,
            rx,
            hub: None,
        }
    }

    /// The flow.
    pub fn flow(&self) -> FlowId {
        self.flow
    }
}

impl Stream for Subscription {
    type Item = Status;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Status>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.rx.close();
        if let Some(hub) = &self.hub {
            hub.forget_closed(&self.flow);
        }
    }
}

/// Events within one process.
#[derive(Debug, Clone, Default)]
pub struct MemoryEvents {
    hub: Hub,
}

impl MemoryEvents {
    /// A new bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// The local hub (for tests).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

#[async_trait]
impl Events for MemoryEvents {
    async fn publish(&self, flow: FlowId, status: Status) -> Result<(), StoreError> {
        self.hub.deliver(flow, status);
        Ok(())
    }

    fn subscribe(&self, flow: FlowId) -> Subscription {
        self.hub.subscribe(flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;
    use futures_util::StreamExt;

    #[test]
    fn a_page_hears_only_its_own_flow_and_unsubscribes_on_drop() {
        let events = MemoryEvents::new();
        let mut mine = events.subscribe(FlowId([1; 16]));
        let other = events.subscribe(FlowId([2; 16]));
        block_on(events.publish(FlowId([2; 16]), Status::Scanned)).unwrap();
        block_on(events.publish(FlowId([1; 16]), Status::Confirmed)).unwrap();
        assert_eq!(block_on(mine.next()), Some(Status::Confirmed));
        assert_eq!(events.hub().watched(), 2);
        drop(other);
        assert_eq!(events.hub().watched(), 1);
        drop(mine);
        assert_eq!(events.hub().watched(), 0);
    }
}

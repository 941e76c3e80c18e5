//! Store latency for operators: [`TimedStore`] wraps the app's [`Store`] and times every
//! call, by operation, into the histogram `sqrl_store_seconds{op}` of the layer's metrics
//! (give its [`StoreLatency`] to [`Builder::store_latency`](crate::Builder::store_latency)).
//! Every method is passed through as it is, so a store's own atomic operations (one
//! transaction for `commit`, or the split store's claim–write–finalize) are unchanged; a
//! composite operation is timed as a whole.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use sqrl_proto::Bytes32;
use sqrl_server::{
    Account, AccountChange, AccountGuard, AccountId, AccountStore, Accounts, Commit, Flow, FlowId,
    FlowStore, Needs, RedeemCommit, Session, SessionStore, Snapshot, Store, StoreError,
};
use zeroize::Zeroizing;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Op {
    op: &'static str,
}

fn buckets() -> Histogram {
    // 0.25 ms to about 4 s, doubling.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// The latency histograms of a [`TimedStore`], by operation.
#[derive(Clone, Debug)]
pub struct StoreLatency {
    pub(crate) family: Family<Op, Histogram, fn() -> Histogram>,
}

impl Default for StoreLatency {
    fn default() -> Self {
        Self {
            family: Family::new_with_constructor(buckets),
        }
    }
}

/// A [`Store`] that times every call of the one it wraps.
#[derive(Clone)]
pub struct TimedStore {
    inner: Arc<dyn Store>,
    latency: StoreLatency,
}

impl core::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimedStore").finish_non_exhaustive()
    }
}

impl TimedStore {
    /// Wraps `inner`; its timings go to the returned [`StoreLatency`].
    pub fn new(inner: Arc<dyn Store>) -> (Self, StoreLatency) {
        let latency = StoreLatency::default();
        (
            Self {
                inner,
                latency: latency.clone(),
            },
            latency,
        )
    }

    async fn timed<T>(&self, op: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.latency
            .family
            .get_or_create(&Op { op })
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl FlowStore for TimedStore {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.timed("flow", self.inner.flow(id)).await
    }
    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        self.timed("put_flow", self.inner.put_flow(flow, expected))
            .await
    }
    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.timed("purge_flows", self.inner.purge_flows(before))
            .await
    }
}

#[async_trait]
impl AccountStore for TimedStore {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        self.timed("accounts", self.inner.accounts(idk, pidk)).await
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.timed("account", self.inner.account(id)).await
    }
    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[AccountGuard],
    ) -> Result<(), StoreError> {
        self.timed("apply", self.inner.apply(change, guards)).await
    }
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.timed("site_key", self.inner.site_key(name, candidate))
            .await
    }
}

#[async_trait]
impl SessionStore for TimedStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.timed("create_session", self.inner.create_session(session))
            .await
    }
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.timed("session", self.inner.session(id_hash)).await
    }
    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        self.timed("sessions_of", self.inner.sessions_of(account))
            .await
    }
    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        self.timed(
            "delete_session",
            self.inner.delete_session(account, id_hash),
        )
        .await
    }
    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        self.timed("display_name", self.inner.display_name(account))
            .await
    }
    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.timed(
            "set_display_name",
            self.inner.set_display_name(account, name),
        )
        .await
    }
}

#[async_trait]
impl Store for TimedStore {
    async fn load(&self, needs: &Needs) -> Result<Snapshot, StoreError> {
        self.timed("load", self.inner.load(needs)).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.timed("commit", self.inner.commit(commit)).await
    }
    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        self.timed("redeem", self.inner.redeem(redeem)).await
    }
}

//! The driver: runs the sans-IO [`Endpoint`] over the async store, events and limiter traits.
//!
//! One SQRL request is: [`Endpoint::receive`] (no IO) → the scan limit for a request that opens
//! a flow → [`Store::load`] (one round trip) → [`Endpoint::decide`] (no IO) →
//! [`Store::commit`] → publish the flow's new status and tell the app. A commit that loses a
//! race or meets a failed backend changes nothing and answers a transient error.
//!
//! A browser's redemption is the same walk: check the page's secret (no IO) → load the flow
//! and its account → [`Endpoint::redeem`] (no IO) → [`Store::redeem`] → publish.

use std::sync::Arc;
use std::time::Duration;

use rand_core::CryptoRngCore;

use crate::account::AccountId;
use crate::account::AccountNotice;
use crate::browser::{BrowserError, RedeemSnapshot, SessionDraft, Via};
use crate::endpoint::Endpoint;
use crate::events::{Events, MemoryEvents, Subscription};
use crate::flow::{Flow, Status};
use crate::limit::{Admission, Limiter, MemoryLimiter, Prefixes, Rule};
use crate::log_gate::LogGate;
use crate::memory::MemoryStore;
use crate::nut::FlowId;
use crate::receive::{Incoming, Refused};
use crate::refusal::Refusal;
use crate::reply::Response;
use crate::store::{Store, StoreError};
use crate::time::UnixTime;

type NoticeHook = Arc<dyn Fn(&AccountNotice) + Send + Sync>;

/// The default limit on flows one client (network prefix) opens: a phone scans once per
/// login, so 30 at once and one every 2 s leave room for a shared address.
pub const DEFAULT_SCAN_RULE: Rule = Rule {
    name: "scans",
    burst: 30,
    per_second: 0.5,
};

/// The SQRL endpoint with its backends. Cheap to share behind an `Arc`.
pub struct SqrlServer {
    server: Endpoint,
    store: Arc<dyn Store>,
    events: Arc<dyn Events>,
    limiter: Arc<dyn Limiter>,
    scan_rule: Rule,
    prefixes: Prefixes,
    on_account: Option<NoticeHook>,
    limit_logged: LogGate,
    /// Flows are shared with other instances: kept as if codes lived this long (seconds).
    shared_flows: Option<u64>,
}

impl core::fmt::Debug for SqrlServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqrlServer")
            .field("server", &self.server)
            .field("scan_rule", &self.scan_rule)
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

impl SqrlServer {
    /// A driver with in-process events and limits.
    pub fn new(server: Endpoint, store: Arc<dyn Store>) -> Self {
        Self {
            server,
            store,
            events: Arc::new(MemoryEvents::new()),
            limiter: Arc::new(MemoryLimiter::new()),
            scan_rule: DEFAULT_SCAN_RULE,
            prefixes: Prefixes::default(),
            on_account: None,
            limit_logged: LogGate::new(Duration::from_secs(1)),
            shared_flows: None,
        }
    }

    /// A driver on an in-memory store (tests, demos).
    pub fn in_memory(server: Endpoint) -> Self {
        Self::new(server, Arc::new(MemoryStore::new()))
    }

    /// Shares flow events through `events` (e.g. Redis pub/sub across instances).
    pub fn with_events(mut self, events: Arc<dyn Events>) -> Self {
        self.events = events;
        self
    }

    /// Shares rate limits through `limiter`.
    pub fn with_limiter(mut self, limiter: Arc<dyn Limiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The limit on flows one client opens (default [`DEFAULT_SCAN_RULE`]).
    pub fn with_scan_rule(mut self, rule: Rule) -> Self {
        self.scan_rule = rule;
        self
    }

    /// What counts as one client for the limits (default: IPv4 address, IPv6 /64).
    pub fn with_prefixes(mut self, prefixes: Prefixes) -> Self {
        self.prefixes = prefixes;
        self
    }

    /// Called after a command changed an account (created, re-keyed, disabled, enabled,
    /// removed), once its commit is durable.
    pub fn on_account(mut self, hook: impl Fn(&AccountNotice) + Send + Sync + 'static) -> Self {
        self.on_account = Some(Arc::new(hook));
        self
    }

    /// The pure endpoint this driver feeds (its configuration, nut codec and decisions).
    pub fn server(&self) -> &Endpoint {
        &self.server
    }

    /// Where flows, accounts and sessions are kept.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The flows live in a store that other instances share, which may run with a code
    /// lifetime up to `longest_nut_lifetime` seconds: [`flow_retention`](Self::flow_retention)
    /// then keeps them as long as the longest of those needs (see
    /// [`Lifetimes::shared_flow_retention`](crate::Lifetimes::shared_flow_retention)).
    pub fn with_shared_flows(mut self, longest_nut_lifetime: u64) -> Self {
        self.shared_flows = Some(longest_nut_lifetime);
        self
    }

    /// Seconds after its code's issue that a flow is kept: this instance's
    /// [`Lifetimes::flow_retention`](crate::Lifetimes::flow_retention), or with
    /// [`with_shared_flows`](Self::with_shared_flows) the shared one.
    pub fn flow_retention(&self) -> u64 {
        let lifetimes = self.server.config().lifetimes;
        match self.shared_flows {
            Some(longest) => lifetimes.shared_flow_retention(longest),
            None => lifetimes.flow_retention(),
        }
    }

    /// Housekeeping: forgets the flows whose every phase has ended by `now` (see
    /// [`flow_retention`](Self::flow_retention)); how many. Run it every minute or so (the
    /// HTTP layer `sqrl-axum` has a task for it): a store's flows then stay about the login
    /// rate times that retention (8 minutes by default). For a store that other instances
    /// share, say so with [`with_shared_flows`](Self::with_shared_flows).
    pub async fn purge_expired_flows(&self, now: UnixTime) -> Result<usize, StoreError> {
        self.store
            .purge_flows(now.as_secs().saturating_sub(self.flow_retention()))
            .await
    }

    /// Where status changes are published for the pages watching a flow.
    pub fn events(&self) -> &Arc<dyn Events> {
        &self.events
    }

    /// The rate limiter that scans and code redemptions are counted against.
    pub fn limiter(&self) -> &Arc<dyn Limiter> {
        &self.limiter
    }

    /// The network prefix lengths that count as one client for the limits.
    pub fn prefixes(&self) -> Prefixes {
        self.prefixes
    }

    /// Takes a token of `rule` for the client at `ip`; logs (at most once a second) when the
    /// limit bites. A failed limiter refuses (see [`check`](Self::check) to tell the two
    /// apart).
    pub async fn allow(&self, rule: &Rule, ip: std::net::IpAddr, now: UnixTime) -> bool {
        self.check(rule, ip, now).await == Admission::Allowed
    }

    /// Takes a token of `rule` for the client at `ip`: allowed, over the limit (logged at most
    /// once a second), or unavailable (the limiter's backend failed; logged): the caller
    /// applies the limit's [`WhenDown`](crate::WhenDown) policy.
    pub async fn check(&self, rule: &Rule, ip: std::net::IpAddr, now: UnixTime) -> Admission {
        self.take(rule, &self.prefixes.key(ip), now).await
    }

    /// Takes a token of `rule` for `key`; logs (at most once a second) when the limit bites.
    async fn take(&self, rule: &Rule, key: &str, now: UnixTime) -> Admission {
        match self.limiter.allow(rule, key, now).await {
            Ok(true) => Admission::Allowed,
            Ok(false) => {
                if let Some(skipped) = self.limit_logged.open(now) {
                    tracing::warn!(
                        limit = rule.name,
                        client = key,
                        refused_since_last_line = skipped,
                        "rate limit reached"
                    );
                }
                Admission::Limited
            }
            Err(e) => {
                tracing::error!(error = %e, limit = rule.name, "rate limiter unavailable");
                Admission::Unavailable
            }
        }
    }

    /// The scan limit: per client prefix, and ten times that per wider network (an IPv4 /24,
    /// an IPv6 /48), so that many addresses of one network cannot open flows without end.
    /// It fails closed: while the limiter is unavailable no flow is opened (the flows live
    /// in the same backend in every shared deployment), and the phone is told to retry.
    async fn admit_scan(&self, ip: std::net::IpAddr, now: UnixTime) -> Admission {
        let narrow = self.check(&self.scan_rule, ip, now).await;
        if narrow != Admission::Allowed {
            return narrow;
        }
        let wide_rule = Rule {
            name: "scans-network",
            burst: self.scan_rule.burst.saturating_mul(10),
            per_second: self.scan_rule.per_second * 10.0,
        };
        self.take(&wide_rule, &self.prefixes.wide().key(ip), now)
            .await
    }

    /// Handles one POST to the SQRL endpoint. Every failure is a TIF.
    pub async fn handle(
        &self,
        incoming: &Incoming<'_>,
        rng: &mut (impl CryptoRngCore + Send),
    ) -> Response {
        let pending = match self.server.receive(incoming) {
            Ok(pending) => pending,
            Err(refused) => return self.server.refuse(refused, rng),
        };
        if pending.opens_flow() {
            let refusal = match self.admit_scan(pending.client_ip(), incoming.now).await {
                Admission::Allowed => None,
                Admission::Limited => Some(Refusal::RateLimited),
                Admission::Unavailable => Some(Refusal::Backend),
            };
            if let Some(refusal) = refusal {
                let refused = Refused {
                    refusal,
                    cps: pending.cps(),
                    cause: None,
                };
                return self.server.refuse(refused, rng);
            }
        }
        let cps = pending.cps();
        let snapshot = match self.store.load(&pending.needs()).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::error!(error = %e, "store unavailable");
                return self.server.transient(Refusal::Backend, cps, rng);
            }
        };
        let decision = self.server.decide(pending, snapshot, rng);
        if let Some(commit) = &decision.commit {
            match self.store.commit(commit).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => {
                    tracing::debug!(
                        refusal = Refusal::Conflict.code(),
                        "sqrl request lost a race"
                    );
                    return self.server.transient(Refusal::Conflict, cps, rng);
                }
                Err(StoreError::Backend(e)) => {
                    tracing::error!(error = %e, "store failure");
                    return self.server.transient(Refusal::Backend, cps, rng);
                }
            }
            if let (Some(status), Some(flow)) = (decision.status, decision.response.flow) {
                self.publish(flow, status).await;
            }
            if let (Some(notice), Some(hook)) = (&decision.notice, &self.on_account) {
                hook(notice);
            }
        }
        decision.response
    }

    async fn publish(&self, flow: FlowId, status: Status) {
        if let Err(e) = self.events.publish(flow, status).await {
            // The page's rare re-read still finds the stored state.
            tracing::warn!(error = %e, "could not publish a flow event");
        }
    }

    /// The changes of one flow (subscribe before reading its status).
    pub fn subscribe(&self, flow: FlowId) -> Subscription {
        self.events.subscribe(flow)
    }

    /// What the waiting page should show (needs the browser's secret). `issued_at` is the
    /// code's issue time as the page's authenticated cookie says.
    pub async fn status(
        &self,
        flow: &FlowId,
        secret: &str,
        issued_at: u64,
        now: UnixTime,
    ) -> Result<Status, BrowserError> {
        if !self.server.check_browser(flow, issued_at, secret) {
            return Err(BrowserError::Unknown);
        }
        let stored = self.store.flow(flow).await?;
        Ok(self.server.page_status(stored.as_ref(), issued_at, now))
    }

    /// The browser that holds the secret turns the confirmed login into its session, in
    /// one atomic step.
    pub async fn redeem(
        &self,
        flow: &FlowId,
        issued_at: u64,
        secret: &str,
        now: UnixTime,
        session: SessionDraft,
    ) -> Result<AccountId, BrowserError> {
        // Checked here too, so a forged cookie costs no store read.
        if !self.server.check_browser(flow, issued_at, secret) {
            return Err(BrowserError::Unknown);
        }
        let via = Via::Page { issued_at, secret };
        self.redeem_flow(flow, via, now, session).await
    }

    /// Redeems a CPS token (the `url=` a client opened), once.
    pub async fn redeem_cps(
        &self,
        token: &str,
        now: UnixTime,
        session: SessionDraft,
    ) -> Result<AccountId, BrowserError> {
        let flow = Endpoint::cps_flow(token).ok_or(BrowserError::Unknown)?;
        self.redeem_flow(&flow, Via::Cps(token), now, session).await
    }

    /// Load → [`Endpoint::redeem`] → commit → publish.
    async fn redeem_flow(
        &self,
        flow: &FlowId,
        via: Via<'_>,
        now: UnixTime,
        draft: SessionDraft,
    ) -> Result<AccountId, BrowserError> {
        let snapshot = self.load_redeem(flow).await?;
        let commit = self.server.redeem(snapshot, via, draft, now)?;
        self.store.redeem(&commit).await?;
        self.publish(*flow, commit.status).await;
        Ok(commit.session.account)
    }

    /// What a redemption needs: the flow, and the account it confirmed (if it did).
    async fn load_redeem(&self, flow: &FlowId) -> Result<RedeemSnapshot, StoreError> {
        let flow = self.store.flow(flow).await?;
        let account = match flow.as_ref().and_then(Flow::confirmed_account) {
            Some(id) => self.store.account(&id).await?,
            None => None,
        };
        Ok(RedeemSnapshot { flow, account })
    }
}

//! What operators watch, as Prometheus metrics (OpenMetrics text, with `prometheus-client`,
//! the Prometheus project's own Rust client: no global registry, no exporter or runtime of
//! its own, three small dependencies). The layer counts; the app serves
//! [`SqrlHttp::metrics_text`] where only its operators reach it (`sqrl-site`:
//! `--metrics-bind`).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `sqrl_logins_total` | `via` = `page`, `cps` | logins turned into a session |
//! | `sqrl_phone_requests_total` | `outcome` = `ok` or a refusal code (`Refusal::code`) | requests to the SQRL endpoint |
//! | `sqrl_refusals_total` | `code` = [`ApiError::code`] | browser requests refused |
//! | `sqrl_limit_hits_total` | `limit` = `codes`, `polls`, `scans`, `streams-total`, `streams-client`, `streams-flow` | requests refused by a limit |
//! | `sqrl_backend_errors_total` | `source` = `browser` (a browser route answered 503), `phone` (the SQRL endpoint answered refusal `backend`), `limiter` (the rate limiter failed, whatever its limit then did) | backend failures |
//! | `sqrl_status_streams_open` | | status streams open now |
//! | `sqrl_store_seconds` (histogram) | `op` = `load`, `commit`, `redeem`, `flow`, `session`, … | latency of each store operation, with a [`TimedStore`](crate::TimedStore) |
//! | `sqrl_clock_skew_seconds` | | how far ahead of this instance's clock the last code a page showed it was issued (0 when not ahead; logins fail past 60) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::store_latency::StoreLatency;
use crate::streams::StreamCap;
use crate::SqrlHttp;

/// The content type of [`SqrlHttp::metrics_text`].
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Via {
    via: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Source {
    source: &'static str,
}

/// The layer's metrics and the registry that names them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    logins: Family<Via, Counter>,
    phone: Family<Outcome, Counter>,
    refusals: Family<Code, Counter>,
    limits: Family<Limit, Counter>,
    backend_errors: Family<Source, Counter>,
    streams_open: Gauge,
    clock_skew: Gauge,
}

impl Metrics {
    /// Every metric at zero, registered (with the store's latency, when it is timed).
    pub(crate) fn new(store_latency: Option<StoreLatency>) -> Self {
        let mut registry = Registry::default();
        if let Some(latency) = store_latency {
            registry.register(
                "sqrl_store_seconds",
                "Latency of the store's operations, by operation",
                latency.family,
            );
        }
        let logins = Family::<Via, Counter>::default();
        let phone = Family::<Outcome, Counter>::default();
        let refusals = Family::<Code, Counter>::default();
        let limits = Family::<Limit, Counter>::default();
        let backend_errors = Family::<Source, Counter>::default();
        let streams_open = Gauge::default();
        let clock_skew = Gauge::default();
        registry.register(
            "sqrl_logins",
            "Logins turned into a session, by way",
            logins.clone(),
        );
        registry.register(
            "sqrl_phone_requests",
            "Requests to the SQRL endpoint, by outcome (ok or the refusal's code)",
            phone.clone(),
        );
        registry.register(
            "sqrl_refusals",
            "Browser requests refused, by stable code",
            refusals.clone(),
        );
        registry.register(
            "sqrl_limit_hits",
            "Requests refused by a limit, by limit",
            limits.clone(),
        );
        registry.register(
            "sqrl_backend_errors",
            "Backend failures, by where they were met",
            backend_errors.clone(),
        );
        registry.register(
            "sqrl_status_streams_open",
            "Status streams open now",
            streams_open.clone(),
        );
        registry.register(
            "sqrl_clock_skew_seconds",
            "How far ahead of this instance's clock the last code a page showed it was issued",
            clock_skew.clone(),
        );
        Self {
            registry,
            logins,
            phone,
            refusals,
            limits,
            backend_errors,
            streams_open,
            clock_skew,
        }
    }

    /// The last measured skew: seconds a code's issue time was ahead of this clock.
    pub(crate) fn clock_skew(&self, ahead: u64) {
        self.clock_skew
            .set(i64::try_from(ahead).unwrap_or(i64::MAX));
    }

    pub(crate) fn login(&self, via_cps: bool) {
        let via = if via_cps { "cps" } else { "page" };
        self.logins.get_or_create(&Via { via }).inc();
    }

    /// A reply of the SQRL endpoint: `None` for a command carried out.
    pub(crate) fn phone(&self, refusal: Option<sqrl_server::Refusal>) {
        let outcome = refusal.map_or("ok", sqrl_server::Refusal::code);
        self.phone.get_or_create(&Outcome { outcome }).inc();
        match refusal {
            Some(sqrl_server::Refusal::RateLimited) => self.limit("scans"),
            Some(sqrl_server::Refusal::Backend) => self.backend("phone"),
            _ => {}
        }
    }

    /// A refused browser request.
    pub(crate) fn refusal(&self, error: &ApiError) {
        self.refusals
            .get_or_create(&Code { code: error.code() })
            .inc();
        match error {
            ApiError::TooManyCodes => self.limit("codes"),
            ApiError::TooManyRequests => self.limit("polls"),
            ApiError::Streams(cap) => self.limit(match cap {
                StreamCap::Total => "streams-total",
                StreamCap::Client => "streams-client",
                StreamCap::Flow => "streams-flow",
            }),
            ApiError::Unavailable | ApiError::LogoutFailed => self.backend("browser"),
            _ => {}
        }
    }

    fn limit(&self, limit: &'static str) {
        self.limits.get_or_create(&Limit { limit }).inc();
    }

    /// A backend failure met at `source`.
    pub(crate) fn backend(&self, source: &'static str) {
        self.backend_errors.get_or_create(&Source { source }).inc();
    }
}

impl SqrlHttp {
    /// The layer's metrics in the OpenMetrics text format (served as
    /// [`METRICS_CONTENT_TYPE`]); see [`metrics`](crate::metrics) for what they are. Serve
    /// them where only operators reach them: they say how busy the site is.
    pub fn metrics_text(&self) -> String {
        let metrics = &self.inner.metrics;
        let open = i64::try_from(self.inner.streams.total()).unwrap_or(i64::MAX);
        metrics.streams_open.set(open);
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry)
        {
            tracing::error!(%error, "cannot encode the metrics");
        }
        text
    }
}

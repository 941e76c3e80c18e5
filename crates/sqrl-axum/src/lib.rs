//! SQRL login for axum: mount the routes into any `Router`.
//!
//! Routes, under the endpoint path (default `/sqrl`):
//!
//! | route | what |
//! |---|---|
//! | `POST /sqrl?nut=…` | the SQRL endpoint: body ≤ 8 KiB (413 above), always 200 with a TIF |
//! | `POST /sqrl/new` | a new login code for this browser (JSON), sets the flow cookie |
//! | `GET /sqrl/qr.svg?nut=…`, `/sqrl/qr.png?nut=…` | the QR code of a nut we minted |
//! | `GET /sqrl/events` | Server-Sent Events: the flow's status, with the retry interval |
//! | `GET /sqrl/poll?last=…` | long-poll fallback (waits up to 25 s for a change) |
//! | `POST /sqrl/redeem` | the browser holding the flow secret turns a confirmed login into its session |
//! | `GET /sqrl/cps?token=…` | a client's CPS link: logs in the browser that opens it, once |
//! | `POST /sqrl/logout` | ends the session |
//! | `GET /sqrl/widget.js` | the login widget's script (see [`widget`] for it and the JSON/SSE contract) |
//!
//! ```no_run
//! use std::sync::Arc;
//! use sqrl_axum::SqrlHttp;
//! use sqrl_server_sqlite::SqliteStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SqliteStore::open("site.sqlite")?);
//! let sqrl = SqrlHttp::setup("https://example.com", store)
//!     .await?
//!     .on_login(|event| println!("{} logged in from {}", event.account, event.ip))
//!     .start()?; // builds the layer and starts its housekeeping
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .merge(sqrl.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! `examples/embed.rs` is a whole app with a home page, the widget and logout. For full
//! control, [`SqrlHttp::builder`] takes a [`SqrlServer`] you assemble yourself (its
//! `Config`, keys, store, limits); [`SqrlHttp::setup`] is that with the defaults below.
//!
//! # The two keys
//!
//! A site has two 256-bit secret keys: one seals the nuts of its login codes (a code cannot be
//! forged or altered), the other derives each browser's secret for its code (only the browser
//! that asked for a code can turn it into a session). [`SqrlHttp::setup`] makes them from the
//! operating system's random source the first time and keeps them in the store
//! ([`sqrl_server::AccountStore::site_key`], names `nut` and `browser`); every later start,
//! and every instance on the same store, reads the same keys, so codes and cookies survive
//! restarts and work on any instance. Nothing secret is written beside the database.
//!
//! To replace them (after a leak of the database, say), delete the two rows (`site_keys` in
//! SQLite, `sqrl_site_keys` in PostgreSQL) and restart every instance: new keys are made, the
//! codes on screen and the logins in progress stop working (their pages offer a new code),
//! and sessions and accounts are untouched, since neither depends on these keys.
//!
//! # What to run in the background
//!
//! Every login code leaves a flow in the store, kept until every phase of it has ended
//! ([`SqrlServer::flow_retention`]: 8 minutes by default). Forgetting them is the app's job:
//! call [`SqrlHttp::spawn_housekeeping`] once after building the layer (it runs
//! [`SqrlServer::purge_expired_flows`] every [`HOUSEKEEPING_EVERY`]), or call
//! `purge_expired_flows` yourself about every minute. Without it the store grows with every
//! code shown, and the memory store refuses new logins once full. When several instances
//! share the store, build the driver with [`SqrlServer::with_shared_flows`] (the longest code
//! lifetime any of them uses), so that none forgets a flow another still accepts.
//!
//! # Stopping
//!
//! Call [`SqrlHttp::drain`] when the app stops accepting connections: status streams and
//! long-polls end (see its docs), requests in flight finish. `sqrl-site` does so on SIGTERM.
//!
//! # Limits under plain `axum::serve`
//!
//! The layer limits what one client can ask of it, whatever serves it: login codes
//! ([`HttpSettings::mint_rule`], 30 at once then 1 a second per client), status reads
//! ([`HttpSettings::poll_rule`]), open status streams ([`HttpSettings::streams`]: 10 000 in
//! all, 32 per client, 4 per code), phone requests ([`sqrl_server::DEFAULT_SCAN_RULE`], per
//! client) and SQRL request bodies (8 KiB). A client is an IPv4 address or an IPv6 /64;
//! behind a proxy of your own set [`HttpSettings::trusted_proxies`].
//!
//! Plain `axum::serve` adds no limits of its own on connections: no cap on how many one client
//! opens, no deadline for a request's head or body, none for a client that stops reading. The
//! ready site, `sqrl-site`, serves through a listener that has them (its `--max-connections`,
//! `--max-connections-per-client`, `--header-timeout`, `--body-timeout`, `--write-timeout`),
//! which is not a library yet: embedded, put the app behind a reverse proxy that sets them
//! (nginx, Caddy), or use `sqrl-site` itself.
//!
//! # Errors
//!
//! Every refusal of these routes is an [`ApiError`], which picks the status code and body
//! once: `429` for limits, `401`/`403` for a missing or foreign login code, `409` for a login
//! that cannot be redeemed, `503` when a backend fails; never `500`.

mod admission;
pub mod assets;
mod client_ip;
pub mod date;
mod drain;
mod error;
pub mod forward_auth;
mod handlers;
pub mod metrics;
pub mod oidc;
mod origin;
pub mod qr;
mod same_origin;
mod setup;
mod skew;
mod store_latency;
pub mod streams;
mod watch;
pub mod widget;

pub use client_ip::forwarded_client_ip;
pub use error::ApiError;
pub use origin::{Origin, OriginError};
pub use same_origin::is_same_origin;
pub use setup::SetupError;
pub use sqrl_server::{LogGate, UnixTime};
pub use store_latency::{StoreLatency, TimedStore};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqrl_proto::b64;
use sqrl_server::useragent::BrowserInfo;
use sqrl_server::{
    AccountId, FlowId, Lifetimes, NewFlow, Rule, Session, SessionDraft, SqrlServer, Store,
    StoreError, WhenDown,
};

use crate::streams::{StreamCap, StreamPermit, Streams};

/// How often [`SqrlHttp::spawn_housekeeping`] forgets finished login flows.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// How often a refused status stream is logged at most (per [`SqrlHttp`]).
const STREAM_CAP_LOG_EVERY: Duration = Duration::from_secs(1);

/// Now, from the system clock (the epoch if the clock is set before it).
pub fn system_clock() -> UnixTime {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(UnixTime::EPOCH, |d| {
            UnixTime::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        })
}

/// The HTTP layer's clock (inject one in tests).
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// A login, as reported to the `on_login` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEvent {
    /// The account (stable across re-keys).
    pub account: AccountId,
    /// The app's user for it, from the `map_user` hook.
    pub user: Option<String>,
    /// The browser's IP address.
    pub ip: IpAddr,
    /// The browser, as "Firefox on Linux".
    pub browser: String,
    /// Logged in through a client-provided session link.
    pub via_cps: bool,
}

/// A signed-in request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The SQRL account this request's session belongs to.
    pub account: AccountId,
    /// The app's user for it.
    pub user: Option<String>,
    /// The session record (its id hash, creation time, IP address and browser).
    pub session: Session,
}

type LoginHook = Arc<dyn Fn(&LoginEvent) + Send + Sync>;
type UserHook = Arc<dyn Fn(&AccountId) -> Option<String> + Send + Sync>;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Cookies get `Secure` and the session cookie the `__Host-` prefix (serve over HTTPS).
    pub secure_cookies: bool,
    /// Where the browser goes after logging in.
    pub after_login: String,
    /// Where a failed CPS link sends the browser.
    pub login_page: String,
    /// How many reverse proxies of your own stand in front of the app: the client IP is the
    /// address the farthest of them saw, the `trusted_proxies`-th `X-Forwarded-For` value
    /// counted from the right (each proxy appends the address it was connected from). 0 (the
    /// default) ignores the header: the client IP is the connection's peer. Values to the
    /// left of that one were written by the client and are never trusted.
    pub trusted_proxies: usize,
    /// Login codes per client.
    pub mint_rule: Rule,
    /// Status requests per client.
    pub poll_rule: Rule,
    /// What the code limit does while the limiter is unavailable (Redis down): by default
    /// it refuses, answering 503 "try again" (never 429): a code's flow lives in the same
    /// backend, so it could not be used anyway.
    pub mint_when_down: WhenDown,
    /// What the status-read limit does while the limiter is unavailable: by default it
    /// admits, since the read that follows meets the flow store itself and answers 503 when
    /// that is down too, while a page whose flow is readable keeps its status.
    pub poll_when_down: WhenDown,
    /// Caps on open status streams: overall, per client, per flow.
    pub streams: streams::StreamLimits,
    /// The reconnect interval the server dictates to `EventSource` and long-poll clients.
    pub retry: Duration,
    /// How often a waiting page re-reads its flow when no event came (a fallback for a lost
    /// event; changes normally arrive as events at once).
    pub reread: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            after_login: "/account".into(),
            login_page: "/".into(),
            trusted_proxies: 0,
            mint_rule: Rule {
                name: "codes",
                burst: 30,
                per_second: 1.0,
            },
            poll_rule: Rule {
                name: "polls",
                burst: 120,
                per_second: 4.0,
            },
            mint_when_down: WhenDown::Refuse,
            poll_when_down: WhenDown::Admit,
            streams: streams::StreamLimits::default(),
            retry: Duration::from_secs(2),
            reread: Duration::from_secs(15),
        }
    }
}

struct Inner {
    sqrl: SqrlServer,
    settings: HttpSettings,
    on_login: Option<LoginHook>,
    map_user: Option<UserHook>,
    streams: Arc<Streams>,
    /// This instance's log of refused status streams.
    stream_cap_log: LogGate,
    clock: Clock,
    /// Set when the app stops: streams and long-polls end.
    drain: drain::Drain,
    /// What operators watch.
    metrics: metrics::Metrics,
    /// The log of clock skew between instances.
    skew_log: skew::SkewLog,
}

/// The SQRL HTTP layer: cheap to clone, shared by all handlers.
#[derive(Clone)]
pub struct SqrlHttp {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for SqrlHttp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqrlHttp")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SqrlHttp`].
pub struct Builder {
    sqrl: SqrlServer,
    settings: HttpSettings,
    on_login: Option<LoginHook>,
    map_user: Option<UserHook>,
    clock: Clock,
    store_latency: Option<StoreLatency>,
}

impl core::fmt::Debug for Builder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Replaces the settings.
    pub fn settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Called after every login (for login notifications, audit logs).
    pub fn on_login(mut self, hook: impl Fn(&LoginEvent) + Send + Sync + 'static) -> Self {
        self.on_login = Some(Arc::new(hook));
        self
    }

    /// Maps an account to the app's user (for example a user id in its own tables).
    pub fn map_user(
        mut self,
        hook: impl Fn(&AccountId) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.map_user = Some(Arc::new(hook));
        self
    }

    /// Replaces the clock ([`system_clock`] by default): for tests on a virtual clock.
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds the latency histograms of a [`TimedStore`] (the store of the server) to the
    /// layer's metrics, as `sqrl_store_seconds{op}`.
    pub fn store_latency(mut self, latency: StoreLatency) -> Self {
        self.store_latency = Some(latency);
        self
    }

    /// Finishes the builder: the HTTP layer, ready to mount with its router.
    pub fn build(self) -> SqrlHttp {
        let settings = self.settings;
        SqrlHttp {
            inner: Arc::new(Inner {
                sqrl: self.sqrl,
                streams: Streams::new(settings.streams),
                stream_cap_log: LogGate::new(STREAM_CAP_LOG_EVERY),
                on_login: self.on_login,
                map_user: self.map_user,
                clock: self.clock,
                drain: drain::Drain::new(),
                metrics: metrics::Metrics::new(self.store_latency),
                skew_log: skew::SkewLog::new(),
                settings,
            }),
        }
    }
}

/// A new login code, ready for a page.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The flow, its nut, `sqrl://` URL and browser secret.
    pub flow: NewFlow,
    /// The same-device link (the URL with `can=` back to the login page).
    pub link: String,
    /// The `Set-Cookie` value that gives this browser its flow secret.
    pub cookie: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// The code the page shows beside the QR code and the phone's question quotes
    /// ([`FlowId::compare_code`](sqrl_server::FlowId::compare_code)); `None` when the site
    /// turned it off ([`Config::compare_code`](sqrl_server::Config::compare_code)).
    pub compare: Option<u8>,
    /// The application the code logs in to ([`SqrlHttp::begin_for`]); empty for the site
    /// itself.
    pub app: String,
}

impl Begun {
    /// The QR code as SVG markup (rendered on demand: a page that loads the code from
    /// `/sqrl/qr.svg` never pays for it here).
    pub fn svg(&self) -> Option<String> {
        qr::svg(&self.flow.url)
    }
}

pub(crate) const FLOW_COOKIE: &str = "sqrl_flow";
/// Where the browser goes after its next login instead of [`HttpSettings::after_login`]: a
/// path on this site, set by a page that sends the user to log in and wants them back (the
/// OpenID Connect provider's login page). Read by redeem and CPS, then cleared.
pub(crate) const RETURN_COOKIE: &str = "sqrl_return";
/// [`RETURN_COOKIE`] over HTTPS: `__Host-` keeps a sibling host from setting it.
pub(crate) const SECURE_RETURN_COOKIE: &str = "__Host-sqrl_return";

/// Why a new login code was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginError {
    /// The client asked for too many codes.
    RateLimited,
    /// The code limit could not be checked (its backend is down) and it fails closed
    /// ([`HttpSettings::mint_when_down`]): try again.
    Unavailable,
}

impl SqrlHttp {
    /// Starts building the layer around a server.
    pub fn builder(sqrl: SqrlServer) -> Builder {
        Builder {
            sqrl,
            settings: HttpSettings::default(),
            on_login: None,
            map_user: None,
            clock: Arc::new(system_clock),
            store_latency: None,
        }
    }

    /// The SQRL server.
    pub fn sqrl(&self) -> &SqrlServer {
        &self.inner.sqrl
    }

    /// The HTTP settings this layer runs with (cookies, pages, proxies, limits).
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The store of accounts, sessions and flows (the driver's).
    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.sqrl.store()
    }

    /// The endpoint path the routes live under (default `/sqrl`).
    pub fn path(&self) -> &str {
        &self.inner.sqrl.server().config().path
    }

    /// How long codes and redemptions last.
    pub fn lifetimes(&self) -> Lifetimes {
        self.inner.sqrl.server().config().lifetimes
    }

    /// [`HttpSettings::retry`] in milliseconds, as the JSON of the routes gives it.
    pub(crate) fn retry_ms(&self) -> u64 {
        u64::try_from(self.inner.settings.retry.as_millis()).unwrap_or(u64::MAX)
    }

    /// A place for one more status stream of the client at `ip` watching `flow`, under the
    /// caps per client, per flow and overall; a cap that bites is logged (at most once a
    /// second for this layer).
    pub(crate) fn open_stream(&self, ip: IpAddr, flow: FlowId) -> Result<StreamPermit, ApiError> {
        let client = self.inner.sqrl.prefixes().key(ip);
        self.inner
            .streams
            .open(&client, flow)
            .map_err(|cap: StreamCap| {
                if let Some(skipped) = self.inner.stream_cap_log.open(self.now()) {
                    tracing::warn!(
                        ?cap,
                        client = client.as_str(),
                        open = self.inner.streams.total(),
                        skipped,
                        "status stream cap reached"
                    );
                }
                ApiError::Streams(cap)
            })
    }

    /// Housekeeping, forever: every `every`, forgets the login flows whose every phase has
    /// ended ([`SqrlServer::purge_expired_flows`], on this layer's clock). A failed purge is
    /// logged and tried again next time. See [`spawn_housekeeping`](Self::spawn_housekeeping).
    pub async fn housekeeping(self, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.inner.sqrl.purge_expired_flows(self.now()).await {
                tracing::warn!(error = %e, "could not purge old login flows");
            }
        }
    }

    /// Runs [`housekeeping`](Self::housekeeping) every [`HOUSEKEEPING_EVERY`] on the current
    /// tokio runtime, until the returned task is aborted or the runtime ends.
    ///
    /// **An app must run it (or call [`SqrlServer::purge_expired_flows`] itself about every
    /// minute)**: without it the store keeps every login flow, and the memory store refuses
    /// new logins once it is full. With a store that several instances share, build the
    /// driver with [`SqrlServer::with_shared_flows`] so that no instance forgets a flow
    /// another one still needs.
    ///
    /// Outside a tokio runtime it starts nothing and says so.
    pub fn spawn_housekeeping(
        &self,
    ) -> Result<tokio::task::JoinHandle<()>, tokio::runtime::TryCurrentError> {
        let runtime = tokio::runtime::Handle::try_current()?;
        Ok(runtime.spawn(self.clone().housekeeping(HOUSEKEEPING_EVERY)))
    }

    /// Now, from the layer's clock.
    pub fn now(&self) -> UnixTime {
        (self.inner.clock)()
    }

    /// The client IP of a request: the peer, or with [`HttpSettings::trusted_proxies`] the
    /// address the farthest trusted proxy saw (see [`forwarded_client_ip`]).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        forwarded_client_ip(peer, headers, self.inner.settings.trusted_proxies)
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.inner.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// The session cookie's name: `__Host-sqrl_session` over HTTPS, `sqrl_session` otherwise.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.inner.settings.secure_cookies {
            "__Host-sqrl_session"
        } else {
            "sqrl_session"
        }
    }

    /// A `Set-Cookie` value for the session cookie.
    fn session_cookie(&self, value: &str, max_age: u64) -> String {
        self.cookie(self.session_cookie_name(), value, max_age)
    }

    /// A new login code for the browser at `ip` (rate-limited per client; while the limiter
    /// is down, as [`HttpSettings::mint_when_down`] says).
    pub async fn begin(&self, ip: IpAddr, user_agent: &str) -> Result<Begun, BeginError> {
        self.begin_for(ip, user_agent, "").await
    }

    /// [`SqrlHttp::begin`] for a login into the application `app` (an identity provider's
    /// client): the code's URL carries its name, sealed with the nut, and the phone's question
    /// says "Log in to *app* via *host*" ([`sqrl_server::Endpoint::start_flow_for`]). The
    /// name is cleaned by [`sqrl_server::app_label`].
    pub async fn begin_for(
        &self,
        ip: IpAddr,
        user_agent: &str,
        app: &str,
    ) -> Result<Begun, BeginError> {
        let sqrl = &self.inner.sqrl;
        let settings = &self.inner.settings;
        match self
            .admit(&settings.mint_rule, settings.mint_when_down, ip)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(BeginError::RateLimited),
            Err(_) => return Err(BeginError::Unavailable),
        }
        let now = self.now();
        let server = sqrl.server();
        let app = sqrl_server::app_label(app);
        let flow = server.start_flow_for(ip, user_agent, &app, now, &mut OsRng);
        let cancel = format!(
            "{}{}",
            server.config().origin,
            self.inner.settings.login_page
        );
        let life = self.lifetimes();
        let value = format!(
            "{}.{}.{}",
            flow.flow.encode(),
            now.as_secs(),
            flow.browser_secret
        );
        Ok(Begun {
            link: server.link_with_cancel(&flow.url, &cancel),
            cookie: self.cookie(FLOW_COOKIE, &value, life.nut.saturating_add(life.redeem)),
            expires_in: life.nut,
            compare: server
                .config()
                .compare_code
                .then(|| flow.flow.compare_code()),
            flow,
            app,
        })
    }

    /// The session of a request, if it carries a valid session cookie.
    pub async fn signed_in(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, StoreError> {
        let Some(id) = cookie_value(headers, self.session_cookie_name()) else {
            return Ok(None);
        };
        let hash: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        let Some(session) = self.store().session(&hash).await? else {
            return Ok(None);
        };
        Ok(Some(SignedIn {
            account: session.account,
            user: self
                .inner
                .map_user
                .as_ref()
                .and_then(|f| f(&session.account)),
            session,
        }))
    }

    /// A fresh session id (never reusing anything from before the login): the cookie value
    /// and what to store.
    pub(crate) fn new_session(&self, ip: IpAddr, user_agent: &str) -> (String, SessionDraft) {
        let mut id = [0u8; 32];
        OsRng.fill_bytes(&mut id);
        let id = b64::encode(id);
        let draft = SessionDraft {
            id_hash: Sha256::digest(id.as_bytes()).into(),
            created_at: self.now().as_secs(),
            ip: ip.to_string(),
            browser: BrowserInfo::from_user_agent(user_agent).to_string(),
        };
        (id, draft)
    }

    /// Tells the app about a login and returns the session cookie.
    pub(crate) fn logged_in(
        &self,
        account: AccountId,
        id: &str,
        draft: &SessionDraft,
        ip: IpAddr,
        via_cps: bool,
    ) -> String {
        self.inner.metrics.login(via_cps);
        if let Some(hook) = &self.inner.on_login {
            hook(&LoginEvent {
                account,
                user: self.inner.map_user.as_ref().and_then(|f| f(&account)),
                ip,
                browser: draft.browser.clone(),
                via_cps,
            });
        }
        self.session_cookie(id, 30 * 24 * 3600)
    }

    /// The app's user for an account, from the `map_user` hook.
    pub(crate) fn user_of(&self, account: &AccountId) -> Option<String> {
        self.inner.map_user.as_ref().and_then(|f| f(account))
    }

    /// Where the browser goes after this login: the return cookie's path when it holds one of
    /// this site's paths, else [`HttpSettings::after_login`].
    pub(crate) fn after_login(&self, headers: &HeaderMap) -> String {
        cookie_value(headers, self.return_cookie_name())
            .filter(|path| is_local_path(path))
            .unwrap_or_else(|| self.inner.settings.after_login.clone())
    }

    /// The return cookie's name (`__Host-` over HTTPS).
    pub(crate) fn return_cookie_name(&self) -> &'static str {
        if self.inner.settings.secure_cookies {
            SECURE_RETURN_COOKIE
        } else {
            RETURN_COOKIE
        }
    }

    /// The `Set-Cookie` value that sends the browser to `path` after its next login.
    pub(crate) fn set_return(&self, path: &str, max_age: u64) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.cookie(self.return_cookie_name(), path, max_age)).ok()
    }

    /// The `Set-Cookie` value that clears the return cookie.
    pub(crate) fn clear_return(&self) -> Option<HeaderValue> {
        self.set_return("", 0)
    }

    /// `Set-Cookie` values that clear the session and flow cookies.
    pub fn clear_cookies(&self) -> [HeaderValue; 2] {
        [self.session_cookie("", 0), self.cookie(FLOW_COOKIE, "", 0)]
            .map(|c| HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static("")))
    }

    /// Ends the request's session.
    pub async fn end_session(&self, headers: &HeaderMap) -> Result<(), StoreError> {
        if let Some(signed_in) = self.signed_in(headers).await? {
            self.store()
                .delete_session(&signed_in.account, &signed_in.session.id_hash)
                .await?;
        }
        Ok(())
    }
}

/// A path on this site (`/…`, not `//host` nor `/\host`, no control characters): safe to
/// redirect to.
pub(crate) fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

/// A cookie's value from the request headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

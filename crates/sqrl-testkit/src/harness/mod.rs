//! The HTTP layer's test harness (feature `harness`): each protocol test body is written once,
//! generic over [`Transport`], and runs twice (see [`over_both_transports!`](crate::over_both_transports)):
//!
//! - [`InProcess`]: the `SqrlServer` driver called directly, on a `MemoryStore`;
//! - [`OverHttp`]: the `sqrl-axum` router driven with `tower::ServiceExt::oneshot`, client IPs
//!   from `MockConnectInfo`, on an in-memory SQLite store.
//!
//! Both run on a virtual clock (`set_now`), so expiry needs no sleeps. Bodies are sync (the
//! real client's `Exchange::drive` takes a sync `send`); each transport owns a tokio runtime
//! and blocks on it.
// Test-only: helpers may panic with a message where a test cannot go on, and transports that
// own a runtime and a router need no Debug.
#![allow(
    dead_code,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, Request};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqrl_axum::{HttpSettings, LoginEvent, SqrlHttp};
use sqrl_client::exchange::{
    Action, Config as ClientConfig, Decision, Exchange, Keys, Outcome, Prompt,
};
use sqrl_client::keys::{Imk, Iuk, Rlk, SiteKey};
use sqrl_proto::{
    b64, signing_input, Button, Bytes32, ClientParams, Command, RequestBody, ServerParams, SqrlUrl,
    Tif,
};
use sqrl_server::{
    Account, AccountChange, AccountId, AccountStore, Accounts, AskPolicy, BrowserError, Commit,
    Config, Endpoint, Flow, FlowError, FlowId, FlowStore, Incoming, MemoryStore, RedeemCommit,
    Rule, Session, SessionDraft, SessionStore, SqrlServer, Status, Store, StoreError, UnixTime,
};
use sqrl_server_sqlite::SqliteStore;
use tower::ServiceExt;
use zeroize::Zeroizing;

mod faulty;
mod in_process;
mod over_http;
mod phone;

pub use faulty::Faulty;
pub use in_process::InProcess;
pub use over_http::{read, status_of, user_of, OverHttp, Reply};
pub use phone::{act, drive, idk_of, keys, log_in, login_with, query_of, Phone};

/// The virtual epoch every test starts at, in seconds since the Unix epoch.
pub const T0: u64 = 1_800_000_000;

/// `secs` seconds since the Unix epoch, as the virtual clock takes it: `at(T0 + 5)`.
pub const fn at(secs: u64) -> UnixTime {
    UnixTime::from_secs(secs)
}
/// The site.
pub const HOST: &str = "example.com";
/// Where CPS links and failed commands send the browser.
pub const HOME: &str = "https://example.com/";
/// The user agent of the browser in the tests.
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// The browser that loads the login page (and, by default, the phone on the same network).
pub const BROWSER_IP: &str = "192.0.2.10";

/// An IP address from its text (a test's literal).
pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// [`BROWSER_IP`] as an address.
pub fn browser_ip() -> IpAddr {
    ip(BROWSER_IP)
}

/// Runs each named generic test body `fn name<T: Transport>()` over both transports, as
/// `in_process::name` and `over_http::name`.
#[macro_export]
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[test]
                fn $name() {
                    super::$name::<$crate::harness::InProcess>();
                }
            )*
        }
        mod over_http {
            $(
                #[test]
                fn $name() {
                    super::$name::<$crate::harness::OverHttp>();
                }
            )*
        }
    };
}

/// A limit that never bites in tests that are not about limits.
pub const fn generous(name: &'static str) -> Rule {
    Rule {
        name,
        burst: 100_000,
        per_second: 100_000.0,
    }
}

/// What a test configures; the rest is the same for both transports.
#[derive(Clone)]
pub struct Setup {
    /// The server's configuration (host `example.com`, endpoint `/sqrl`).
    pub config: Config,
    /// The per-prefix scan limit of the driver.
    pub scan_rule: Rule,
    /// The HTTP layer's settings (ignored in process).
    pub settings: HttpSettings,
    /// The store (default: `MemoryStore` in process, in-memory SQLite over HTTP).
    pub store: Option<Arc<dyn Store>>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            config: Config::new(HOST),
            scan_rule: generous("scans"),
            settings: HttpSettings {
                secure_cookies: false,
                mint_rule: generous("codes"),
                poll_rule: generous("polls"),
                ..HttpSettings::default()
            },
            store: None,
        }
    }
}

impl Setup {
    /// The same setup with the login question asked as `ask` says.
    pub fn ask(mut self, ask: AskPolicy) -> Self {
        self.config.ask = ask;
        self
    }
}

/// What the browser that showed a login code holds: the code and its flow cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `sqrl://` URL in the QR code.
    pub url: String,
    /// Its nut.
    pub nut: String,
    /// The flow.
    pub flow: FlowId,
    /// The issue time the cookie claims, in seconds since the Unix epoch.
    pub issued_at: u64,
    /// The browser secret.
    pub secret: String,
}

impl Page {
    /// The flow cookie's value: `flow.issued_at.secret`.
    pub fn cookie(&self) -> String {
        format!("{}.{}.{}", self.flow.encode(), self.issued_at, self.secret)
    }

    /// The query string of the QR URL (`nut=…`).
    pub fn query(&self) -> String {
        query_of(&self.url).to_owned()
    }

    /// Parses a flow cookie value.
    pub fn from_cookie(url: &str, value: &str) -> Self {
        let mut parts = value.split('.');
        let flow = FlowId::decode(parts.next().unwrap()).unwrap();
        let issued_at = parts.next().unwrap().parse().unwrap();
        let secret = parts.next().unwrap().to_owned();
        Self {
            url: url.to_owned(),
            nut: query_of(url).strip_prefix("nut=").unwrap().to_owned(),
            flow,
            issued_at,
            secret,
        }
    }
}

/// A reply from the SQRL endpoint: HTTP status (always 200 in process) and body.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The HTTP status.
    pub status: u16,
    /// The body: the server's parameters, base64url.
    pub body: String,
}

/// Why the browser side was refused, the same for both transports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// Not this browser's flow, or a bad secret (in process `BrowserError::Unknown`; HTTP 401
    /// on status, 403 on redeem).
    Unknown,
    /// The flow cannot be redeemed now (HTTP 409).
    Flow(FlowError),
    /// The store failed (HTTP 503).
    Unavailable,
    /// Any other HTTP status.
    Http(u16),
}

impl From<BrowserError> for Denied {
    fn from(e: BrowserError) -> Self {
        match e {
            BrowserError::Unknown => Denied::Unknown,
            BrowserError::Flow(f) => Denied::Flow(f),
            BrowserError::Store(_) => Denied::Unavailable,
        }
    }
}

/// How a test body reaches the server.
pub trait Transport: Send + Sync + Sized + 'static {
    /// `true` for the HTTP transport (for the few answers only HTTP gives, like 413).
    const OVER_HTTP: bool;

    /// A site with this setup, its clock at [`T0`].
    fn new(setup: Setup) -> Self;

    /// The driver (store, events, limits).
    fn sqrl(&self) -> &SqrlServer;

    /// Runs a future to completion on the transport's runtime.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Now on the virtual clock.
    fn now(&self) -> UnixTime;

    /// Moves the virtual clock.
    fn set_now(&self, now: UnixTime);

    /// A new login code for a browser at `browser_ip`.
    fn start_for(&self, browser_ip: IpAddr, user_agent: &str) -> Page;

    /// One POST to the SQRL endpoint from `client_ip`.
    fn post_raw(&self, query: &str, body: &[u8], client_ip: IpAddr) -> Posted;

    /// What the page sees.
    fn status(&self, page: &Page) -> Result<Status, Denied>;

    /// The page turns its confirmed login into a session: the account logged in.
    fn redeem(&self, page: &Page) -> Result<AccountId, Denied>;

    /// A browser opens a CPS link: the account logged in, or `None` when refused.
    fn open_cps(&self, link: &str) -> Option<AccountId>;

    /// The default site.
    fn site() -> Self {
        Self::new(Setup::default())
    }

    /// A login code for a Firefox browser at [`BROWSER_IP`].
    fn start(&self) -> Page {
        self.start_for(browser_ip(), FIREFOX)
    }

    /// POSTs and expects 200: the reply body.
    fn post(&self, query: &str, body: &[u8], client_ip: IpAddr) -> String {
        let posted = self.post_raw(query, body, client_ip);
        assert_eq!(posted.status, 200, "{}", posted.body);
        posted.body
    }

    /// The store.
    fn store(&self) -> &Arc<dyn Store> {
        self.sqrl().store()
    }

    /// The account of an identity.
    fn account(&self, idk: &Bytes32) -> Option<Account> {
        self.block_on(self.store().accounts(idk, None))
            .unwrap()
            .current
    }

    /// Whether the store holds a record of this flow.
    fn flow_stored(&self, flow: &FlowId) -> bool {
        self.block_on(self.store().flow(flow)).unwrap().is_some()
    }
}

fn session_draft(ip: IpAddr, now: UnixTime) -> SessionDraft {
    let mut id = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    SessionDraft {
        id_hash: Sha256::digest(id).into(),
        created_at: now.as_secs(),
        ip: ip.to_string(),
        browser: "Firefox on Linux".into(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn driver(setup: &mut Setup, default_store: impl FnOnce() -> Arc<dyn Store>) -> SqrlServer {
    let server = Endpoint::new(setup.config.clone(), &[1; 32], &[2; 32]);
    let store = setup.store.take().unwrap_or_else(default_store);
    SqrlServer::new(server, store).with_scan_rule(setup.scan_rule)
}

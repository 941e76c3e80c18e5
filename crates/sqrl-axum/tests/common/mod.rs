//! The test harness: each protocol test body is written once, generic over [`Transport`], and
//! runs twice (see [`over_both_transports!`]):
//!
//! - [`InProcess`]: the `SqrlServer` driver called directly, on a `MemoryStore`;
//! - [`OverHttp`]: the `sqrl-axum` router driven with `tower::ServiceExt::oneshot`, client IPs
//!   from `MockConnectInfo`, on an in-memory SQLite store.
//!
//! Both run on a virtual clock (`set_now`), so expiry needs no sleeps. Bodies are sync (the
//! real client's `Exchange::drive` takes a sync `send`); each transport owns a tokio runtime
//! and blocks on it.
#![allow(
    // A test helper module: `pub` is for the tests that include it, not an API.
    unreachable_pub,
    dead_code,
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
    Rule, Session, SessionDraft, SessionStore, SqrlServer, Status, Store, StoreError,
};
use sqrl_server_sqlite::SqliteStore;
use tower::ServiceExt;
use zeroize::Zeroizing;

/// The virtual epoch every test starts at.
pub const T0: u64 = 1_800_000_000;
/// The site.
pub const HOST: &str = "example.com";
/// Where CPS links and failed commands send the browser.
pub const HOME: &str = "https://example.com/";
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// The browser that loads the login page (and, by default, the phone on the same network).
pub const BROWSER_IP: &str = "192.0.2.10";

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub fn browser_ip() -> IpAddr {
    ip(BROWSER_IP)
}

/// Runs each named generic test body `fn name<T: Transport>()` over both transports, as
/// `in_process::name` and `over_http::name`.
#[allow(unused_macros)]
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[test]
                fn $name() {
                    super::$name::<crate::common::InProcess>();
                }
            )*
        }
        mod over_http {
            $(
                #[test]
                fn $name() {
                    super::$name::<crate::common::OverHttp>();
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
    /// The issue time the cookie claims.
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
    pub status: u16,
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

    /// Now on the virtual clock, seconds since the epoch.
    fn now(&self) -> u64;

    /// Moves the virtual clock.
    fn set_now(&self, now: u64);

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

fn session_draft(ip: IpAddr, now: u64) -> SessionDraft {
    let mut id = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    SessionDraft {
        id_hash: Sha256::digest(id).into(),
        created_at: now,
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

// ---- in process ------------------------------------------------------------------------

/// The driver called directly.
pub struct InProcess {
    sqrl: SqrlServer,
    now: AtomicU64,
    runtime: tokio::runtime::Runtime,
}

impl Transport for InProcess {
    const OVER_HTTP: bool = false;

    fn new(mut setup: Setup) -> Self {
        Self {
            sqrl: driver(&mut setup, || Arc::new(MemoryStore::new())),
            now: AtomicU64::new(T0),
            runtime: runtime(),
        }
    }

    fn sqrl(&self) -> &SqrlServer {
        &self.sqrl
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    fn start_for(&self, browser_ip: IpAddr, user_agent: &str) -> Page {
        let now = self.now();
        let flow = self
            .sqrl
            .server()
            .start_flow(browser_ip, user_agent, now, &mut OsRng);
        Page {
            nut: flow.nut,
            url: flow.url,
            flow: flow.flow,
            issued_at: now,
            secret: flow.browser_secret,
        }
    }

    fn post_raw(&self, query: &str, body: &[u8], client_ip: IpAddr) -> Posted {
        let incoming = Incoming {
            query,
            body,
            client_ip,
            now: self.now(),
        };
        let response = self.block_on(self.sqrl.handle(&incoming, &mut OsRng));
        Posted {
            status: 200,
            body: response.body,
        }
    }

    fn status(&self, page: &Page) -> Result<Status, Denied> {
        self.block_on(
            self.sqrl
                .status(&page.flow, &page.secret, page.issued_at, self.now()),
        )
        .map_err(Denied::from)
    }

    fn redeem(&self, page: &Page) -> Result<AccountId, Denied> {
        let now = self.now();
        self.block_on(self.sqrl.redeem(
            &page.flow,
            page.issued_at,
            &page.secret,
            now,
            session_draft(browser_ip(), now),
        ))
        .map_err(Denied::from)
    }

    fn open_cps(&self, link: &str) -> Option<AccountId> {
        let token = link.split_once("token=")?.1;
        let now = self.now();
        self.block_on(
            self.sqrl
                .redeem_cps(token, now, session_draft(browser_ip(), now)),
        )
        .ok()
    }
}

// ---- over HTTP -------------------------------------------------------------------------

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The whole `Set-Cookie` header for cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value `Set-Cookie` gives cookie `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let set = self.set_cookie(name)?;
        let pair = set.split(';').next()?;
        Some(pair.split_once('=')?.1.to_owned())
    }
}

/// The router, driven with `oneshot`.
pub struct OverHttp {
    pub http: SqrlHttp,
    router: axum::Router,
    clock_ms: Arc<AtomicU64>,
    runtime: tokio::runtime::Runtime,
    /// Every login the `on_login` hook saw.
    pub logins: Arc<Mutex<Vec<LoginEvent>>>,
}

/// The app's user for an account, as the `map_user` hook says.
pub fn user_of(account: &AccountId) -> String {
    format!("user-{}", &account.to_hex()[..6])
}

impl OverHttp {
    /// A request to the router with the browser's user agent and, if given, a `Cookie`.
    pub fn request(method: &str, path: &str, cookie: Option<&str>, body: Vec<u8>) -> Request<Body> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::USER_AGENT, FIREFOX);
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(Body::from(body)).unwrap()
    }

    /// Sends a request as coming from `client_ip`; the response with its body unread (for
    /// streams).
    pub fn send(
        &self,
        mut request: Request<Body>,
        client_ip: IpAddr,
    ) -> impl Future<Output = axum::response::Response> + Send + 'static {
        request
            .extensions_mut()
            .insert(MockConnectInfo(SocketAddr::new(client_ip, 40_000)));
        let router = self.router.clone();
        async move { router.oneshot(request).await.unwrap() }
    }

    /// Runs a future in the background on the transport's runtime.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(future)
    }

    /// Sends a request and reads the whole response.
    pub fn call(&self, request: Request<Body>, client_ip: IpAddr) -> Reply {
        let response = self.send(request, client_ip);
        self.block_on(async move { read(response.await).await })
    }

    /// `method path` from the browser at [`BROWSER_IP`] with an optional cookie header.
    pub fn browse(&self, method: &str, path: &str, cookie: Option<&str>) -> Reply {
        self.call(
            Self::request(method, path, cookie, Vec::new()),
            browser_ip(),
        )
    }

    /// The session a `Cookie` header value signs in, as the app sees it.
    pub fn signed_in(&self, cookie: &str) -> Option<sqrl_axum::SignedIn> {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        self.block_on(self.http.signed_in(&headers)).unwrap()
    }

    /// The `Cookie` header of a page's flow cookie.
    pub fn flow_cookie(page: &Page) -> String {
        format!("sqrl_flow={}", page.cookie())
    }

    fn session_account(&self, reply: &Reply) -> Option<AccountId> {
        let name = self.http.session_cookie_name();
        let value = reply.cookie_value(name)?;
        Some(self.signed_in(&format!("{name}={value}"))?.account)
    }
}

/// Reads a response whole.
pub async fn read(response: axum::response::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// The page's status as the JSON of `/sqrl/poll` or `/sqrl/events` names it (`status` and,
/// if present, `detail`); its `"final": true` is there exactly when the status is final.
pub fn status_of(json: &serde_json::Value) -> Status {
    let name = json["status"].as_str().unwrap();
    let detail = json.get("detail").map(|d| d.as_str().unwrap());
    let status = Status::from_parts(name, detail)
        .unwrap_or_else(|| panic!("unknown status {name} with detail {detail:?}"));
    assert_eq!(
        json.get("final") == Some(&serde_json::Value::Bool(true)),
        status.is_final(),
        "{json}"
    );
    status
}

impl Transport for OverHttp {
    const OVER_HTTP: bool = true;

    fn new(mut setup: Setup) -> Self {
        let sqrl = driver(&mut setup, || Arc::new(SqliteStore::in_memory().unwrap()));
        let clock_ms = Arc::new(AtomicU64::new(T0 * 1000));
        let clock = Arc::clone(&clock_ms);
        let logins = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&logins);
        let http = SqrlHttp::builder(sqrl)
            .settings(setup.settings)
            .on_login(move |e| seen.lock().unwrap().push(e.clone()))
            .map_user(|account| Some(user_of(account)))
            .clock(move || clock.load(Ordering::SeqCst))
            .build();
        Self {
            router: http.router(),
            http,
            clock_ms,
            runtime: runtime(),
            logins,
        }
    }

    fn sqrl(&self) -> &SqrlServer {
        self.http.sqrl()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn now(&self) -> u64 {
        self.clock_ms.load(Ordering::SeqCst) / 1000
    }

    fn set_now(&self, now: u64) {
        self.clock_ms.store(now * 1000, Ordering::SeqCst);
    }

    fn start_for(&self, browser_ip: IpAddr, user_agent: &str) -> Page {
        let mut request = Self::request("POST", "/sqrl/new", None, Vec::new());
        request.headers_mut().insert(
            header::USER_AGENT,
            HeaderValue::from_str(user_agent).unwrap(),
        );
        let reply = self.call(request, browser_ip);
        assert_eq!(reply.status, 200, "{}", reply.text());
        let url = reply.json()["url"].as_str().unwrap().to_owned();
        Page::from_cookie(&url, &reply.cookie_value("sqrl_flow").unwrap())
    }

    fn post_raw(&self, query: &str, body: &[u8], client_ip: IpAddr) -> Posted {
        let path = if query.is_empty() {
            "/sqrl".to_owned()
        } else {
            format!("/sqrl?{query}")
        };
        let mut request = Self::request("POST", &path, None, body.to_vec());
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let reply = self.call(request, client_ip);
        Posted {
            status: reply.status,
            body: reply.text(),
        }
    }

    fn status(&self, page: &Page) -> Result<Status, Denied> {
        let reply = self.browse("GET", "/sqrl/poll?last=", Some(&Self::flow_cookie(page)));
        match reply.status {
            200 => Ok(status_of(&reply.json())),
            401 => Err(Denied::Unknown),
            503 => Err(Denied::Unavailable),
            other => Err(Denied::Http(other)),
        }
    }

    fn redeem(&self, page: &Page) -> Result<AccountId, Denied> {
        let reply = self.browse("POST", "/sqrl/redeem", Some(&Self::flow_cookie(page)));
        match reply.status {
            200 => Ok(self
                .session_account(&reply)
                .expect("a redeemed login signs the browser in")),
            403 => Err(Denied::Unknown),
            409 if reply.text().contains("expired") => Err(Denied::Flow(FlowError::Expired)),
            409 => Err(Denied::Flow(FlowError::WrongState)),
            503 => Err(Denied::Unavailable),
            other => Err(Denied::Http(other)),
        }
    }

    fn open_cps(&self, link: &str) -> Option<AccountId> {
        let path = link.strip_prefix("https://example.com").unwrap();
        let reply = self.browse("GET", path, None);
        match reply.status {
            303 => Some(
                self.session_account(&reply)
                    .expect("a CPS link signs the browser in"),
            ),
            403 => None,
            other => panic!("CPS link answered {other}: {}", reply.text()),
        }
    }
}

// ---- the phone -------------------------------------------------------------------------

pub fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

/// An identity's keys (no previous identities).
pub fn keys(iuk: &Iuk) -> Keys {
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

/// The identity's public key for [`HOST`].
pub fn idk_of(imk: &Imk) -> Bytes32 {
    imk.site_key(HOST, "").public_key()
}

/// Drives the real client's exchange over `t`, every request from `phone_ip`.
pub fn drive<T: Transport>(
    t: &T,
    url: &str,
    keys: &Keys,
    action: Action,
    config: ClientConfig,
    phone_ip: IpAddr,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, sqrl_client::Error> {
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        action,
        keys,
        config,
        Rlk::generate(&mut OsRng),
    )?;
    let send = |request: &sqrl_client::exchange::Request| {
        Ok(t.post(query_of(&request.url), request.body.as_bytes(), phone_ip))
    };
    exchange.drive(first, send, decide)
}

/// `action` with the real client on a new code, phone and browser on one network,
/// answering any question with the first button.
pub fn act<T: Transport>(
    t: &T,
    keys: &Keys,
    action: Action,
) -> (Page, Result<Outcome, sqrl_client::Error>) {
    let page = t.start();
    let outcome = drive(
        t,
        &page.url,
        keys,
        action,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Button(Button::First),
    );
    (page, outcome)
}

/// A login with the real client on a new code (see [`act`]).
pub fn log_in<T: Transport>(t: &T, keys: &Keys) -> (Page, Outcome) {
    let (page, outcome) = act(t, keys, Action::Login);
    (page, outcome.unwrap())
}

/// A phone driven by hand: it signs whatever it is told to, as a faithful or a hostile client.
#[derive(Clone)]
pub struct Phone {
    pub site: SiteKey,
    /// The query string of the next request (`nut=…`).
    pub query: String,
    /// What the next request echoes as `server`.
    pub server_text: String,
    /// Where the requests come from.
    pub ip: IpAddr,
}

impl Phone {
    /// The identity `imk` scans `page`'s code, from the browser's network.
    pub fn scan(page: &Page, imk: &Imk) -> Self {
        Self {
            site: imk.site_key(HOST, ""),
            query: page.query(),
            server_text: b64::encode(&page.url),
            ip: browser_ip(),
        }
    }

    /// A new code from `t`, scanned by `imk`.
    pub fn new<T: Transport>(t: &T, imk: &Imk) -> Self {
        Self::scan(&t.start(), imk)
    }

    /// The parameters of `command`; an `ident` carries new unlock keys and `btn=1`.
    pub fn params(&self, command: Command) -> ClientParams {
        let mut p = ClientParams::new(command, self.site.public_key());
        if p.command == Command::Ident {
            let suk = Bytes32([5; 32]);
            p.suk = Some(suk);
            p.vuk = Some(
                Iuk::from_bytes([6; 32])
                    .unlock_request_signing_key(&suk)
                    .verify_key(),
            );
            p.btn = Some(Button::First);
        }
        p
    }

    /// A body signed by this identity, echoing `server_text`.
    pub fn body(&self, params: &ClientParams) -> String {
        let client = params.encode().unwrap();
        let ids = self.site.sign(&signing_input(&client, &self.server_text));
        RequestBody::new(client, self.server_text.clone(), &ids, None, None).encode()
    }

    /// Sends a body: the reply text.
    pub fn send<T: Transport>(&self, t: &T, body: &str) -> String {
        t.post(&self.query, body.as_bytes(), self.ip)
    }

    /// Sends a body: the reply.
    pub fn reply<T: Transport>(&self, t: &T, body: &str) -> ServerParams {
        ServerParams::decode(&self.send(t, body)).unwrap()
    }

    /// Sends a body: the reply's TIF.
    pub fn tif<T: Transport>(&self, t: &T, body: &str) -> u32 {
        self.reply(t, body).tif.bits()
    }

    /// Continues from `reply` like a client: echo it, use its `qry`.
    pub fn follow(&mut self, reply: &str) {
        let parsed = ServerParams::decode(reply).unwrap();
        self.server_text = reply.to_owned();
        self.query = query_of(&parsed.qry).to_owned();
    }

    /// Sends `params` and follows a successful reply: the TIF and the body sent.
    pub fn step_with<T: Transport>(&mut self, t: &T, params: &ClientParams) -> (u32, String) {
        let body = self.body(params);
        let reply = self.send(t, &body);
        let tif = ServerParams::decode(&reply).unwrap().tif;
        if !tif.contains(Tif::COMMAND_FAILED) {
            self.follow(&reply);
        }
        (tif.bits(), body)
    }

    /// Sends `command` with default parameters and follows a successful reply.
    pub fn step<T: Transport>(&mut self, t: &T, command: Command) -> (u32, String) {
        let params = self.params(command);
        self.step_with(t, &params)
    }
}

// ---- a store that fails on demand -------------------------------------------------------

/// A `MemoryStore` that fails where a test says: session deletion (a database that went
/// away), or commits (a lost race, a failed backend).
#[derive(Debug, Default)]
pub struct Faulty {
    inner: MemoryStore,
    fail_delete: bool,
    fail_commit: Mutex<Option<StoreError>>,
}

impl Faulty {
    /// Every session deletion fails with a backend error.
    pub fn failing_delete() -> Self {
        Self {
            fail_delete: true,
            ..Self::default()
        }
    }

    /// Every commit fails with `error` from now on (`None`: commits work again).
    pub fn fail_commits(&self, error: Option<StoreError>) {
        *self.fail_commit.lock().unwrap() = error;
    }
}

#[async_trait]
impl FlowStore for Faulty {
    async fn flow(&self, id: &FlowId) -> Result<Option<Flow>, StoreError> {
        self.inner.flow(id).await
    }
    async fn put_flow(&self, flow: &Flow, expected: Option<u64>) -> Result<(), StoreError> {
        self.inner.put_flow(flow, expected).await
    }
    async fn purge_flows(&self, before: u64) -> Result<usize, StoreError> {
        self.inner.purge_flows(before).await
    }
}

#[async_trait]
impl AccountStore for Faulty {
    async fn accounts(
        &self,
        idk: &Bytes32,
        pidk: Option<&Bytes32>,
    ) -> Result<Accounts, StoreError> {
        self.inner.accounts(idk, pidk).await
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.inner.account(id).await
    }
    async fn apply(
        &self,
        change: &AccountChange,
        guards: &[sqrl_server::AccountGuard],
    ) -> Result<(), StoreError> {
        self.inner.apply(change, guards).await
    }
    async fn site_key(
        &self,
        name: &str,
        candidate: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.inner.site_key(name, candidate).await
    }
}

#[async_trait]
impl SessionStore for Faulty {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }
    async fn session(&self, id_hash: &[u8; 32]) -> Result<Option<Session>, StoreError> {
        self.inner.session(id_hash).await
    }
    async fn sessions_of(&self, account: &AccountId) -> Result<Vec<Session>, StoreError> {
        self.inner.sessions_of(account).await
    }
    async fn delete_session(
        &self,
        account: &AccountId,
        id_hash: &[u8; 32],
    ) -> Result<bool, StoreError> {
        if self.fail_delete {
            return Err(StoreError::Backend("disk on fire".into()));
        }
        self.inner.delete_session(account, id_hash).await
    }
    async fn display_name(&self, account: &AccountId) -> Result<String, StoreError> {
        self.inner.display_name(account).await
    }
    async fn set_display_name(&self, account: &AccountId, name: &str) -> Result<(), StoreError> {
        self.inner.set_display_name(account, name).await
    }
}

#[async_trait]
impl Store for Faulty {
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let failure = self.fail_commit.lock().unwrap().clone();
        match failure {
            Some(error) => Err(error),
            None => self.inner.commit(commit).await,
        }
    }
    async fn redeem(&self, redeem: &RedeemCommit) -> Result<(), StoreError> {
        Store::redeem(&self.inner, redeem).await
    }
}

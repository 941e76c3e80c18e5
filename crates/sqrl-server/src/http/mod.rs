//! SQRL over HTTP with axum, ready to mount into any `Router`.
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
//!
//! ```no_run
//! use sqrl_server::http::SqrlHttp;
//! use sqrl_server::{Config, SqliteStore, SqrlService};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SqliteStore::open("site.sqlite")?;
//! let service = SqrlService::new(Config::new("example.com"), &[1; 32], &[2; 32], store);
//! let sqrl = SqrlHttp::builder(service)
//!     .on_login(|event| println!("{} logged in from {}", event.idk, event.ip))
//!     .build();
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .merge(sqrl.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```

mod handlers;
pub mod limits;
pub mod qr;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, HeaderValue};
use axum::Router;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqrl_proto::{b64, Bytes32};
use tokio::sync::{broadcast, Semaphore};

use crate::nut::FlowId;
use crate::service::{NewFlow, SqrlService};
use crate::store::{Session, SessionStore, Store, StoreError};
use crate::useragent::BrowserInfo;
use limits::RateLimit;

/// Seconds since the Unix epoch: the one clock of the HTTP layer.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A login, as reported to the `on_login` hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEvent {
    /// The account (its identity key).
    pub idk: Bytes32,
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
    /// The account.
    pub idk: Bytes32,
    /// The app's user for it.
    pub user: Option<String>,
    /// The session.
    pub session: Session,
}

type LoginHook = Arc<dyn Fn(&LoginEvent) + Send + Sync>;
type UserHook = Arc<dyn Fn(&Bytes32) -> Option<String> + Send + Sync>;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Cookies get `Secure` and the session cookie the `__Host-` prefix (serve over HTTPS).
    pub secure_cookies: bool,
    /// Where the browser goes after logging in.
    pub after_login: String,
    /// Where a failed CPS link sends the browser.
    pub login_page: String,
    /// Take the client IP from the first `X-Forwarded-For` value (only behind your own proxy).
    pub trust_forwarded_for: bool,
    /// Login codes per IP: burst and per second.
    pub mint_limit: (u32, f64),
    /// Status polls per IP: burst and per second.
    pub poll_limit: (u32, f64),
    /// Most status streams open at once.
    pub max_streams: usize,
    /// The reconnect interval the server dictates to `EventSource` and long-poll clients.
    pub retry: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            after_login: "/account".into(),
            login_page: "/".into(),
            trust_forwarded_for: false,
            mint_limit: (30, 1.0),
            poll_limit: (120, 4.0),
            max_streams: 10_000,
            retry: Duration::from_secs(2),
        }
    }
}

pub(crate) struct Inner<S> {
    pub(crate) service: SqrlService<S>,
    pub(crate) settings: HttpSettings,
    pub(crate) on_login: Option<LoginHook>,
    pub(crate) map_user: Option<UserHook>,
    pub(crate) changes: broadcast::Sender<FlowId>,
    pub(crate) streams: Arc<Semaphore>,
    pub(crate) mint_limit: RateLimit,
    pub(crate) poll_limit: RateLimit,
}

/// The SQRL HTTP layer: cheap to clone, shared by all handlers.
pub struct SqrlHttp<S> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S> Clone for SqrlHttp<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> core::fmt::Debug for SqrlHttp<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqrlHttp")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Builds a [`SqrlHttp`].
pub struct Builder<S> {
    service: SqrlService<S>,
    settings: HttpSettings,
    on_login: Option<LoginHook>,
    map_user: Option<UserHook>,
}

impl<S> core::fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S: Store + SessionStore + 'static> Builder<S> {
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

    /// Maps an identity key to the app's user (for example a user id in its own tables).
    pub fn map_user(
        mut self,
        hook: impl Fn(&Bytes32) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.map_user = Some(Arc::new(hook));
        self
    }

    /// The layer.
    pub fn build(self) -> SqrlHttp<S> {
        let (changes, _) = broadcast::channel(1024);
        let settings = self.settings;
        SqrlHttp {
            inner: Arc::new(Inner {
                service: self.service,
                changes,
                streams: Arc::new(Semaphore::new(settings.max_streams)),
                mint_limit: RateLimit::new(settings.mint_limit.0, settings.mint_limit.1),
                poll_limit: RateLimit::new(settings.poll_limit.0, settings.poll_limit.1),
                on_login: self.on_login,
                map_user: self.map_user,
                settings,
            }),
        }
    }
}

/// A new login code, ready for a page.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The flow, its `sqrl://` URL and browser secret.
    pub flow: NewFlow,
    /// The same-device link (the URL with `can=` back to the login page).
    pub link: String,
    /// The QR code as SVG markup.
    pub svg: String,
    /// The `Set-Cookie` value that gives this browser its flow secret.
    pub cookie: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
}

pub(crate) const FLOW_COOKIE: &str = "sqrl_flow";

impl<S: Store + SessionStore + 'static> SqrlHttp<S> {
    /// Starts building the layer around a service.
    pub fn builder(service: SqrlService<S>) -> Builder<S> {
        Builder {
            service,
            settings: HttpSettings::default(),
            on_login: None,
            map_user: None,
        }
    }

    /// The service.
    pub fn service(&self) -> &SqrlService<S> {
        &self.inner.service
    }

    /// The routes, with this layer as their state; merge them into the app's router.
    pub fn router<T>(&self) -> Router<T> {
        handlers::routes(self.clone())
    }

    /// The client IP of a request.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.inner.settings.trust_forwarded_for {
            let forwarded = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        peer.ip()
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
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

    /// A new login code for the browser at `ip` (rate-limited per IP: `None` when over).
    pub fn begin(&self, ip: IpAddr, user_agent: &str) -> Option<Begun> {
        if !self.inner.mint_limit.allow(ip, std::time::Instant::now()) {
            return None;
        }
        let now = unix_now();
        let service = &self.inner.service;
        let flow = service.start_flow(ip, user_agent, now, &mut OsRng);
        let cancel = format!(
            "{}{}",
            service.config().origin,
            self.inner.settings.login_page
        );
        let life = service.config().lifetimes;
        let value = format!("{}.{now}.{}", flow.flow.encode(), flow.browser_secret);
        Some(Begun {
            link: service.link_with_cancel(&flow.url, &cancel),
            svg: qr::svg(&flow.url)?,
            cookie: self.cookie(FLOW_COOKIE, &value, life.nut + life.redeem),
            expires_in: life.nut,
            flow,
        })
    }

    /// The session of a request, if it carries a valid session cookie.
    pub fn signed_in(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, StoreError> {
        let Some(id) = cookie_value(headers, self.session_cookie_name()) else {
            return Ok(None);
        };
        let hash: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        let Some(session) = self.inner.service.store().session(&hash)? else {
            return Ok(None);
        };
        Ok(Some(SignedIn {
            idk: session.idk,
            user: self.inner.map_user.as_ref().and_then(|f| f(&session.idk)),
            session,
        }))
    }

    /// Creates a fresh session for `idk` (never reusing anything from before the login) and
    /// returns its `Set-Cookie` value.
    pub(crate) fn start_session(
        &self,
        idk: Bytes32,
        ip: IpAddr,
        user_agent: &str,
        via_cps: bool,
    ) -> Result<String, StoreError> {
        let mut id = [0u8; 32];
        OsRng.fill_bytes(&mut id);
        let id = b64::encode(id);
        let browser = BrowserInfo::from_user_agent(user_agent).to_string();
        let session = Session {
            id_hash: Sha256::digest(id.as_bytes()).into(),
            idk,
            created_at: unix_now(),
            ip: ip.to_string(),
            browser: browser.clone(),
        };
        self.inner.service.store().create_session(&session)?;
        if let Some(hook) = &self.inner.on_login {
            hook(&LoginEvent {
                idk,
                user: self.inner.map_user.as_ref().and_then(|f| f(&idk)),
                ip,
                browser,
                via_cps,
            });
        }
        Ok(self.cookie(self.session_cookie_name(), &id, 30 * 24 * 3600))
    }

    /// `Set-Cookie` values that clear the session and flow cookies.
    pub fn clear_cookies(&self) -> [HeaderValue; 2] {
        [self.session_cookie_name(), FLOW_COOKIE].map(|name| {
            HeaderValue::from_str(&self.cookie(name, "", 0)).unwrap_or(HeaderValue::from_static(""))
        })
    }

    /// Ends the request's session.
    pub fn end_session(&self, headers: &HeaderMap) -> Result<(), StoreError> {
        if let Some(signed_in) = self.signed_in(headers)? {
            self.inner
                .service
                .store()
                .delete_session(&signed_in.idk, &signed_in.session.id_hash)?;
        }
        Ok(())
    }
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

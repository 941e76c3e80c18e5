//! The `sqrl-axum` router driven with `oneshot`, on an in-memory SQLite store.

use super::*;

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, whole.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the status and body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }

    /// A header's value, if present and text.
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
    /// The layer under test.
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
        let clock_ms = Arc::new(AtomicU64::new(at(T0).as_millis()));
        let clock = Arc::clone(&clock_ms);
        let logins = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&logins);
        let http = SqrlHttp::builder(sqrl)
            .settings(setup.settings)
            .on_login(move |e| seen.lock().unwrap().push(e.clone()))
            .map_user(|account| Some(user_of(account)))
            .clock(move || UnixTime::from_millis(clock.load(Ordering::SeqCst)))
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

    fn now(&self) -> UnixTime {
        UnixTime::from_millis(self.clock_ms.load(Ordering::SeqCst))
    }

    fn set_now(&self, now: UnixTime) {
        self.clock_ms.store(now.as_millis(), Ordering::SeqCst);
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

//! Forward-auth: SQRL login in front of applications with no login of their own, through the
//! reverse proxy that serves them.
//!
//! | route | for | answer |
//! |---|---|---|
//! | `GET /auth/check` | nginx `auth_request` | `200` with `Remote-User` (the account id) and `Remote-Name` (its display name, when it has a plain-ASCII one), or `401` |
//! | `GET /auth/forward` | Caddy `forward_auth`, Traefik `ForwardAuth` | the same `200`, or `302` to the login page with the return URL rebuilt from `X-Forwarded-Proto`/`-Host`/`-Uri` |
//! | `GET /auth/login?rd=URL` | the browser | the SQRL login page; afterwards back to `URL` |
//! | `GET /auth/logout?rd=URL` | the browser | asks, then (`POST` from this page) logs out and goes to `URL` |
//!
//! The two check routes answer only connections from [`ForwardAuthSettings::proxies`]
//! (loopback by default): they tell who a cookie belongs to. Return URLs must be on one of
//! [`ForwardAuthSettings::domains`] (or a host under one): never an open redirect. Each
//! check is one session lookup, no signature: a revoked session is refused at the next
//! request.
//!
//! The protected apps never see the site's own session cookie (`__Host-`, this host only):
//! after a login, forward-auth gives the browser a session of its own, in the cookie
//! `sqrl_forward_auth` (`__Secure-` over HTTPS) for [`ForwardAuthSettings::cookie_domain`]
//! (apps on sibling hosts) or this host. The proxies pass that cookie to the apps, so an app
//! could act as the user at the other protected apps, but never at the login site itself nor
//! at the OpenID Connect provider. It is listed with the account's sessions and ended by
//! `/auth/logout` (with the site's own session).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::oidc::pages::{self, Form, LoginPage, MessagePage};
use sqrl_server::{Session, StoreError};

use crate::{cookie_value, SignedIn, SqrlHttp};

/// The check route for nginx `auth_request`.
pub const CHECK_PATH: &str = "/auth/check";
/// The check route for Caddy `forward_auth` and Traefik `ForwardAuth`.
pub const FORWARD_PATH: &str = "/auth/forward";
/// The login page.
pub const LOGIN_PATH: &str = "/auth/login";
/// Where the login page returns.
const RETURN_PATH: &str = "/auth/return";
/// Logout.
pub const LOGOUT_PATH: &str = "/auth/logout";

/// An IP network (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl core::str::FromStr for Network {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl Network {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(u32::from(n)), u128::from(u32::from(i)), 32u32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128u32),
            _ => return false,
        };
        let host_bits = bits.saturating_sub(u32::from(self.prefix));
        let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
        (net & mask) == (ip & mask)
    }
}

/// Where forward-auth may send browsers back to, and who may ask it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthSettings {
    /// Domains whose hosts (the domain and any host under it) may be returned to.
    pub domains: Vec<String>,
    /// Networks the reverse proxies connect from (default: loopback).
    pub proxies: Vec<Network>,
    /// The forward-auth cookie's `Domain` (a parent of the apps' hosts); `None`: this host.
    pub cookie_domain: Option<String>,
}

impl Default for ForwardAuthSettings {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            proxies: vec![
                Network {
                    addr: IpAddr::from([127, 0, 0, 1]),
                    prefix: 8,
                },
                Network {
                    addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                    prefix: 128,
                },
            ],
            cookie_domain: None,
        }
    }
}

/// The forward-auth routes over a SQRL layer.
#[derive(Debug, Clone)]
pub struct ForwardAuth {
    http: SqrlHttp,
    settings: ForwardAuthSettings,
}

impl ForwardAuth {
    /// Forward-auth for the apps on `settings.domains`.
    pub fn new(http: SqrlHttp, settings: ForwardAuthSettings) -> Self {
        Self { http, settings }
    }

    /// The routes.
    pub fn router<T>(&self) -> Router<T> {
        Router::new()
            .route(CHECK_PATH, get(check))
            .route(FORWARD_PATH, get(forward))
            .route(LOGIN_PATH, get(login))
            .route(RETURN_PATH, get(login))
            .route(LOGOUT_PATH, get(logout).post(logout))
            .with_state(self.clone())
    }

    /// `url` if it is on an allowed domain (`https`, or `http` when the site itself runs on
    /// plain HTTP, for tests and loopback).
    pub fn allowed_return(&self, url: &str) -> Option<String> {
        let parsed = url::Url::parse(url).ok()?;
        let scheme_ok = match parsed.scheme() {
            "https" => true,
            "http" => !self.http.settings().secure_cookies,
            _ => false,
        };
        if !scheme_ok || !parsed.username().is_empty() || parsed.password().is_some() {
            return None;
        }
        let host = parsed
            .host_str()?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let allowed = self.settings.domains.iter().any(|d| {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            host == d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        allowed.then(|| parsed.into())
    }

    fn is_proxy(&self, peer: SocketAddr) -> bool {
        self.settings.proxies.iter().any(|n| n.contains(peer.ip()))
    }

    /// The forward-auth cookie's name.
    fn cookie_name(&self) -> &'static str {
        if self.http.settings().secure_cookies {
            "__Secure-sqrl_forward_auth"
        } else {
            "sqrl_forward_auth"
        }
    }

    /// A `Set-Cookie` value for the forward-auth cookie.
    fn cookie(&self, value: &str, max_age: u64) -> Option<HeaderValue> {
        let cookie = self.http.cookie(self.cookie_name(), value, max_age);
        let cookie = match &self.settings.cookie_domain {
            Some(domain) => format!("{cookie}; Domain={domain}"),
            None => cookie,
        };
        HeaderValue::from_str(&cookie).ok()
    }

    /// The forward-auth session of a request.
    async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
        let Some(id) = cookie_value(headers, self.cookie_name()) else {
            return Ok(None);
        };
        self.http.store().session(&sqrl_oidc::hash(&id)).await
    }

    /// The identity headers of a request with a forward-auth session, or `None`; `Err` when
    /// the store failed. Both headers are always set (empty when there is no name), so a
    /// value a client sent can never pass through a proxy that copies them.
    async fn identity(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<[(HeaderName, HeaderValue); 2]>, Response> {
        let session = match self.session(headers).await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(None),
            Err(e) => return Err(pages::unavailable_page(&e)),
        };
        let user = self
            .http
            .user_of(&session.account)
            .unwrap_or_else(|| session.account.to_hex());
        let name = match self.http.store().display_name(&session.account).await {
            Ok(name) => name,
            Err(e) => return Err(pages::unavailable_page(&e)),
        };
        Ok(Some([
            (HeaderName::from_static("remote-user"), header_text(&user)),
            (HeaderName::from_static("remote-name"), header_text(&name)),
        ]))
    }

    /// Gives a signed-in browser its forward-auth session (unless it has one for the same
    /// account).
    async fn handover(
        &self,
        signed_in: &SignedIn,
        headers: &HeaderMap,
        peer: SocketAddr,
    ) -> Result<Option<HeaderValue>, StoreError> {
        if let Some(existing) = self.session(headers).await? {
            if existing.account == signed_in.account {
                return Ok(None);
            }
        }
        let ip = self.http.client_ip(peer, headers);
        let agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (id, draft) = self.http.new_session(ip, agent);
        self.http
            .store()
            .create_session(&Session {
                id_hash: draft.id_hash,
                account: signed_in.account,
                created_at: draft.created_at,
                ip: draft.ip,
                browser: format!("{} (forward-auth)", draft.browser),
            })
            .await?;
        Ok(self.cookie(&id, 30 * 24 * 3600))
    }

    fn login_url(&self, rd: &str) -> String {
        let origin = &self.http.sqrl().server().config().origin;
        sqrl_oidc::with_query(&format!("{origin}{LOGIN_PATH}"), &[("rd", rd)])
    }
}

fn not_from_proxy() -> Response {
    (
        StatusCode::FORBIDDEN,
        "forward-auth answers only the configured proxies\n",
    )
        .into_response()
}

/// A header value for any text: printable ASCII as is, anything else percent-encoded (UTF-8).
fn header_text(text: &str) -> HeaderValue {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%');
    let value = if plain {
        text.to_owned()
    } else {
        text.bytes()
            .map(|b| {
                if (0x21..0x7f).contains(&b) && b != b'%' {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

fn with_identity(identity: [(HeaderName, HeaderValue); 2]) -> Response {
    let mut response = (StatusCode::OK, "").into_response();
    let headers = response.headers_mut();
    for (name, value) in identity {
        headers.insert(name, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn check(
    State(f): State<ForwardAuth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !f.is_proxy(peer) {
        return not_from_proxy();
    }
    match f.identity(&headers).await {
        Ok(Some(identity)) => with_identity(identity),
        Ok(None) => (StatusCode::UNAUTHORIZED, "").into_response(),
        Err(response) => response,
    }
}

async fn forward(
    State(f): State<ForwardAuth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !f.is_proxy(peer) {
        return not_from_proxy();
    }
    match f.identity(&headers).await {
        Ok(Some(identity)) => return with_identity(identity),
        Ok(None) => {}
        Err(response) => return response,
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let original = match (
        text("x-forwarded-proto"),
        text("x-forwarded-host"),
        text("x-forwarded-uri"),
    ) {
        (Some(proto), Some(host), uri) => {
            let uri = uri.filter(|u| u.starts_with('/')).unwrap_or("/");
            f.allowed_return(&format!("{proto}://{host}{uri}"))
        }
        _ => None,
    };
    match original {
        Some(rd) => {
            let mut response = (StatusCode::FOUND, "").into_response();
            if let Ok(location) = HeaderValue::from_str(&f.login_url(&rd)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        None => pages::message(
            StatusCode::FORBIDDEN,
            "Not a protected site",
            "This address is not one the login service protects.",
        ),
    }
}

#[derive(Deserialize)]
struct ReturnQuery {
    rd: Option<String>,
}

/// The login page (and the page it returns to): signed in, a forward-auth session and back
/// to `rd`; else the widget.
async fn login(
    State(f): State<ForwardAuth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<ReturnQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(rd) = q.rd.as_deref().and_then(|rd| f.allowed_return(rd)) else {
        return pages::message(
            StatusCode::BAD_REQUEST,
            "Nowhere to return to",
            "The address to return to after logging in is missing or not allowed.",
        );
    };
    match f.http.signed_in(&headers).await {
        Ok(Some(signed_in)) => {
            let cookie = match f.handover(&signed_in, &headers, peer).await {
                Ok(cookie) => cookie,
                Err(e) => return pages::unavailable_page(&e),
            };
            let mut response = pages::see_other(&rd);
            let set = response.headers_mut();
            set.extend(cookie.map(|c| (header::SET_COOKIE, c)));
            set.extend(f.http.clear_return().map(|c| (header::SET_COOKIE, c)));
            return response;
        }
        Ok(None) => {}
        Err(e) => return pages::unavailable_page(&e),
    }
    let resume = sqrl_oidc::with_query(&format!("http://x{RETURN_PATH}"), &[("rd", &rd)]);
    let resume = resume
        .strip_prefix("http://x")
        .unwrap_or(RETURN_PATH)
        .to_owned();
    let host = url::Url::parse(&rd)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let origin = &f.http.sqrl().server().config().origin;
    let provider = origin.split_once("://").map_or(origin.as_str(), |(_, h)| h);
    let widget = format!("{}/widget.js", f.http.path());
    let new_code = format!("{}/new", f.http.path());
    let mut response = pages::page(
        StatusCode::OK,
        &LoginPage {
            app: &host,
            provider,
            widget: &widget,
            resume: &resume,
            new_code: &new_code,
        },
    );
    if let Some(value) = f.http.set_return(&resume, 600) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Logout: a `GET` asks (a link must not log anyone out), a `POST` from this page does it.
async fn logout(
    State(f): State<ForwardAuth>,
    method: axum::http::Method,
    Query(q): Query<ReturnQuery>,
    headers: HeaderMap,
) -> Response {
    let rd = q.rd.as_deref().and_then(|rd| f.allowed_return(rd));
    let origin = &f.http.sqrl().server().config().origin;
    let own = f.http.same_origin(&headers);
    if method != axum::http::Method::POST || !own {
        let action = match &rd {
            Some(rd) => sqrl_oidc::with_query(&format!("{origin}{LOGOUT_PATH}"), &[("rd", rd)]),
            None => format!("{origin}{LOGOUT_PATH}"),
        };
        return pages::page(
            StatusCode::OK,
            &MessagePage {
                title: "Log out?".into(),
                message: "Log out of the sites this login protects?".into(),
                form: Some(Form {
                    action,
                    fields: Vec::new(),
                    button: "Log out".into(),
                }),
            },
        );
    }
    if let Err(e) = f.http.end_session(&headers).await {
        return pages::unavailable_page(&e);
    }
    match f.session(&headers).await {
        Ok(Some(session)) => {
            if let Err(e) = f
                .http
                .store()
                .delete_session(&session.account, &session.id_hash)
                .await
            {
                return pages::unavailable_page(&e);
            }
        }
        Ok(None) => {}
        Err(e) => return pages::unavailable_page(&e),
    }
    let mut response = match rd {
        Some(rd) => pages::see_other(&rd),
        None => pages::message(StatusCode::OK, "Logged out", "You are logged out."),
    };
    let set = response.headers_mut();
    for value in f.http.clear_cookies() {
        set.append(header::SET_COOKIE, value);
    }
    set.extend(f.cookie("", 0).map(|c| (header::SET_COOKIE, c)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net: Network = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one: Network = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("nope".parse::<Network>().is_err());
    }
}

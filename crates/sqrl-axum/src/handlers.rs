//! The HTTP handlers. Every failure is a status code and at most a short JSON or text body;
//! nothing an input can do reaches a 500.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{stream, StreamExt};
use rand_core::OsRng;
use serde::Deserialize;
use serde_json::json;
use sqrl_server::nut::Nut;
use sqrl_server::{BrowserError, FlowId, Incoming, Status, Subscription};

use super::{assets, cookie_value, qr, widget, SqrlHttp, FLOW_COOKIE};
use crate::streams::StreamCap;
use sqrl_proto::MAX_BODY_LEN;

pub(super) fn routes<T>(http: SqrlHttp) -> Router<T> {
    let path = http.inner.sqrl.server().config().path.clone();
    Router::new()
        .route(
            &path,
            post(sqrl_endpoint).layer(DefaultBodyLimit::max(MAX_BODY_LEN)),
        )
        .route(&format!("{path}/new"), post(new_flow))
        .route(&format!("{path}/qr.svg"), get(qr_svg))
        .route(&format!("{path}/qr.png"), get(qr_png))
        .route(&format!("{path}/events"), get(events))
        .route(&format!("{path}/poll"), get(poll))
        .route(&format!("{path}/redeem"), post(redeem))
        .route(&format!("{path}/cps"), get(cps))
        .route(&format!("{path}/logout"), post(logout))
        .route(&format!("{path}/widget.js"), get(widget_js))
        .layer(axum::middleware::map_response(api_headers))
        .with_state(http)
}

/// Headers every reply of these routes carries: no content sniffing, no referrer to other
/// sites, and (unless a route says otherwise, as the QR images and the script do) no caching
/// of what is per-browser and short-lived.
async fn api_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The status as the page's contract names it (`widget` docs). A status that adds to another
/// keeps that one's name and says more in [`status_detail`], so pages that do not know the
/// detail behave as before.
fn status_text(status: Status) -> &'static str {
    match status {
        Status::New => "new",
        Status::Scanned | Status::ScannedDisabled => "scanned",
        Status::Confirmed => "confirmed",
        Status::ConfirmedElsewhere => "confirmed-elsewhere",
        Status::Rejected => "rejected",
        Status::Expired => "expired",
        Status::Redeemed => "redeemed",
        Status::Disabled => "disabled",
        Status::Removed => "removed",
        Status::Failed => "failed",
    }
}

/// More about a live status: `disabled` with `scanned` when SQRL login is disabled for the
/// phone's identity here (it must re-enable it with the rescue code to log in).
fn status_detail(status: Status) -> Option<&'static str> {
    match status {
        Status::ScannedDisabled => Some("disabled"),
        _ => None,
    }
}

/// The JSON of a status for the page: `status`, `detail` when there is one, `expires_in`.
fn status_json(status: Status, expires_in: u64) -> serde_json::Value {
    let mut json = json!({ "status": status_text(status), "expires_in": expires_in });
    if let (Some(detail), Some(object)) = (status_detail(status), json.as_object_mut()) {
        object.insert("detail".into(), detail.into());
    }
    json
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(512)
        .collect()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `POST /sqrl`: the SQRL endpoint.
async fn sqrl_endpoint(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let query = query.unwrap_or_default();
    let incoming = Incoming {
        query: &query,
        body: &body,
        client_ip: ip,
        now: http.now(),
    };
    let response = http.inner.sqrl.handle(&incoming, &mut OsRng).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        response.body,
    )
        .into_response()
}

/// `POST /sqrl/new`: a login code for this browser.
async fn new_flow(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let Ok(begun) = http.begin(ip, &user_agent(&headers)).await else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login codes; wait a moment",
        );
    };
    let nut = &begun.flow.nut;
    let path = &http.inner.sqrl.server().config().path;
    let body = json!({
        "url": begun.flow.url,
        "link": begun.link,
        "svg": format!("{path}/qr.svg?nut={nut}"),
        "png": format!("{path}/qr.png?nut={nut}"),
        "expires_in": begun.expires_in,
        "retry_ms": u64::try_from(http.inner.settings.retry.as_millis()).unwrap_or(u64::MAX),
        "after_login": http.inner.settings.after_login,
    });
    let mut response = Json(body).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&begun.cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct NutQuery {
    nut: String,
}

/// The URL of a QR nut we minted (so the QR endpoints are not a general QR service).
fn qr_url(http: &SqrlHttp, nut: &str) -> Option<String> {
    let server = http.inner.sqrl.server();
    match server.open_nut(nut)? {
        Nut::Qr(_) => Some(server.url_for_nut(nut)),
        Nut::Reply(_) => None,
    }
}

async fn qr_svg(State(http): State<SqrlHttp>, Query(q): Query<NutQuery>) -> Response {
    match qr_url(&http, &q.nut).and_then(|url| qr::svg(&url)) {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn qr_png(State(http): State<SqrlHttp>, Query(q): Query<NutQuery>) -> Response {
    match qr_url(&http, &q.nut).and_then(|url| qr::png(&url)) {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            png,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The flow cookie: flow id, issue time, and the secret that authenticates both.
struct FlowCookie {
    flow: FlowId,
    issued_at: u64,
    secret: String,
}

fn flow_cookie(headers: &HeaderMap) -> Option<FlowCookie> {
    let value = cookie_value(headers, FLOW_COOKIE)?;
    let mut parts = value.split('.');
    Some(FlowCookie {
        flow: FlowId::decode(parts.next()?)?,
        issued_at: parts.next()?.parse().ok()?,
        secret: parts.next()?.to_owned(),
    })
}

/// The flow's status and seconds left, as the page sees it.
async fn current(http: &SqrlHttp, cookie: &FlowCookie) -> Result<(Status, u64), BrowserError> {
    let now = http.now();
    let status = http
        .inner
        .sqrl
        .status(&cookie.flow, &cookie.secret, cookie.issued_at, now)
        .await?;
    Ok((status, seconds_left(http, cookie, now)))
}

fn seconds_left(http: &SqrlHttp, cookie: &FlowCookie, now: u64) -> u64 {
    let life = http.inner.sqrl.server().config().lifetimes;
    cookie
        .issued_at
        .saturating_add(life.nut)
        .saturating_sub(now)
}

fn is_final(status: Status) -> bool {
    matches!(
        status,
        Status::Rejected
            | Status::Expired
            | Status::Redeemed
            | Status::ConfirmedElsewhere
            | Status::Disabled
            | Status::Removed
            | Status::Failed
    )
}

/// Checks the poll limit and the cookie; subscribes to the flow and reads its status.
async fn watch(
    http: &SqrlHttp,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(FlowCookie, Subscription, Status, u64), Response> {
    let ip = http.client_ip(peer, headers);
    if !http
        .inner
        .sqrl
        .allow(&http.inner.settings.poll_rule, ip, http.now_ms())
        .await
    {
        return Err(error(StatusCode::TOO_MANY_REQUESTS, "too many requests"));
    }
    let cookie = flow_cookie(headers)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "no login code in this browser"))?;
    // Subscribe first, then read: no change can fall between the two.
    let subscription = http.inner.sqrl.subscribe(cookie.flow);
    match current(http, &cookie).await {
        Ok((status, left)) => Ok((cookie, subscription, status, left)),
        Err(BrowserError::Store(_)) => Err(error(StatusCode::SERVICE_UNAVAILABLE, "try again")),
        Err(_) => Err(error(StatusCode::UNAUTHORIZED, "unknown login code")),
    }
}

/// Waits for the flow's next status: its event, or a re-read at the next deadline (the
/// code's expiry, or the fallback interval). `None` when the flow can no longer be read.
async fn next_status(
    http: &SqrlHttp,
    cookie: &FlowCookie,
    subscription: &mut Subscription,
    last: Status,
) -> Option<Status> {
    let life = http.inner.sqrl.server().config().lifetimes;
    let now_ms = http.now_ms();
    let expiry_ms = match last {
        Status::Confirmed => now_ms.saturating_add(life.redeem.saturating_mul(1000)),
        _ => cookie
            .issued_at
            .saturating_add(life.nut)
            .saturating_mul(1000),
    };
    let wait = Duration::from_millis(expiry_ms.saturating_sub(now_ms).saturating_add(50))
        .min(http.inner.settings.reread);
    tokio::select! {
        event = subscription.next() => match event {
            Some(status) => return Some(status),
            None => tokio::time::sleep(wait).await,
        },
        _ = tokio::time::sleep(wait) => {}
    }
    current(http, cookie).await.ok().map(|(status, _)| status)
}

/// Logs a stream cap that bit, at most once a second.
fn log_stream_cap(http: &SqrlHttp, cap: StreamCap, client: &str) {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = http.now_ms();
    let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
    if now.saturating_sub(last) >= 1000 {
        LAST.store(now, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(
            ?cap,
            client,
            open = http.inner.streams.total(),
            "status stream cap reached"
        );
    }
}

/// `GET /sqrl/events`: Server-Sent Events with the flow's status, until it is final.
async fn events(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let (cookie, subscription, first, _) = match watch(&http, peer, &headers).await {
        Ok(watched) => watched,
        Err(response) => return response,
    };
    // Caps per client and per flow, with headroom: a few clients holding many streams do
    // not shut out an honest browser (an overloaded site answers 503 to the greedy first).
    let client = http
        .inner
        .sqrl
        .prefixes()
        .key(http.client_ip(peer, &headers));
    let permit = match http.inner.streams.open(&client, cookie.flow) {
        Ok(permit) => permit,
        Err(cap) => {
            log_stream_cap(&http, cap, &client);
            let (status, message) = match cap {
                StreamCap::Total => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many open status streams",
                ),
                StreamCap::Client => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many open status streams from this address",
                ),
                StreamCap::Flow => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "this login is watched too often",
                ),
            };
            return error(status, message);
        }
    };
    let retry = http.inner.settings.retry;
    struct Watch {
        http: SqrlHttp,
        cookie: FlowCookie,
        subscription: Subscription,
        next: Option<Status>,
        last: Option<Status>,
        _permit: crate::streams::StreamPermit,
    }
    let state = Watch {
        http,
        cookie,
        subscription,
        next: Some(first),
        last: None,
        _permit: permit,
    };
    let stream = stream::unfold(state, move |mut w| async move {
        loop {
            if w.last.is_some_and(is_final) {
                return None;
            }
            let status = match w.next.take() {
                Some(status) => status,
                None => {
                    let last = w.last.unwrap_or(Status::New);
                    next_status(&w.http, &w.cookie, &mut w.subscription, last).await?
                }
            };
            if Some(status) != w.last {
                let left = seconds_left(&w.http, &w.cookie, w.http.now());
                let data = status_json(status, left).to_string();
                let event = Event::default().event("status").data(data).retry(retry);
                w.last = Some(status);
                return Some((Ok::<_, Infallible>(event), w));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Deserialize)]
struct PollQuery {
    last: Option<String>,
    /// The detail the page last saw (empty: none). Absent: the page does not know details,
    /// and a change of detail alone does not answer its poll.
    detail: Option<String>,
}

impl PollQuery {
    /// The page already shows `status`.
    fn shows(&self, status: Status) -> bool {
        self.last.as_deref() == Some(status_text(status))
            && self
                .detail
                .as_deref()
                .is_none_or(|d| d == status_detail(status).unwrap_or_default())
    }
}

/// `GET /sqrl/poll?last=…[&detail=…]`: answers when the status (or, if the page names one,
/// the detail) differs from what the page shows, or after 25 s.
async fn poll(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> Response {
    let (cookie, mut subscription, mut status, _) = match watch(&http, peer, &headers).await {
        Ok(watched) => watched,
        Err(response) => return response,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    while q.shows(status) && !is_final(status) {
        let next = tokio::time::timeout_at(
            deadline,
            next_status(&http, &cookie, &mut subscription, status),
        )
        .await;
        match next {
            Ok(Some(next)) => status = next,
            Ok(None) => return error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
            Err(_) => break,
        }
    }
    let retry_ms = u64::try_from(http.inner.settings.retry.as_millis()).unwrap_or(u64::MAX);
    let left = seconds_left(&http, &cookie, http.now());
    let mut body = status_json(status, left);
    if let Some(object) = body.as_object_mut() {
        object.insert("retry_ms".into(), retry_ms.into());
    }
    Json(body).into_response()
}

/// `POST /sqrl/redeem`: the browser with the flow secret gets its session.
async fn redeem(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(cookie) = flow_cookie(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "no login code in this browser");
    };
    let ip = http.client_ip(peer, &headers);
    let (id, draft) = http.new_session(ip, &user_agent(&headers));
    let result = http
        .inner
        .sqrl
        .redeem(
            &cookie.flow,
            cookie.issued_at,
            &cookie.secret,
            http.now(),
            draft.clone(),
        )
        .await;
    match result {
        Ok(account) => {
            let session_cookie = http.logged_in(account, &id, &draft, ip, false);
            let mut response =
                Json(json!({ "redirect": http.inner.settings.after_login })).into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&session_cookie) {
                headers.append(header::SET_COOKIE, value);
            }
            if let Some(clear) = http.clear_cookies().into_iter().nth(1) {
                headers.append(header::SET_COOKIE, clear);
            }
            response
        }
        Err(BrowserError::Unknown) => error(
            StatusCode::FORBIDDEN,
            "this browser did not start that login",
        ),
        Err(BrowserError::Flow(e)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(BrowserError::Store(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

/// `GET /sqrl/cps?token=…`: a client's CPS link logs in the browser that opens it, once.
async fn cps(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let (id, draft) = http.new_session(ip, &user_agent(&headers));
    let result = http
        .inner
        .sqrl
        .redeem_cps(&q.token, http.now(), draft.clone())
        .await;
    match result {
        Ok(account) => {
            let session_cookie = http.logged_in(account, &id, &draft, ip, true);
            let mut response = Redirect::to(&http.inner.settings.after_login).into_response();
            if let Ok(value) = HeaderValue::from_str(&session_cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(_) => {
            let page = format!(
                "<!doctype html><meta charset=utf-8><title>Login link used</title>\
                 <p>This login link was already used or has expired. <a href=\"{}\">Log in again</a>.</p>",
                http.inner.settings.login_page
            );
            (
                StatusCode::FORBIDDEN,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        widget::CONTENT_SECURITY_POLICY,
                    ),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::REFERRER_POLICY, "no-referrer"),
                ],
                page,
            )
                .into_response()
        }
    }
}

/// `POST /sqrl/logout`: ends the session; a store failure is reported, not hidden.
async fn logout(State(http): State<SqrlHttp>, headers: HeaderMap) -> Response {
    if let Err(e) = http.end_session(&headers).await {
        tracing::error!(error = %e, "logout failed");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "could not log out; try again",
        );
    }
    let mut response = Redirect::to(&http.inner.settings.login_page).into_response();
    for value in http.clear_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct VersionQuery {
    v: Option<String>,
}

/// `GET /sqrl/widget.js`: the login widget (cached for a year under its versioned URL).
async fn widget_js(Query(q): Query<VersionQuery>, headers: HeaderMap) -> Response {
    assets::WIDGET_JS.serve(q.v.as_deref(), &headers)
}

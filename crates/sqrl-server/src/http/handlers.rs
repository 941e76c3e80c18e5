//! The HTTP handlers. Every failure is a status code and at most a short JSON or text body;
//! nothing an input can do reaches a 500.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use rand_core::OsRng;
use serde::Deserialize;
use serde_json::json;

use super::{cookie_value, qr, unix_now, SqrlHttp, FLOW_COOKIE};
use crate::flow::Status;
use crate::nut::{FlowId, Nut};
use crate::service::{BrowserError, Incoming};
use crate::store::{SessionStore, Store};
use sqrl_proto::MAX_BODY_LEN;

pub(super) fn routes<S: Store + SessionStore + 'static, T>(http: SqrlHttp<S>) -> Router<T> {
    let path = http.inner.service.config().path.clone();
    Router::new()
        .route(
            &path,
            post(sqrl_endpoint::<S>).layer(DefaultBodyLimit::max(MAX_BODY_LEN)),
        )
        .route(&format!("{path}/new"), post(new_flow::<S>))
        .route(&format!("{path}/qr.svg"), get(qr_svg::<S>))
        .route(&format!("{path}/qr.png"), get(qr_png::<S>))
        .route(&format!("{path}/events"), get(events::<S>))
        .route(&format!("{path}/poll"), get(poll::<S>))
        .route(&format!("{path}/redeem"), post(redeem::<S>))
        .route(&format!("{path}/cps"), get(cps::<S>))
        .route(&format!("{path}/logout"), post(logout::<S>))
        .with_state(http)
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::New => "new",
        Status::Scanned => "scanned",
        Status::Confirmed => "confirmed",
        Status::ConfirmedElsewhere => "confirmed-elsewhere",
        Status::Rejected => "rejected",
        Status::Expired => "expired",
        Status::Redeemed => "redeemed",
    }
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
async fn sqrl_endpoint<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let worker = http.clone();
    let query = query.unwrap_or_default();
    // Signature checks and a durable commit: off the async threads.
    let result = tokio::task::spawn_blocking(move || {
        worker.inner.service.handle(
            &Incoming {
                query: &query,
                body: &body,
                client_ip: ip,
                now: unix_now(),
            },
            &mut OsRng,
        )
    })
    .await;
    match result {
        Ok(response) => {
            if let Some(flow) = response.flow {
                let _ = http.inner.changes.send(flow);
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                response.body,
            )
                .into_response()
        }
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "try again"),
    }
}

/// `POST /sqrl/new`: a login code for this browser.
async fn new_flow<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let Some(begun) = http.begin(ip, &user_agent(&headers)) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login codes; wait a moment",
        );
    };
    let nut = begun
        .flow
        .url
        .split("nut=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let path = &http.inner.service.config().path;
    let body = json!({
        "url": begun.flow.url,
        "link": begun.link,
        "svg": format!("{path}/qr.svg?nut={nut}"),
        "png": format!("{path}/qr.png?nut={nut}"),
        "expires_in": begun.expires_in,
        "retry_ms": http.inner.settings.retry.as_millis() as u64,
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
fn qr_url<S: Store + SessionStore + 'static>(http: &SqrlHttp<S>, nut: &str) -> Option<String> {
    let service = &http.inner.service;
    match service.open_nut(nut)? {
        Nut::Qr(_) => Some(service.url_for_nut(nut)),
        Nut::Reply(_) => None,
    }
}

async fn qr_svg<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    Query(q): Query<NutQuery>,
) -> Response {
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

async fn qr_png<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    Query(q): Query<NutQuery>,
) -> Response {
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

/// The flow cookie: flow id, issue time, secret.
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
fn current<S: Store + SessionStore + 'static>(
    http: &SqrlHttp<S>,
    cookie: &FlowCookie,
) -> Result<(Status, u64), BrowserError> {
    let now = unix_now();
    let status =
        http.inner
            .service
            .status(&cookie.flow, &cookie.secret, Some(cookie.issued_at), now)?;
    let left = (cookie.issued_at + http.inner.service.config().lifetimes.nut).saturating_sub(now);
    Ok((status, left))
}

fn is_final(status: Status) -> bool {
    matches!(
        status,
        Status::Rejected | Status::Expired | Status::Redeemed | Status::ConfirmedElsewhere
    )
}

fn check_poll<S: Store + SessionStore + 'static>(
    http: &SqrlHttp<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<FlowCookie, (StatusCode, &'static str)> {
    let ip = http.client_ip(peer, headers);
    if !http.inner.poll_limit.allow(ip, Instant::now()) {
        return Err((StatusCode::TOO_MANY_REQUESTS, "too many requests"));
    }
    let cookie =
        flow_cookie(headers).ok_or((StatusCode::UNAUTHORIZED, "no login code in this browser"))?;
    current(http, &cookie).map_err(|_| (StatusCode::UNAUTHORIZED, "unknown login code"))?;
    Ok(cookie)
}

/// `GET /sqrl/events`: Server-Sent Events with the flow's status.
async fn events<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let cookie = match check_poll(&http, peer, &headers) {
        Ok(cookie) => cookie,
        Err((status, message)) => return error(status, message),
    };
    let Ok(permit) = http.inner.streams.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open status streams",
        );
    };
    let changes = http.inner.changes.subscribe();
    let retry = http.inner.settings.retry;
    let state = (http, cookie, changes, None::<Status>, false, permit);
    let stream = stream::unfold(
        state,
        move |(http, cookie, mut changes, last, done, permit)| async move {
            if done {
                return None;
            }
            loop {
                let Ok((status, left)) = current(&http, &cookie) else {
                    return None;
                };
                if Some(status) != last {
                    let data =
                        json!({ "status": status_text(status), "expires_in": left }).to_string();
                    let event = Event::default().event("status").data(data).retry(retry);
                    return Some((
                        Ok::<_, Infallible>(event),
                        (
                            http,
                            cookie,
                            changes,
                            Some(status),
                            is_final(status),
                            permit,
                        ),
                    ));
                }
                // Wake on a change to any flow (cheap to re-check), or each second for expiry.
                tokio::select! {
                    _ = changes.recv() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Deserialize)]
struct PollQuery {
    last: Option<String>,
}

/// `GET /sqrl/poll?last=…`: answers when the status differs from `last`, or after 25 s.
async fn poll<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> Response {
    let cookie = match check_poll(&http, peer, &headers) {
        Ok(cookie) => cookie,
        Err((status, message)) => return error(status, message),
    };
    let mut changes = http.inner.changes.subscribe();
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let Ok((status, left)) = current(&http, &cookie) else {
            return error(StatusCode::UNAUTHORIZED, "unknown login code");
        };
        if q.last.as_deref() != Some(status_text(status)) || Instant::now() >= deadline {
            let retry_ms = http.inner.settings.retry.as_millis() as u64;
            return Json(
                json!({ "status": status_text(status), "expires_in": left, "retry_ms": retry_ms }),
            )
            .into_response();
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// `POST /sqrl/redeem`: the browser with the flow secret gets its session.
async fn redeem<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let Some(cookie) = flow_cookie(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "no login code in this browser");
    };
    let ip = http.client_ip(peer, &headers);
    let ua = user_agent(&headers);
    let worker = http.clone();
    let result = tokio::task::spawn_blocking(move || {
        let idk = worker
            .inner
            .service
            .redeem(&cookie.flow, &cookie.secret, unix_now())?;
        let _ = worker.inner.changes.send(cookie.flow);
        worker
            .start_session(idk, ip, &ua, false)
            .map_err(BrowserError::Store)
    })
    .await;
    match result {
        Ok(Ok(session_cookie)) => {
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
        Ok(Err(BrowserError::Unknown)) => error(
            StatusCode::FORBIDDEN,
            "this browser did not start that login",
        ),
        Ok(Err(BrowserError::Flow(e))) => error(StatusCode::CONFLICT, &e.to_string()),
        Ok(Err(BrowserError::Store(_))) | Err(_) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

/// `GET /sqrl/cps?token=…`: a client's CPS link logs in the browser that opens it, once.
async fn cps<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let ip = http.client_ip(peer, &headers);
    let ua = user_agent(&headers);
    let worker = http.clone();
    let result = tokio::task::spawn_blocking(move || {
        let idk = worker.inner.service.redeem_cps(&q.token, unix_now())?;
        worker
            .start_session(idk, ip, &ua, true)
            .map_err(BrowserError::Store)
    })
    .await;
    match result {
        Ok(Ok(session_cookie)) => {
            let mut response = Redirect::to(&http.inner.settings.after_login).into_response();
            if let Ok(value) = HeaderValue::from_str(&session_cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        _ => {
            let page = format!(
                "<!doctype html><meta charset=utf-8><title>Login link used</title>\
                 <p>This login link was already used or has expired. <a href=\"{}\">Log in again</a>.</p>",
                http.inner.settings.login_page
            );
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response()
        }
    }
}

/// `POST /sqrl/logout`.
async fn logout<S: Store + SessionStore + 'static>(
    State(http): State<SqrlHttp<S>>,
    headers: HeaderMap,
) -> Response {
    let worker = http.clone();
    let _ = tokio::task::spawn_blocking(move || worker.end_session(&headers)).await;
    let mut response = Redirect::to(&http.inner.settings.login_page).into_response();
    for value in http.clear_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

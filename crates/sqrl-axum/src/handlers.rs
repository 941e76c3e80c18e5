//! The HTTP handlers. Every failure is an [`ApiError`]: a status code and at most a short JSON
//! or text body; nothing an input can do reaches a 500.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand_core::OsRng;
use serde::Deserialize;
use serde_json::json;
use sqrl_proto::{b64, MAX_BODY_LEN};
use sqrl_server::Incoming;
use sqrl_server::Nut;

use crate::error::ApiError;
use crate::watch::{self, FlowCookie};
use crate::{assets, qr, BeginError, Begun, SqrlHttp};

impl SqrlHttp {
    /// The routes, with this layer as their state; merge them into the app's router.
    pub fn router<T>(&self) -> Router<T> {
        let http = self.clone();
        let path = http.path().to_owned();
        Router::new()
            .route(
                &path,
                post(sqrl_endpoint).layer(DefaultBodyLimit::max(MAX_BODY_LEN)),
            )
            .route(&format!("{path}/new"), post(new_flow))
            .route(
                &format!("{path}/qr.svg"),
                get(|state: State<SqrlHttp>, query: Query<NutQuery>| {
                    qr_image(state, query, QrFormat::Svg)
                }),
            )
            .route(
                &format!("{path}/qr.png"),
                get(|state: State<SqrlHttp>, query: Query<NutQuery>| {
                    qr_image(state, query, QrFormat::Png)
                }),
            )
            .route(&format!("{path}/events"), get(watch::events))
            .route(&format!("{path}/poll"), get(watch::poll))
            .route(&format!("{path}/redeem"), post(redeem))
            .route(&format!("{path}/cps"), get(cps))
            .route(&format!("{path}/logout"), post(logout))
            .route(&format!("{path}/widget.js"), get(widget_js))
            .layer(axum::middleware::map_response_with_state(
                http.clone(),
                api_headers,
            ))
            .with_state(http)
    }
}

/// Headers every reply of these routes carries: no content sniffing, no referrer to other
/// sites, and (unless a route says otherwise, as the QR images and the script do) no caching
/// of what is per-browser and short-lived. A refusal is counted here, once.
async fn api_headers(State(http): State<SqrlHttp>, mut response: Response) -> Response {
    if let Some(refused) = response.extensions_mut().remove::<ApiError>() {
        http.inner.metrics.refusal(&refused);
    }
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

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(512)
        .collect()
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
    let response = http.sqrl().handle(&incoming, &mut OsRng).await;
    http.inner.metrics.phone(response.refusal);
    if response.refusal == Some(sqrl_server::Refusal::Expired) {
        // A code refused as expired may come from an instance whose clock is ahead.
        let nut = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("nut="))
            .and_then(|nut| http.sqrl().server().open_nut(nut));
        if let Some(Nut::Qr(qr)) = nut {
            http.observe_issue_time(qr.issued_at);
        }
    }
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
) -> Result<Response, ApiError> {
    new_code_for(&http, peer, &headers, "").await
}

/// A login code for the browser of `headers` into the application `app` (`""`: the site),
/// answered as `POST /sqrl/new` answers.
pub(crate) async fn new_code_for(
    http: &SqrlHttp,
    peer: SocketAddr,
    headers: &HeaderMap,
    app: &str,
) -> Result<Response, ApiError> {
    if !http.same_origin(headers) {
        return Err(ApiError::CrossOrigin);
    }
    let ip = http.client_ip(peer, headers);
    let begun = http
        .begin_for(ip, &user_agent(headers), app)
        .await
        .map_err(|e| match e {
            BeginError::RateLimited => ApiError::TooManyCodes,
            BeginError::Unavailable => ApiError::Unavailable,
        })?;
    Ok(code_response(http, &begun))
}

/// The JSON answer of a new login code (the contract in [`crate::widget`]), with the flow
/// cookie.
pub(crate) fn code_response(http: &SqrlHttp, begun: &Begun) -> Response {
    let nut = &begun.flow.nut;
    let path = http.path();
    let app = if begun.app.is_empty() {
        String::new()
    } else {
        format!("&app={}", b64::encode(&begun.app))
    };
    let mut body = json!({
        "url": begun.flow.url,
        "link": begun.link,
        "svg": format!("{path}/qr.svg?nut={nut}{app}"),
        "png": format!("{path}/qr.png?nut={nut}{app}"),
        "expires_in": begun.expires_in,
        "retry_ms": http.retry_ms(),
        "redeem_window_s": http.lifetimes().redeem,
        "after_login": http.settings().after_login,
    });
    if let (Some(compare), Some(fields)) = (begun.compare, body.as_object_mut()) {
        fields.insert("compare".into(), json!(compare));
    }
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
    /// The application the code was minted for, base64url as in its URL.
    app: Option<String>,
}

/// The image formats of a QR code.
#[derive(Debug, Clone, Copy)]
enum QrFormat {
    Svg,
    Png,
}

/// `GET /sqrl/qr.svg?nut=…`, `/sqrl/qr.png?nut=…`: the QR code of a nut we minted (so the QR
/// endpoints are not a general QR service).
async fn qr_image(
    State(http): State<SqrlHttp>,
    Query(q): Query<NutQuery>,
    format: QrFormat,
) -> Result<Response, ApiError> {
    let server = http.sqrl().server();
    let app = match q.app.as_deref().map(b64::decode) {
        None => String::new(),
        Some(Ok(bytes)) => String::from_utf8(bytes).map_err(|_| ApiError::NotFound)?,
        Some(Err(_)) => return Err(ApiError::NotFound),
    };
    let url = match server.open_nut_for(&q.nut, &app) {
        Some(Nut::Qr(_)) => server.url_for_app(&q.nut, &app),
        Some(Nut::Reply(_)) | None => return Err(ApiError::NotFound),
    };
    let cache = (header::CACHE_CONTROL, "private, max-age=300");
    let response = match format {
        QrFormat::Svg => qr::svg(&url)
            .map(|svg| ([(header::CONTENT_TYPE, "image/svg+xml"), cache], svg).into_response()),
        QrFormat::Png => qr::png(&url)
            .map(|png| ([(header::CONTENT_TYPE, "image/png"), cache], png).into_response()),
    };
    response.ok_or(ApiError::NotFound)
}

/// `POST /sqrl/redeem`: the browser with the flow secret gets its session.
async fn redeem(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !http.same_origin(&headers) {
        return Err(ApiError::CrossOrigin);
    }
    let cookie = FlowCookie::of(&headers).ok_or(ApiError::NoLoginCode)?;
    let ip = http.client_ip(peer, &headers);
    let (id, draft) = http.new_session(ip, &user_agent(&headers));
    let account = http
        .sqrl()
        .redeem(
            &cookie.flow,
            cookie.issued_at,
            &cookie.secret,
            http.now(),
            draft.clone(),
        )
        .await?;
    let session_cookie = http.logged_in(account, &id, &draft, ip, false);
    let after = http.after_login(&headers);
    let mut response = Json(json!({ "redirect": after })).into_response();
    let headers = response.headers_mut();
    if let Some(clear) = http.clear_return() {
        headers.append(header::SET_COOKIE, clear);
    }
    if let Ok(value) = HeaderValue::from_str(&session_cookie) {
        headers.append(header::SET_COOKIE, value);
    }
    if let Some(clear) = http.clear_cookies().into_iter().nth(1) {
        headers.append(header::SET_COOKIE, clear);
    }
    Ok(response)
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
) -> Result<Response, ApiError> {
    let ip = http.client_ip(peer, &headers);
    let (id, draft) = http.new_session(ip, &user_agent(&headers));
    let account = http
        .sqrl()
        .redeem_cps(&q.token, http.now(), draft.clone())
        .await
        .map_err(|e| ApiError::redeeming_cps(e, &http.settings().login_page))?;
    let session_cookie = http.logged_in(account, &id, &draft, ip, true);
    let mut response = Redirect::to(&http.after_login(&headers)).into_response();
    if let Some(clear) = http.clear_return() {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    if let Ok(value) = HeaderValue::from_str(&session_cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `POST /sqrl/logout`: ends the session (from this site's pages only); a store failure is
/// reported, not hidden.
async fn logout(State(http): State<SqrlHttp>, headers: HeaderMap) -> Result<Response, ApiError> {
    // A foreign page cannot end the session (login CSRF's twin).
    if !http.same_origin(&headers) {
        return Err(ApiError::CrossOrigin);
    }
    http.end_session(&headers).await.map_err(|e| {
        tracing::error!(error = %e, "logout failed");
        ApiError::LogoutFailed
    })?;
    let mut response = Redirect::to(&http.settings().login_page).into_response();
    for value in http.clear_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct VersionQuery {
    v: Option<String>,
}

/// `GET /sqrl/widget.js`: the login widget (cached for a year under its versioned URL).
async fn widget_js(Query(q): Query<VersionQuery>, headers: HeaderMap) -> Response {
    assets::WIDGET_JS.serve(q.v.as_deref(), &headers)
}

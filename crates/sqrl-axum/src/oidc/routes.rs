//! The provider's routes: each loads what the request names, asks `sqrl-oidc`, commits.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand_core::OsRng;
use serde::Deserialize;
use sqrl_oidc::{
    AuthRequest, AuthorizeRefusal, Client, Consent, Login, Next, Params, Pending, Refusal, Secret,
    Taken,
};
use sqrl_server::StoreError;

use super::pages::{self, AppRow, AppsPage, ConsentPage, Form, LoginPage, MessagePage};
use super::{OidcProvider, APPS_PATH, CONSENT_PATH, CONTINUE_PATH, NEW_CODE_PATH, REVOKE_PATH};
use crate::SignedIn;

impl OidcProvider {
    /// The provider's routes (merge them into the app beside [`SqrlHttp::router`](crate::SqrlHttp::router)).
    pub fn router<T>(&self) -> Router<T> {
        // The endpoints a browser app (a public client with PKCE) calls from its own origin:
        // readable cross-origin. None of them acts on a cookie, so any origin may: a page
        // gains nothing a server could not do with the same code, verifier or token.
        let cors = || axum::middleware::map_response(allow_any_origin);
        Router::new()
            .route(
                sqrl_oidc::DISCOVERY_PATH,
                get(discovery).options(preflight).layer(cors()),
            )
            .route(
                sqrl_oidc::JWKS_PATH,
                get(jwks).options(preflight).layer(cors()),
            )
            .route(sqrl_oidc::AUTHORIZE_PATH, get(authorize).post(authorize))
            .route(CONTINUE_PATH, get(resume))
            .route(NEW_CODE_PATH, post(new_code))
            .route(CONSENT_PATH, post(consent))
            .route(
                sqrl_oidc::TOKEN_PATH,
                post(token).options(preflight).layer(cors()),
            )
            .route(
                sqrl_oidc::USERINFO_PATH,
                get(userinfo)
                    .post(userinfo)
                    .options(preflight)
                    .layer(cors()),
            )
            .route(
                sqrl_oidc::END_SESSION_PATH,
                get(end_session).post(end_session),
            )
            .route(APPS_PATH, get(apps))
            .route(REVOKE_PATH, post(revoke))
            .with_state(self.clone())
    }

    /// Whether the account `user` (hex) still exists with SQRL login enabled: the codes and
    /// tokens of a removed identity give nothing, nor those of one whose user disabled it
    /// (the user's way to lock the account when their identity may be compromised).
    async fn account_exists(&self, user: &str) -> Result<bool, StoreError> {
        let Some(id) = sqrl_server::AccountId::from_hex(user) else {
            return Ok(false);
        };
        Ok(self
            .http()
            .store()
            .account(&id)
            .await?
            .is_some_and(|a| !a.disabled))
    }

    fn now(&self) -> u64 {
        self.http().now().as_secs()
    }

    async fn session(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, StoreError> {
        self.http().signed_in(headers).await
    }

    /// What the pending request `id` needs now, and the response that shows it.
    async fn proceed(
        &self,
        id: &Secret,
        pending: Pending,
        client: &Client,
        headers: &HeaderMap,
    ) -> Response {
        let now = self.now();
        let session = match self.session(headers).await {
            Ok(s) => s,
            Err(e) => return pages::unavailable_page(&e),
        };
        let user = session.as_ref().map(|s| s.account.to_hex());
        let has_consent = match &user {
            Some(user) => match self.store().consents(user).await {
                Ok(list) => list.iter().any(|c| c.client_id == client.id),
                Err(e) => return pages::unavailable_page(&e),
            },
            None => false,
        };
        let consented_now = match (&session, &pending.consented_by) {
            (Some(s), Some(by)) => sqrl_oidc::hex(&s.session.id_hash) == *by,
            _ => false,
        };
        let request = &pending.request;
        let login = session.as_ref().map(|s| Login {
            auth_time: s.session.created_at,
            other_than_hinted: request.hint_sub.as_ref().is_some_and(|sub| {
                *sub != sqrl_oidc::subject(client, &s.account.to_hex(), self.pairwise_key())
            }),
        });
        let next = sqrl_oidc::next(
            request,
            client,
            login,
            pending.login_shown_at,
            has_consent,
            consented_now,
            now,
        );
        match (next, session) {
            (Err(refusal), _) => {
                self.forget(id).await;
                self.refuse_to_client(request, &refusal)
            }
            (Ok(Next::Issue), Some(session)) => {
                self.forget(id).await;
                self.issue(request, &session).await
            }
            (Ok(Next::Login | Next::Issue), _) => self.login_page(id, &pending, client).await,
            (Ok(Next::Consent), _) => {
                if let Err(e) = self.store().put_pending(&id.hash, &pending).await {
                    return pages::unavailable_page(&e);
                }
                pages::page(
                    StatusCode::OK,
                    &ConsentPage {
                        app: &client.name,
                        action: CONSENT_PATH,
                        req: &id.text,
                        apps: APPS_PATH,
                        offline: request
                            .scope
                            .iter()
                            .any(|s| s == sqrl_oidc::refresh::OFFLINE_ACCESS),
                    },
                )
            }
        }
    }

    async fn forget(&self, id: &Secret) {
        if let Err(e) = self.store().delete_pending(&id.hash).await {
            // It expires by itself; a stale pending request issues nothing without a login.
            tracing::warn!(error = %e, "could not forget a pending OIDC request");
        }
    }

    fn refuse_to_client(&self, request: &AuthRequest, refusal: &Refusal) -> Response {
        pages::see_other(&sqrl_oidc::error_redirect(
            &request.redirect_uri,
            refusal,
            request.state.as_deref(),
            self.issuer(),
        ))
    }

    /// The SQRL login page; the browser comes back to `/oidc/continue` after the login
    /// (the widget's `data-sqrl-after-login`, and the return cookie for a login through a
    /// CPS link, which lands on the SQRL layer's redeem route).
    async fn login_page(&self, id: &Secret, pending: &Pending, client: &Client) -> Response {
        let mut pending = pending.clone();
        if pending.login_shown_at == sqrl_oidc::NOT_SHOWN {
            pending.login_shown_at = self.now();
        }
        if let Err(e) = self.store().put_pending(&id.hash, &pending).await {
            return pages::unavailable_page(&e);
        }
        let resume = format!("{CONTINUE_PATH}?req={}", id.text);
        let new_code = format!("{NEW_CODE_PATH}?req={}", id.text);
        let widget = format!("{}/widget.js", self.http().path());
        let provider = self
            .issuer()
            .split_once("://")
            .map_or(self.issuer(), |(_, host)| host);
        let mut response = pages::page(
            StatusCode::OK,
            &LoginPage {
                app: &client.name,
                provider,
                widget: &widget,
                resume: &resume,
                new_code: &new_code,
            },
        );
        if let Some(value) = self.http().set_return(&resume, sqrl_oidc::PENDING_LIFETIME) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// A code for the signed-in user, sent to the client.
    async fn issue(&self, request: &AuthRequest, session: &SignedIn) -> Response {
        let (code, grant) = sqrl_oidc::issue_code(
            request,
            &session.account.to_hex(),
            session.session.created_at,
            self.now(),
            &mut OsRng,
        );
        if let Err(e) = self.store().put_code(&code.hash, &grant).await {
            return pages::unavailable_page(&e);
        }
        pages::see_other(&sqrl_oidc::code_redirect(
            &request.redirect_uri,
            &code.text,
            request.state.as_deref(),
            self.issuer(),
        ))
    }

    /// Whether a state-changing form post comes from this site's own page.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        self.http().same_origin(headers)
    }
}

async fn discovery(State(p): State<OidcProvider>) -> Response {
    cached_json(sqrl_oidc::metadata(p.issuer()))
}

async fn jwks(State(p): State<OidcProvider>) -> Response {
    cached_json(p.keys().jwks(p.now()))
}

fn cached_json(value: serde_json::Value) -> Response {
    let mut response = Json(value).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// CORS for the endpoints that never read a cookie: any origin may read their answers.
async fn allow_any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// A CORS preflight (`OPTIONS`): `GET` and `POST` with `Authorization` (a bearer token, or
/// `client_secret_basic`) and `Content-Type` (a form), remembered for ten minutes.
async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

/// The parameters of a GET (query) or POST (form) request.
fn params_of(method: &Method, query: Option<&str>, body: &[u8]) -> Params {
    if method == Method::POST {
        Params::parse(&String::from_utf8_lossy(body))
    } else {
        Params::parse(query.unwrap_or_default())
    }
}

async fn authorize(
    State(p): State<OidcProvider>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params_of(&method, query.as_deref(), &body);
    let client = match sqrl_oidc::authorize_client_id(&params) {
        Err(refusal) => return pages::authorize_refusal(&refusal, p.issuer()),
        Ok(None) => None,
        Ok(Some(id)) => match p.store().client(id).await {
            Ok(c) => c,
            Err(e) => return pages::unavailable_page(&e),
        },
    };
    let mut request = match sqrl_oidc::validate(&params, client.as_ref()) {
        Ok(r) => r,
        Err(refusal) => return pages::authorize_refusal(&refusal, p.issuer()),
    };
    let Some(client) = client else {
        return pages::authorize_refusal(
            &AuthorizeRefusal::Page(Refusal::UnknownClient),
            p.issuer(),
        );
    };
    let now = p.now();
    request.hint_sub =
        match sqrl_oidc::check_id_token_hint(&params, &client, &p.keys(), p.issuer(), now) {
            Ok(sub) => sub,
            Err(refusal) => return p.refuse_to_client(&request, &refusal),
        };
    let pending = Pending {
        request,
        login_shown_at: sqrl_oidc::NOT_SHOWN,
        consented_by: None,
        expires_at: now.saturating_add(sqrl_oidc::PENDING_LIFETIME),
    };
    let id = Secret::generate(&mut OsRng);
    p.proceed(&id, pending, &client, &headers).await
}

#[derive(Deserialize)]
struct ReqQuery {
    req: String,
}

/// Loads a pending request and its client (or the page that says it is gone).
async fn load_pending(p: &OidcProvider, text: &str) -> Result<(Secret, Pending, Client), Response> {
    let id = Secret {
        hash: sqrl_oidc::hash(text),
        text: text.to_owned(),
    };
    let pending = match p.store().pending(&id.hash).await {
        Ok(Some(pending)) if p.now() < pending.expires_at => pending,
        Ok(_) => return Err(pages::refusal_page(&Refusal::PendingExpired)),
        Err(e) => return Err(pages::unavailable_page(&e)),
    };
    match p.store().client(&pending.request.client_id).await {
        Ok(Some(client)) => Ok((id, pending, client)),
        Ok(None) => Err(pages::refusal_page(&Refusal::UnknownClient)),
        Err(e) => Err(pages::unavailable_page(&e)),
    }
}

async fn resume(
    State(p): State<OidcProvider>,
    Query(q): Query<ReqQuery>,
    headers: HeaderMap,
) -> Response {
    let (id, pending, client) = match load_pending(&p, &q.req).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = p.proceed(&id, pending, &client, &headers).await;
    if response.status() != StatusCode::OK {
        // Left the login page: the return cookie has done its job.
        if let Some(value) = p.http().clear_return() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `POST /oidc/new?req=…`: a login code for the login page of a pending request, naming its
/// application, so the phone's question says "Log in to *app* via *host*". Answered as
/// `POST /sqrl/new` is; `404` for a request that is gone (the widget offers a new code, and
/// the page's reload shows why).
async fn new_code(
    State(p): State<OidcProvider>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<ReqQuery>,
    headers: HeaderMap,
) -> Response {
    let client = match load_pending(&p, &q.req).await {
        Ok((_, _, client)) => client,
        Err(response) => return response,
    };
    crate::handlers::new_code_for(p.http(), peer, &headers, &client.name)
        .await
        .into_response()
}

#[derive(Deserialize)]
struct ConsentForm {
    req: String,
    decision: String,
}

async fn consent(
    State(p): State<OidcProvider>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Response {
    if !p.same_origin(&headers) {
        return pages::foreign_form();
    }
    let (id, mut pending, client) = match load_pending(&p, &form.req).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let session = match p.session(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return p.login_page(&id, &pending, &client).await,
        Err(e) => return pages::unavailable_page(&e),
    };
    if form.decision != "allow" {
        p.forget(&id).await;
        return p.refuse_to_client(&pending.request, &Refusal::AccessDenied);
    }
    let consent = Consent {
        client_id: client.id.clone(),
        granted_at: p.now(),
    };
    if let Err(e) = p
        .store()
        .put_consent(&session.account.to_hex(), &consent)
        .await
    {
        return pages::unavailable_page(&e);
    }
    pending.consented_by = Some(sqrl_oidc::hex(&session.session.id_hash));
    p.proceed(&id, pending, &client, &headers).await
}

async fn token(State(p): State<OidcProvider>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if form.one("grant_type") == Ok(Some("refresh_token")) {
        return refresh(&p, &form, authorization).await;
    }
    let request = match sqrl_oidc::parse_token_request(&form, authorization) {
        Ok(r) => r,
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    let client = match p.store().client(&request.credentials.client_id).await {
        Ok(c) => c,
        Err(e) => return pages::unavailable_json(&e),
    };
    let client = match sqrl_oidc::authenticate(client.as_ref(), &request.credentials) {
        Ok(c) => c,
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    let taken = match p.store().take_code(&sqrl_oidc::hash(&request.code)).await {
        Ok(t) => t,
        Err(e) => return pages::unavailable_json(&e),
    };
    let replayed = match &taken {
        Taken::Replayed(grant) => Some(grant.grant.clone()),
        _ => None,
    };
    let now = p.now();
    let grant = match sqrl_oidc::redeem(client, &request, taken, now) {
        Ok(g) => g,
        Err(refusal) => {
            if let Some(grant) = replayed {
                if let Err(e) = p.store().revoke_grant(&grant).await {
                    tracing::error!(error = %e, "could not revoke the tokens of a replayed code");
                    return pages::unavailable_json(&e);
                }
                tracing::warn!(client = %client.id, "authorization code replayed: its tokens are revoked");
            }
            return pages::json_refusal(&refusal);
        }
    };
    // The user removed their identity from the site since the login: no tokens.
    match p.account_exists(&grant.user).await {
        Ok(true) => {}
        Ok(false) => return pages::json_refusal(&Refusal::CodeInvalid),
        Err(e) => return pages::unavailable_json(&e),
    }
    issue_tokens(&p, client, &grant, now, &Refusal::CodeReplayed).await
}

/// Mints the tokens of a redeemed code or refresh token, stores them and answers them; unless
/// the grant was revoked meanwhile (a replayed code or refresh token that raced this
/// request): then it is revoked again, with what was just stored, and `refusal` answers.
async fn issue_tokens(
    p: &OidcProvider,
    client: &Client,
    grant: &sqrl_oidc::CodeGrant,
    now: u64,
    refusal: &Refusal,
) -> Response {
    let issued = match sqrl_oidc::mint(
        p.issuer(),
        client,
        grant,
        &p.keys(),
        p.pairwise_key(),
        now,
        &mut OsRng,
    ) {
        Ok(i) => i,
        Err(e) => return pages::unavailable_json(&e),
    };
    let grant = grant.grant.as_str();
    if let Err(e) = p
        .store()
        .put_access(&issued.access_token.hash, &issued.access)
        .await
    {
        return pages::unavailable_json(&e);
    }
    if let Some((token, record)) = &issued.refresh {
        if let Err(e) = p.store().put_code(&token.hash, record).await {
            return pages::unavailable_json(&e);
        }
    }
    match p.store().grant_revoked(grant).await {
        Ok(false) => {}
        Ok(true) => {
            if let Err(e) = p.store().revoke_grant(grant).await {
                return pages::unavailable_json(&e);
            }
            return pages::json_refusal(refusal);
        }
        Err(e) => return pages::unavailable_json(&e),
    }
    let mut response = Json(issued.response()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `grant_type=refresh_token`: new tokens and a new refresh token for an unused one, while
/// the account, the consent and the chain last ([`sqrl_oidc::refresh`]).
async fn refresh(p: &OidcProvider, form: &Params, authorization: Option<&str>) -> Response {
    let request = match sqrl_oidc::refresh::parse(form, authorization) {
        Ok(r) => r,
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    let client = match p.store().client(&request.credentials.client_id).await {
        Ok(c) => c,
        Err(e) => return pages::unavailable_json(&e),
    };
    let client = match sqrl_oidc::authenticate(client.as_ref(), &request.credentials) {
        Ok(c) => c,
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    let taken = match p
        .store()
        .take_code(&sqrl_oidc::hash(&request.refresh_token))
        .await
    {
        Ok(t) => t,
        Err(e) => return pages::unavailable_json(&e),
    };
    let now = p.now();
    let grant = match sqrl_oidc::refresh::redeem(client, &request, taken, now) {
        Ok(g) => g,
        Err(Refusal::RefreshReplayed(chain)) => {
            if let Err(e) = p.store().revoke_grant(&chain).await {
                tracing::error!(error = %e, "could not revoke the chain of a reused refresh token");
                return pages::unavailable_json(&e);
            }
            tracing::warn!(client = %client.id, "refresh token reused: its chain is revoked");
            return pages::json_refusal(&Refusal::RefreshReplayed(chain));
        }
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    // The chain lives while the account, the user's consent and the grant do.
    match p.account_exists(&grant.user).await {
        Ok(true) => {}
        Ok(false) => return pages::json_refusal(&Refusal::RefreshInvalid),
        Err(e) => return pages::unavailable_json(&e),
    }
    // A consent given after the chain began means the one the chain was issued under was
    // withdrawn: withdrawing ends the chain for good.
    if !client.first_party {
        match p.store().consents(&grant.user).await {
            Ok(list)
                if list.iter().any(|c| {
                    c.client_id == client.id && c.granted_at <= grant.chain_started_at
                }) => {}
            Ok(_) => return pages::json_refusal(&Refusal::RefreshInvalid),
            Err(e) => return pages::unavailable_json(&e),
        }
    }
    match p.store().grant_revoked(&grant.grant).await {
        Ok(false) => {}
        Ok(true) => return pages::json_refusal(&Refusal::RefreshInvalid),
        Err(e) => return pages::unavailable_json(&e),
    }
    issue_tokens(p, client, &grant, now, &Refusal::RefreshInvalid).await
}

async fn userinfo(State(p): State<OidcProvider>, headers: HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = match sqrl_oidc::bearer(authorization) {
        Ok(t) => t,
        Err(refusal) => return pages::json_refusal(&refusal),
    };
    let access = match p.store().access(&sqrl_oidc::hash(token)).await {
        Ok(a) => a,
        Err(e) => return pages::unavailable_json(&e),
    };
    // A token outlives no account: the user may have removed their identity from the site.
    let access = match access {
        Some(a) => match p.account_exists(&a.user).await {
            Ok(true) => Some(a),
            Ok(false) => None,
            Err(e) => return pages::unavailable_json(&e),
        },
        None => None,
    };
    match sqrl_oidc::userinfo(access, p.now()) {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => pages::json_refusal(&refusal),
    }
}

async fn end_session(
    State(p): State<OidcProvider>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params_of(&method, query.as_deref(), &body);
    let keys = p.keys();
    let request = match sqrl_oidc::parse_end_session(&params, &keys, p.issuer(), p.now()) {
        Ok(r) => r,
        Err(refusal) => return pages::refusal_page(&refusal),
    };
    let client = match &request.client_id {
        Some(id) => match p.store().client(id).await {
            Ok(c) => c,
            Err(e) => return pages::unavailable_page(&e),
        },
        None => None,
    };
    let after = match sqrl_oidc::end_session_redirect(&request, client.as_ref()) {
        Ok(a) => a,
        Err(refusal) => return pages::refusal_page(&refusal),
    };
    // Anyone can hold an ID token of their own: the logout is done without asking only when
    // the hint names the user who is logged in; else a form posted from this site's page.
    let session = match p.session(&headers).await {
        Ok(s) => s,
        Err(e) => return pages::unavailable_page(&e),
    };
    let hinted = session.as_ref().is_some_and(|s| {
        sqrl_oidc::hint_names(
            &request,
            client.as_ref(),
            &s.account.to_hex(),
            p.pairwise_key(),
        )
    });
    let confirmed = method == Method::POST && p.same_origin(&headers);
    if session.is_some() && !hinted && !confirmed {
        let fields = params.0.clone();
        return pages::page(
            StatusCode::OK,
            &MessagePage {
                title: "Log out?".into(),
                message: "Log out of this site and the applications you logged in to through it?"
                    .into(),
                form: Some(Form {
                    action: sqrl_oidc::END_SESSION_PATH.into(),
                    fields,
                    button: "Log out".into(),
                }),
            },
        );
    }
    if let Err(e) = p.http().end_session(&headers).await {
        return pages::unavailable_page(&e);
    }
    let mut response = match after {
        Some(uri) => pages::see_other(&uri),
        None => pages::message(StatusCode::OK, "Logged out", "You are logged out."),
    };
    for value in p.http().clear_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn apps(State(p): State<OidcProvider>, headers: HeaderMap) -> Response {
    let session = match p.session(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return pages::message(
                StatusCode::UNAUTHORIZED,
                "Log in first",
                "Log in to see the applications you use.",
            )
        }
        Err(e) => return pages::unavailable_page(&e),
    };
    let consents = match p.store().consents(&session.account.to_hex()).await {
        Ok(c) => c,
        Err(e) => return pages::unavailable_page(&e),
    };
    let mut rows = Vec::new();
    for consent in consents {
        let name = match p.store().client(&consent.client_id).await {
            Ok(Some(client)) => client.name,
            Ok(None) => continue,
            Err(e) => return pages::unavailable_page(&e),
        };
        rows.push(AppRow {
            name,
            client_id: consent.client_id,
            since: crate::date::utc(consent.granted_at),
        });
    }
    pages::page(
        StatusCode::OK,
        &AppsPage {
            apps: rows,
            action: REVOKE_PATH,
        },
    )
}

#[derive(Deserialize)]
struct RevokeForm {
    client_id: String,
}

async fn revoke(
    State(p): State<OidcProvider>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RevokeForm>,
) -> Response {
    if !p.same_origin(&headers) {
        return pages::foreign_form();
    }
    let session = match p.session(&headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return pages::message(StatusCode::UNAUTHORIZED, "Log in first", "Log in first.")
        }
        Err(e) => return pages::unavailable_page(&e),
    };
    if let Err(e) = p
        .store()
        .revoke_consent(&session.account.to_hex(), &form.client_id)
        .await
    {
        return pages::unavailable_page(&e);
    }
    pages::see_other(APPS_PATH)
}

//! The provider's pages (askama templates under `templates/oidc_*.html`), and the one place a
//! refusal becomes a response: a page, a redirect to the client, or a JSON error.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;
use sqrl_oidc::{Audience, AuthorizeRefusal, Refusal};
use sqrl_server::StoreError;

#[derive(Template)]
#[template(path = "oidc_login.html")]
pub(crate) struct LoginPage<'a> {
    pub(crate) app: &'a str,
    pub(crate) provider: &'a str,
    pub(crate) widget: &'a str,
    pub(crate) resume: &'a str,
    pub(crate) new_code: &'a str,
}

#[derive(Template)]
#[template(path = "oidc_consent.html")]
pub(crate) struct ConsentPage<'a> {
    pub(crate) app: &'a str,
    pub(crate) action: &'a str,
    pub(crate) req: &'a str,
    pub(crate) apps: &'a str,
    /// The request asks for offline access (a refresh token).
    pub(crate) offline: bool,
}

pub(crate) struct Form {
    pub(crate) action: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) button: String,
}

#[derive(Template)]
#[template(path = "oidc_message.html")]
pub(crate) struct MessagePage {
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) form: Option<Form>,
}

pub(crate) struct AppRow {
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) since: String,
}

#[derive(Template)]
#[template(path = "oidc_apps.html")]
pub(crate) struct AppsPage<'a> {
    pub(crate) apps: Vec<AppRow>,
    pub(crate) action: &'a str,
}

/// A page with the provider's headers: never cached, never framed.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    let body = template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a provider page failed to render");
        "This page could not be shown. Try again.".to_owned()
    });
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    // Same-origin: our forms carry their origin; other sites learn nothing of the request
    // (its code or pending id).
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    response
}

/// A short message page.
pub(crate) fn message(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        &MessagePage {
            title: title.to_owned(),
            message: message.to_owned(),
            form: None,
        },
    )
}

/// A form posted from another site's page: refused, nothing changed.
pub(crate) fn foreign_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "This form must be sent from this site's own page.",
    )
}

/// A 303 to `location` (the browser follows with GET), never cached.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn status_of(refusal: &Refusal) -> StatusCode {
    StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// A refusal at the authorization endpoint: a page, or the client's redirect URI.
pub(crate) fn authorize_refusal(refusal: &AuthorizeRefusal, issuer: &str) -> Response {
    match refusal {
        AuthorizeRefusal::Page(r) => refusal_page(r),
        AuthorizeRefusal::Redirect {
            redirect_uri,
            state,
            refusal,
        } => see_other(&sqrl_oidc::error_redirect(
            redirect_uri,
            refusal,
            state.as_deref(),
            issuer,
        )),
    }
}

/// A refusal shown to the user.
pub(crate) fn refusal_page(refusal: &Refusal) -> Response {
    message(
        status_of(refusal),
        "This login request cannot be completed",
        &format!("{refusal}. Go back to the application and try again."),
    )
}

/// A refusal of a back-channel endpoint: `{"error", "error_description"}`, and for UserInfo
/// and client authentication the `WWW-Authenticate` header.
pub(crate) fn json_refusal(refusal: &Refusal) -> Response {
    debug_assert_eq!(refusal.audience(), Audience::Json);
    let mut response = (
        status_of(refusal),
        Json(json!({"error": refusal.error(), "error_description": refusal.to_string()})),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let challenge = match refusal {
        Refusal::MissingToken => Some("Bearer"),
        Refusal::InvalidToken => Some("Bearer error=\"invalid_token\""),
        Refusal::ClientAuthFailed => Some("Basic realm=\"token\""),
        _ => None,
    };
    if let Some(challenge) = challenge {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

/// A store failure: 503 "try again", as a page.
pub(crate) fn unavailable_page(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "OIDC store failure");
    let mut response = message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "The login service is briefly unavailable. Try again in a moment.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

/// A store or key failure at a back-channel endpoint: 503 with a JSON body.
pub(crate) fn unavailable_json(e: &dyn core::fmt::Display) -> Response {
    tracing::warn!(error = %e, "OIDC back-channel failure");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "temporarily_unavailable", "error_description": "try again"})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

//! The one place where a refused request becomes a response: every handler returns
//! `Result<_, ApiError>`, and [`ApiError`]'s `IntoResponse` picks the status code and the body
//! (`{"error": "<a sentence for people>"}`, the contract in [`widget`](crate::widget)). Nothing
//! here answers 500: a failed backend is `503` ("try again").

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sqrl_server::{BrowserError, FlowError, StoreError};

use crate::streams::StreamCap;
use crate::widget;

/// Why a request to the SQRL routes was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `429`: this client asked for too many login codes.
    TooManyCodes,
    /// `429`: this client watched its login's status too often.
    TooManyRequests,
    /// `401`: the request carries no (readable) flow cookie.
    NoLoginCode,
    /// `401`: the flow cookie names no login this server knows, or its secret is wrong.
    UnknownLoginCode,
    /// `403`: redeeming a login this browser did not start.
    NotThisBrowser,
    /// `409`: the login cannot be redeemed now (the body says why).
    NotRedeemable(FlowError),
    /// `429` or `503`: a cap on open status streams refused one more.
    Streams(StreamCap),
    /// `404`: not something this server made (a QR code of a foreign nut).
    NotFound,
    /// `403` with a short HTML page: a CPS link that was used or has expired, with a link to
    /// the login page.
    CpsLinkUsed {
        /// Where to log in again.
        login_page: String,
    },
    /// `403`: a state-changing request from another origin (see
    /// [`is_same_origin`](crate::is_same_origin)); nothing changed.
    CrossOrigin,
    /// `503`: logging out failed in the store.
    LogoutFailed,
    /// `503`: the store or another backend failed, or the flow could not be read any more.
    Unavailable,
}

impl ApiError {
    /// A failed read of a flow's status: only a store failure is worth a retry; anything else
    /// means the cookie names no login of ours.
    pub fn reading_status(error: BrowserError) -> Self {
        match error {
            BrowserError::Store(_) => ApiError::Unavailable,
            BrowserError::Unknown | BrowserError::Flow(_) => ApiError::UnknownLoginCode,
        }
    }

    /// A refused CPS link: a failed backend is worth a retry (`503`); anything else (unknown,
    /// used, expired, or another request won) is a used link.
    pub fn redeeming_cps(error: BrowserError, login_page: &str) -> Self {
        match error {
            BrowserError::Store(StoreError::Backend(_)) => ApiError::Unavailable,
            _ => ApiError::CpsLinkUsed {
                login_page: login_page.to_owned(),
            },
        }
    }

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::TooManyCodes | ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoLoginCode | ApiError::UnknownLoginCode => StatusCode::UNAUTHORIZED,
            ApiError::NotThisBrowser | ApiError::CpsLinkUsed { .. } | ApiError::CrossOrigin => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotRedeemable(_) => StatusCode::CONFLICT,
            ApiError::Streams(StreamCap::Total) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Streams(StreamCap::Client | StreamCap::Flow) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::LogoutFailed | ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable code for logs and metrics (`sqrl_refusals_total{code=…}`): kebab-case, never
    /// reworded once published.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::TooManyCodes => "too-many-codes",
            ApiError::TooManyRequests => "too-many-requests",
            ApiError::NoLoginCode => "no-login-code",
            ApiError::UnknownLoginCode => "unknown-login-code",
            ApiError::NotThisBrowser => "not-this-browser",
            ApiError::NotRedeemable(_) => "not-redeemable",
            ApiError::Streams(StreamCap::Total) => "streams-total",
            ApiError::Streams(StreamCap::Client) => "streams-client",
            ApiError::Streams(StreamCap::Flow) => "streams-flow",
            ApiError::NotFound => "not-found",
            ApiError::CpsLinkUsed { .. } => "cps-link-used",
            ApiError::CrossOrigin => "cross-origin",
            ApiError::LogoutFailed => "logout-failed",
            ApiError::Unavailable => "unavailable",
        }
    }

    /// The sentence for people in the JSON body.
    fn message(&self) -> String {
        match self {
            ApiError::TooManyCodes => "too many login codes; wait a moment".into(),
            ApiError::TooManyRequests => "too many requests".into(),
            ApiError::NoLoginCode => "no login code in this browser".into(),
            ApiError::UnknownLoginCode => "unknown login code".into(),
            ApiError::NotThisBrowser => "this browser did not start that login".into(),
            ApiError::NotRedeemable(e) => e.to_string(),
            ApiError::Streams(StreamCap::Total) => "too many open status streams".into(),
            ApiError::Streams(StreamCap::Client) => {
                "too many open status streams from this address".into()
            }
            ApiError::Streams(StreamCap::Flow) => "this login is watched too often".into(),
            ApiError::CrossOrigin => "refused: the request came from another site".into(),
            ApiError::LogoutFailed => "could not log out; try again".into(),
            ApiError::Unavailable => "try again".into(),
            ApiError::NotFound | ApiError::CpsLinkUsed { .. } => String::new(),
        }
    }
}

/// A redemption's refusal: by a browser without the flow's secret (`403`), of a login that is
/// not redeemable (`409`), or by a failed store (`503`).
impl From<BrowserError> for ApiError {
    fn from(error: BrowserError) -> Self {
        match error {
            BrowserError::Unknown => ApiError::NotThisBrowser,
            BrowserError::Flow(e) => ApiError::NotRedeemable(e),
            BrowserError::Store(_) => ApiError::Unavailable,
        }
    }
}

/// The response carries the refusal as an extension, so that the routes' layer counts it.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let counted = self.clone();
        let mut response = self.response();
        response.extensions_mut().insert(counted);
        response
    }
}

impl ApiError {
    fn response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::NotFound => status.into_response(),
            ApiError::CpsLinkUsed { login_page } => {
                let page = format!(
                    "<!doctype html><meta charset=utf-8><title>Login link used</title>\
                     <p>This login link was already used or has expired. <a href=\"{login_page}\">Log in again</a>.</p>"
                );
                (
                    status,
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
            // "Try again": a client (a proxy, a script) is told when, as the widget knows.
            ApiError::Unavailable | ApiError::LogoutFailed => (
                status,
                [(header::RETRY_AFTER, "1")],
                Json(json!({ "error": self.message() })),
            )
                .into_response(),
            other => (status, Json(json!({ "error": other.message() }))).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend failure is never a 500 and never reads as a refused login.
    #[test]
    fn a_failed_store_is_503_wherever_it_happens() {
        let store = || BrowserError::Store(StoreError::backend("down"));
        assert_eq!(
            ApiError::from(store()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::reading_status(store()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::reading_status(BrowserError::Unknown).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            ApiError::from(BrowserError::Unknown).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(BrowserError::Flow(FlowError::Expired)).status(),
            StatusCode::CONFLICT
        );
    }

    /// A backend failure says when to try again (`Retry-After`), and is counted by its code.
    #[test]
    fn a_backend_failure_is_503_with_retry_after() {
        for error in [ApiError::Unavailable, ApiError::LogoutFailed] {
            let response = error.clone().into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(response.extensions().get::<ApiError>(), Some(&error));
        }
        let limited = ApiError::TooManyCodes.into_response();
        assert!(limited.headers().get(header::RETRY_AFTER).is_none());
    }

    /// Before, a store failure while redeeming a CPS link answered 403 "already used or
    /// expired": a backend blip read as a refused login, and the link was given up on.
    #[test]
    fn a_store_failure_on_a_cps_link_is_503_not_link_used() {
        let cps = |e| ApiError::redeeming_cps(e, "/").status();
        assert_eq!(
            cps(BrowserError::Store(StoreError::backend("down"))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        for used in [
            BrowserError::Unknown,
            BrowserError::Flow(FlowError::Expired),
            BrowserError::Store(StoreError::Conflict),
        ] {
            assert_eq!(cps(used), StatusCode::FORBIDDEN);
        }
    }
}

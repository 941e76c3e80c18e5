//! `--check-clients`: the site grades every request a SQRL client sends to its endpoint
//! (`sqrl_check::grade`) before handling it as usual, keeps the grades in memory grouped by
//! exchange, and shows them at [`REPORT_PATH`] (`report`).
//!
//! An exchange is a chain of nuts: a request whose `nut=` is the nut of a reply this site sent
//! continues that reply's exchange; any other request starts one. Memory is bounded: the
//! newest 64 exchanges, 12 requests each, are kept (`book`).

mod book;
mod report;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sqrl_check::grade::{grade_oversized, grade_request, Context};
use sqrl_proto::MAX_BODY_LEN;

pub(crate) use book::ClientCheck;
pub(crate) use report::REPORT_PATH;

/// The longest reply of our own endpoint read back (a SQRL reply is a few hundred bytes).
const MAX_REPLY_LEN: usize = 16 * 1024;
/// The first `nut=` of a query string.
fn nut_of(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("nut="))
}

/// `app` with its SQRL endpoint graded by `check` and the report's routes added.
pub(crate) fn wrap(check: ClientCheck, app: Router) -> Router {
    app.merge(report::router(check.clone()))
        .layer(axum::middleware::from_fn_with_state(check, observe))
}

/// The wrapper around every route: grades the SQRL endpoint's POSTs and notes CPS links
/// opened; everything else passes untouched.
async fn observe(State(check): State<ClientCheck>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() == Method::POST && path == check.endpoint {
        return grade(check, request, next).await;
    }
    if request.method() == Method::GET && path == check.cps {
        if let Some(link) = request.uri().path_and_query() {
            check.opened(link.as_str());
        }
    }
    next.run(request).await
}

/// Grades a request to the SQRL endpoint, lets the endpoint answer it, records both.
async fn grade(check: ClientCheck, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let nut = parts.uri.query().and_then(nut_of).map(str::to_owned);
    let previous = check.previous(nut.as_deref());
    // The endpoint's own limit: a longer body gets the 413 it would get anyway.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_LEN).await else {
        check.record(previous.map(|(id, _)| id), grade_oversized(), "");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        )
            .into_response();
    };
    let graded = grade_request(
        &bytes,
        &Context {
            nut: nut.as_deref(),
            previous: previous.as_ref().map(|(_, p)| p),
        },
    );
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let Ok(reply) = axum::body::to_bytes(body, MAX_REPLY_LEN).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    };
    check.record(
        previous.map(|(id, _)| id),
        graded,
        &String::from_utf8_lossy(&reply),
    );
    Response::from_parts(parts, Body::from(reply))
}

#[cfg(test)]
mod tests {
    use super::nut_of;

    #[test]
    fn the_first_nut_of_a_query_is_read() {
        assert_eq!(nut_of("x=1&nut=abc&nut=def"), Some("abc"));
        assert_eq!(nut_of("x=1"), None);
    }
}

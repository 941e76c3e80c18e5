//! `--check-clients`: the site grades every request a SQRL client sends to its endpoint
//! (`sqrl_check::grade`) before handling it as usual, keeps the grades in memory grouped by
//! exchange, and shows them at [`REPORT_PATH`] ([`report`]).
//!
//! An exchange is a chain of nuts: a request whose `nut=` is the nut of a reply this site sent
//! continues that reply's exchange; any other request starts one. Memory is bounded: the
//! newest [`MAX_EXCHANGES`] exchanges, [`MAX_REQUESTS`] requests each, are kept.

mod report;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sqrl_check::grade::{grade_oversized, grade_request, Context, Grade, Graded, Previous};
use sqrl_proto::{ServerParams, MAX_BODY_LEN};

/// Where the report page is; its JSON form is at the same path with `.json`.
pub(crate) const REPORT_PATH: &str = "/client-check";
/// Exchanges kept; the oldest is forgotten when another starts.
const MAX_EXCHANGES: usize = 64;
/// Requests kept per exchange; later ones are only counted.
const MAX_REQUESTS: usize = 12;
/// The longest reply of our own endpoint read back (a SQRL reply is a few hundred bytes).
const MAX_REPLY_LEN: usize = 16 * 1024;
/// The most characters of a client's `idk` kept.
const MAX_IDK_LEN: usize = 64;

/// The grades so far, shared by the endpoint's wrapper and the report.
#[derive(Clone, Debug)]
pub(crate) struct ClientCheck {
    book: Arc<Mutex<Book>>,
    /// The SQRL endpoint's path (`/sqrl`).
    endpoint: String,
    /// Its CPS redemption path (`/sqrl/cps`).
    cps: String,
}

#[derive(Debug, Default)]
struct Book {
    /// Oldest first.
    exchanges: VecDeque<Exchange>,
    next_id: u64,
    /// The nut of every reply of a kept exchange: its exchange, and the reply.
    replies: HashMap<String, (u64, Previous)>,
    /// The path and query of every CPS `url=` sent and not yet opened: its exchange.
    cps_links: HashMap<String, u64>,
    /// Exchanges forgotten to stay within [`MAX_EXCHANGES`].
    forgotten: u64,
}

#[derive(Debug)]
struct Exchange {
    id: u64,
    /// Unix seconds of its first request.
    started: u64,
    idk: Option<String>,
    requests: Vec<Recorded>,
    /// The nuts of the replies sent on it (to forget them with it).
    nuts: Vec<String>,
    /// Set when a non-query command asked for CPS.
    cps: Option<Cps>,
    /// Requests past [`MAX_REQUESTS`], counted only.
    unrecorded: usize,
}

#[derive(Debug)]
struct Cps {
    /// The reply carried `url=`.
    url_sent: bool,
    /// A browser opened it.
    followed: bool,
    /// Its path and query, while it waits.
    link: Option<String>,
}

#[derive(Debug)]
struct Recorded {
    command: String,
    /// The reply's TIF in hex, when the reply was a SQRL reply.
    tif: Option<String>,
    grades: Vec<Grade>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The first `nut=` of a query string.
fn nut_of(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("nut="))
}

/// The path and query of a CPS link (absolute, as our server sends it, or root-anchored).
fn link_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) if url.contains("://") => after_scheme.get(i..).unwrap_or("/").to_owned(),
        _ => url.to_owned(),
    }
}

impl ClientCheck {
    /// Grades for the SQRL endpoint at `endpoint` (`/sqrl`).
    pub(crate) fn new(endpoint: &str) -> Self {
        Self {
            book: Arc::new(Mutex::new(Book::default())),
            endpoint: endpoint.to_owned(),
            cps: format!("{endpoint}/cps"),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // The book is only ever left consistent; a panic elsewhere does not spoil it.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `app` with its SQRL endpoint graded and the report's routes added.
    pub(crate) fn wrap(self, app: Router) -> Router {
        app.merge(report::router(self.clone()))
            .layer(axum::middleware::from_fn_with_state(self, observe))
    }

    /// The exchange a request on `nut` continues, and the reply it answers.
    fn previous(&self, nut: Option<&str>) -> Option<(u64, Previous)> {
        let book = self.book();
        nut.and_then(|nut| book.replies.get(nut)).cloned()
    }

    /// Records one graded request and the reply it got.
    fn record(&self, exchange: Option<u64>, graded: Graded, reply: &str) {
        let params = ServerParams::decode(reply.trim()).ok();
        let previous = Previous::from_reply(reply);
        let mut book = self.book();
        let book = &mut *book;
        let id = match exchange.filter(|id| book.exchanges.iter().any(|e| e.id == *id)) {
            Some(id) => id,
            None => book.open(),
        };
        let Some(exchange) = book.exchanges.iter_mut().find(|e| e.id == id) else {
            return;
        };
        if exchange.requests.len() >= MAX_REQUESTS {
            exchange.unrecorded = exchange.unrecorded.saturating_add(1);
            return;
        }
        if exchange.idk.is_none() {
            exchange.idk = graded
                .idk
                .map(|idk| idk.chars().take(MAX_IDK_LEN).collect());
        }
        let command = graded.command.unwrap_or_default();
        if graded.cps && command != "query" {
            let link = params
                .as_ref()
                .and_then(|p| p.url.as_deref())
                .map(link_path);
            if let Some(link) = &link {
                book.cps_links.insert(link.clone(), id);
            }
            exchange.cps = Some(Cps {
                url_sent: link.is_some(),
                followed: false,
                link,
            });
        }
        exchange.requests.push(Recorded {
            command: command.chars().take(16).collect(),
            tif: params.as_ref().map(|p| format!("{:X}", p.tif.bits())),
            grades: graded.grades,
        });
        if let (Some(params), Some(previous)) = (params, previous) {
            exchange.nuts.push(params.nut.clone());
            book.replies.insert(params.nut, (id, previous));
        }
    }

    /// A browser opened `link`: if it is a CPS `url=` this site sent, its exchange followed it.
    fn opened(&self, link: &str) {
        let mut book = self.book();
        let Some(id) = book.cps_links.remove(link) else {
            return;
        };
        if let Some(cps) = book
            .exchanges
            .iter_mut()
            .find(|e| e.id == id)
            .and_then(|e| e.cps.as_mut())
        {
            cps.followed = true;
            cps.link = None;
        }
    }
}

impl Book {
    /// Starts an exchange, forgetting the oldest when full; returns its id.
    fn open(&mut self) -> u64 {
        while self.exchanges.len() >= MAX_EXCHANGES {
            let Some(old) = self.exchanges.pop_front() else {
                break;
            };
            for nut in &old.nuts {
                self.replies.remove(nut);
            }
            if let Some(link) = old.cps.and_then(|cps| cps.link) {
                self.cps_links.remove(&link);
            }
            self.forgotten = self.forgotten.saturating_add(1);
        }
        self.next_id = self.next_id.saturating_add(1);
        self.exchanges.push_back(Exchange {
            id: self.next_id,
            started: unix_now(),
            idk: None,
            requests: Vec::new(),
            nuts: Vec::new(),
            cps: None,
            unrecorded: 0,
        });
        self.next_id
    }
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
mod tests;

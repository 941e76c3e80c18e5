//! The report: every kept exchange, newest first, with each request's grades; as a page
//! (`/client-check`) and as JSON (`/client-check.json`) for CI.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqrl_axum::date::utc;
use sqrl_check::grade::{grade_cps, Grade, Verdict};

use super::book::{ClientCheck, Exchange};
use crate::pages;

/// Where the report page is; its JSON form is at the same path with `.json`.
pub(crate) const REPORT_PATH: &str = "/client-check";

/// The routes of the report.
pub(super) fn router(check: ClientCheck) -> Router {
    Router::new()
        .route(REPORT_PATH, get(page))
        .route(&format!("{REPORT_PATH}.json"), get(json))
        .layer(axum::middleware::map_response(pages::security_headers))
        .with_state(check)
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    /// Grades of every kept request, by verdict.
    totals: Totals,
    /// Newest first.
    exchanges: Vec<ExchangeView>,
    /// Exchanges forgotten to bound memory.
    forgotten: u64,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    pass: usize,
    warn: usize,
    fail: usize,
}

impl Totals {
    fn add(&mut self, grade: &Grade) {
        let count = match grade.verdict {
            Verdict::Pass => &mut self.pass,
            Verdict::Warn => &mut self.warn,
            Verdict::Fail => &mut self.fail,
        };
        *count = count.saturating_add(1);
    }
}

#[derive(Debug, Serialize)]
struct ExchangeView {
    id: u64,
    started: String,
    idk: Option<String>,
    /// The worst verdict in it.
    verdict: Verdict,
    requests: Vec<RequestView>,
    /// The CPS grade, when a command asked for CPS.
    cps: Option<Grade>,
    /// Requests past the per-exchange limit, not graded.
    unrecorded: usize,
}

#[derive(Debug, Serialize)]
struct RequestView {
    command: String,
    /// The TIF of the site's reply (hex).
    tif: Option<String>,
    grades: Vec<Grade>,
}

fn worst<'a>(grades: impl Iterator<Item = &'a Grade>) -> Verdict {
    grades.fold(Verdict::Pass, |worst, grade| match (worst, grade.verdict) {
        (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
        (Verdict::Warn, _) | (_, Verdict::Warn) => Verdict::Warn,
        _ => Verdict::Pass,
    })
}

fn view(exchange: &Exchange, totals: &mut Totals) -> ExchangeView {
    let cps = exchange
        .cps
        .as_ref()
        .map(|cps| grade_cps(cps.url_sent, cps.followed));
    let requests: Vec<RequestView> = exchange
        .requests
        .iter()
        .map(|r| RequestView {
            command: r.command.clone(),
            tif: r.tif.clone(),
            grades: r.grades.clone(),
        })
        .collect();
    let all = || {
        requests
            .iter()
            .flat_map(|r| r.grades.iter())
            .chain(cps.iter())
    };
    for grade in all() {
        totals.add(grade);
    }
    ExchangeView {
        id: exchange.id,
        started: utc(exchange.started),
        idk: exchange.idk.clone(),
        verdict: worst(all()),
        requests,
        cps,
        unrecorded: exchange.unrecorded,
    }
}

/// `?idk=`: only the exchanges of one client identity (as it sent `idk`).
#[derive(Debug, Deserialize)]
struct Filter {
    idk: Option<String>,
}

impl ClientCheck {
    fn report(&self, filter: &Filter) -> Report {
        let book = self.book();
        let mut totals = Totals::default();
        let exchanges = book
            .exchanges
            .iter()
            .rev()
            .filter(|exchange| {
                filter
                    .idk
                    .as_deref()
                    .is_none_or(|idk| exchange.idk.as_deref() == Some(idk))
            })
            .map(|exchange| view(exchange, &mut totals))
            .collect();
        Report {
            totals,
            exchanges,
            forgotten: book.forgotten,
        }
    }
}

#[derive(Template)]
#[template(path = "client-check.html")]
struct Page {
    css: String,
    report: Report,
    /// The `idk` the report is limited to, if any.
    only: Option<String>,
}

async fn page(State(check): State<ClientCheck>, Query(filter): Query<Filter>) -> Response {
    pages::html(&Page {
        css: pages::stylesheet_href(),
        report: check.report(&filter),
        only: filter.idk,
    })
}

async fn json(State(check): State<ClientCheck>, Query(filter): Query<Filter>) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(check.report(&filter)),
    )
        .into_response()
}

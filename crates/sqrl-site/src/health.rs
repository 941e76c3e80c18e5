//! Health for orchestrators (Kubernetes probes, systemd or load-balancer checks):
//!
//! - `GET /healthz`, liveness: 200 `ok` while the process serves requests at all. It reads
//!   no backend, so a database outage does not get the site restarted (which would not help).
//! - `GET /readyz`, readiness: 200 `ready` when the database and the flow store (Redis, with
//!   `--redis`) answer a read within [`PROBE_TIMEOUT`], and the site is not stopping; 503
//!   with one line per failed check otherwise. A load balancer then sends logins elsewhere.
//!
//! A readiness answer is reused for [`FRESH_FOR`], so probes (or anyone else) cannot turn
//! into load on the database.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sqrl_axum::SqrlHttp;
use sqrl_server::FlowId;

/// How long one backend may take to answer a readiness read.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a readiness answer is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The last readiness answer: when, and what kept the site from being ready.
type LastAnswer = Option<(Instant, Vec<String>)>;

#[derive(Clone)]
struct Health {
    sqrl: SqrlHttp,
    last: Arc<Mutex<LastAnswer>>,
}

/// The two routes.
pub(crate) fn router(sqrl: SqrlHttp) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { text(StatusCode::OK, "ok\n".into()) }),
        )
        .route("/readyz", get(ready))
        .with_state(Health {
            sqrl,
            last: Arc::new(Mutex::new(None)),
        })
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// What keeps the site from being ready: empty when it is.
async fn problems(sqrl: &SqrlHttp) -> Vec<String> {
    if sqrl.draining() {
        return vec!["stopping: draining connections".into()];
    }
    let store = sqrl.store();
    // Reads of records that do not exist: one round trip each, nothing written.
    let database = tokio::time::timeout(PROBE_TIMEOUT, store.session(&[0; 32]));
    let flows = tokio::time::timeout(PROBE_TIMEOUT, store.flow(&FlowId([0; 16])));
    let (database, flows) = tokio::join!(database, flows);
    let mut problems = Vec::new();
    let mut check = |what: &str, result: Result<Result<(), String>, _>| match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("{what}: {e}")),
        Err(_) => problems.push(format!(
            "{what}: no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    };
    check(
        "database",
        database.map(|r| r.map(|_| ()).map_err(|e| e.to_string())),
    );
    check(
        "flow store",
        flows.map(|r| r.map(|_| ()).map_err(|e| e.to_string())),
    );
    problems
}

async fn ready(State(health): State<Health>) -> Response {
    let cached = health
        .last
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .filter(|(at, _)| at.elapsed() < FRESH_FOR)
        .map(|(_, problems)| problems.clone());
    // Draining is known at once, without a read: never reuse a "ready" then.
    let problems = match cached {
        Some(problems) if !health.sqrl.draining() => problems,
        _ => {
            let problems = problems(&health.sqrl).await;
            *health.last.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((Instant::now(), problems.clone()));
            problems
        }
    };
    if problems.is_empty() {
        text(StatusCode::OK, "ready\n".into())
    } else {
        let mut body = String::from("not ready\n");
        for problem in &problems {
            body.push_str(problem);
            body.push('\n');
        }
        text(StatusCode::SERVICE_UNAVAILABLE, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use sqrl_server::{Config, Endpoint, SqrlServer};

    fn get(app: &Router, path: &str) -> (u16, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut app = app.clone();
            let request = Request::get(path).body(Body::empty()).unwrap();
            let response = tower_service::Service::call(&mut app, request)
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }

    /// Readiness must turn false when the site stops (SIGTERM), even right after a "ready"
    /// that a cache could have reused; liveness stays true.
    #[test]
    fn readiness_is_false_while_draining_and_liveness_stays_true() {
        let endpoint = Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32]);
        let sqrl = SqrlHttp::builder(SqrlServer::in_memory(endpoint)).build();
        let app = router(sqrl.clone());
        assert_eq!(get(&app, "/readyz"), (200, "ready\n".into()));
        assert_eq!(get(&app, "/healthz"), (200, "ok\n".into()));
        sqrl.drain();
        let (status, body) = get(&app, "/readyz");
        assert_eq!(status, 503);
        assert!(body.contains("stopping"), "{body}");
        assert_eq!(get(&app, "/healthz"), (200, "ok\n".into()));
    }
}

//! Watching a login's status: `GET <path>/events` (Server-Sent Events) and `GET <path>/poll`
//! (long-poll). Both read the flow named by the browser's flow cookie, wake on the flow's
//! events and re-read it at the next deadline (the code's expiry, the end of the redemption
//! window, or the fallback interval), and speak the JSON of [`status_json`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{stream, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use sqrl_server::{BrowserError, FlowId, Status, Subscription, UnixTime};

use crate::error::ApiError;
use crate::streams::StreamPermit;
use crate::{cookie_value, SqrlHttp, FLOW_COOKIE};

/// How long a long-poll waits for a change before it answers anyway.
const LONG_POLL: Duration = Duration::from_secs(25);

/// The flow cookie: flow id, issue time (seconds since the Unix epoch), and the secret that
/// authenticates both.
pub(crate) struct FlowCookie {
    pub(crate) flow: FlowId,
    pub(crate) issued_at: u64,
    pub(crate) secret: String,
}

impl FlowCookie {
    /// The request's flow cookie, if it has a readable one.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let value = cookie_value(headers, FLOW_COOKIE)?;
        let mut parts = value.split('.');
        Some(FlowCookie {
            flow: FlowId::decode(parts.next()?)?,
            issued_at: parts.next()?.parse().ok()?,
            secret: parts.next()?.to_owned(),
        })
    }
}

/// The JSON of a status for the page: `status`, `expires_in`, `detail` when there is one,
/// and `"final": true` when nothing will change the status any more.
pub(crate) fn status_json(status: Status, expires_in: u64) -> serde_json::Value {
    let mut json = json!({ "status": status.as_str(), "expires_in": expires_in });
    if let Some(object) = json.as_object_mut() {
        if let Some(detail) = status.detail() {
            object.insert("detail".into(), detail.into());
        }
        if status.is_final() {
            object.insert("final".into(), true.into());
        }
    }
    json
}

/// A flow read as `new` after a phone had it (`scanned`, `confirmed`) was lost by the flow
/// store (Redis restarted empty): its login can no longer complete, so the page is told it
/// `failed` (final: it offers a new code) rather than shown a fresh code that its phone has
/// moved past. A flow never goes back to `new` otherwise. `seen` says the layer itself read
/// `before` (a stream's last status; logged once, as each stream can only lose its flow
/// once), not a page's claim (a long-poll's `last=`, which anyone can write: not logged).
pub(crate) fn unless_lost(before: Status, now: Status, seen: bool) -> Status {
    let had_phone = matches!(
        before,
        Status::Scanned | Status::ScannedDisabled | Status::Confirmed
    );
    if had_phone && now == Status::New {
        if !seen {
            return Status::Failed;
        }
        tracing::warn!(
            before = before.as_str(),
            "a login's flow was lost by the flow store (restarted without persistence?); \
             its page is told the login failed"
        );
        Status::Failed
    } else {
        now
    }
}

/// One page watching its login: the flow it reads, the subscription to its events, and the
/// status it last read.
pub(crate) struct Watcher {
    http: SqrlHttp,
    cookie: FlowCookie,
    subscription: Subscription,
    status: Status,
}

impl Watcher {
    /// Checks the poll limit and the cookie, subscribes to the flow and reads its status.
    async fn open(
        http: &SqrlHttp,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let ip = http.client_ip(peer, headers);
        if !http.allow_poll(ip).await? {
            return Err(ApiError::TooManyRequests);
        }
        let cookie = FlowCookie::of(headers).ok_or(ApiError::NoLoginCode)?;
        // Subscribe first, then read: no change can fall between the two.
        let subscription = http.sqrl().subscribe(cookie.flow);
        let status = read(http, &cookie)
            .await
            .map_err(ApiError::reading_status)?;
        // The cookie's secret checked out: its issue time is the issuing instance's clock.
        http.observe_issue_time(cookie.issued_at);
        Ok(Self {
            http: http.clone(),
            cookie,
            subscription,
            status,
        })
    }

    /// The status last read.
    fn status(&self) -> Status {
        self.status
    }

    /// Seconds until the code expires.
    fn seconds_left(&self) -> u64 {
        self.cookie
            .issued_at
            .saturating_add(self.http.lifetimes().nut)
            .saturating_sub(self.http.now().as_secs())
    }

    /// The status last read, as the page's JSON.
    fn json(&self) -> serde_json::Value {
        status_json(self.status, self.seconds_left())
    }

    /// Waits for the flow's next status: its event, or a re-read at the next deadline (the
    /// code's expiry, or the fallback interval). `None` when the flow can no longer be read.
    async fn next(&mut self) -> Option<Status> {
        let life = self.http.lifetimes();
        let now = self.http.now();
        let expiry = match self.status {
            Status::Confirmed => now.saturating_add(Duration::from_secs(life.redeem)),
            _ => UnixTime::from_secs(self.cookie.issued_at.saturating_add(life.nut)),
        };
        let wait = expiry
            .saturating_duration_since(now)
            .saturating_add(Duration::from_millis(50))
            .min(self.http.settings().reread);
        let event = tokio::select! {
            event = self.subscription.next() => match event {
                Some(status) => Some(status),
                None => {
                    tokio::time::sleep(wait).await;
                    None
                }
            },
            _ = tokio::time::sleep(wait) => None,
        };
        let status = match event {
            Some(status) => status,
            None => read(&self.http, &self.cookie).await.ok()?,
        };
        let status = unless_lost(self.status, status, true);
        self.status = status;
        Some(status)
    }
}

/// The flow's status, as the page sees it.
async fn read(http: &SqrlHttp, cookie: &FlowCookie) -> Result<Status, BrowserError> {
    http.sqrl()
        .status(&cookie.flow, &cookie.secret, cookie.issued_at, http.now())
        .await
}

/// The `status` events of one page's stream: the current status first, then one per change
/// (a change of detail alone is one), and none after a final status. Holds its place under
/// the stream caps until dropped.
pub(crate) struct StatusEvents {
    watcher: Watcher,
    sent: Option<Status>,
    retry: Duration,
    /// The layer drains, or the stream's place was given away: the last event (the retry
    /// hint) was sent.
    drained: bool,
    permit: StreamPermit,
}

impl StatusEvents {
    /// The next event, or `None` when the stream is over (a final status was sent, or the
    /// flow can no longer be read).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.drained || self.sent.is_some_and(Status::is_final) {
                return None;
            }
            if self.sent.is_some() {
                let http = self.watcher.http.clone();
                tokio::select! {
                    next = self.watcher.next() => { next?; }
                    () = http.drained() => {
                        // The server stops: a last event with only the retry interval ends
                        // the stream, and the page's EventSource reconnects after it.
                        self.drained = true;
                        return Some(Event::default().comment("draining").retry(self.retry));
                    }
                    () = self.permit.evicted() => {
                        // The site is full and this client held the most: its oldest stream
                        // makes room; the page reconnects, or polls if refused.
                        self.drained = true;
                        return Some(Event::default().comment("make room").retry(self.retry));
                    }
                }
            }
            let status = self.watcher.status();
            if Some(status) != self.sent {
                self.sent = Some(status);
                let data = self.watcher.json().to_string();
                return Some(
                    Event::default()
                        .event("status")
                        .data(data)
                        .retry(self.retry),
                );
            }
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut events| async move {
            let event = events.next_event().await?;
            Some((Ok(event), events))
        })
    }
}

/// `GET /sqrl/events`: Server-Sent Events with the flow's status, until it is final.
pub(crate) async fn events(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let watcher = Watcher::open(&http, peer, &headers).await?;
    let permit = http.open_stream(http.client_ip(peer, &headers), watcher.cookie.flow)?;
    let events = StatusEvents {
        watcher,
        sent: None,
        retry: http.settings().retry,
        drained: false,
        permit,
    };
    Ok(Sse::new(events.into_stream())
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PollQuery {
    last: Option<String>,
    /// The detail the page last saw (empty: none). Absent: the page does not know details,
    /// and a change of detail alone does not answer its poll.
    detail: Option<String>,
}

impl PollQuery {
    /// The page already shows `status`.
    fn shows(&self, status: Status) -> bool {
        self.last.as_deref() == Some(status.as_str())
            && self
                .detail
                .as_deref()
                .is_none_or(|d| d == status.detail().unwrap_or_default())
    }
}

/// `GET /sqrl/poll?last=…[&detail=…]`: answers when the status (or, if the page names one,
/// the detail) differs from what the page shows, or after 25 s.
pub(crate) async fn poll(
    State(http): State<SqrlHttp>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut watcher = Watcher::open(&http, peer, &headers).await?;
    let shown = q
        .last
        .as_deref()
        .and_then(|last| Status::from_parts(last, q.detail.as_deref().filter(|d| !d.is_empty())));
    if let Some(shown) = shown {
        watcher.status = unless_lost(shown, watcher.status, false);
    }
    let now = tokio::time::Instant::now();
    let deadline = now.checked_add(LONG_POLL).unwrap_or(now);
    // A draining server answers with what it has: the page polls again (elsewhere).
    while q.shows(watcher.status()) && !watcher.status().is_final() && !http.draining() {
        tokio::select! {
            next = tokio::time::timeout_at(deadline, watcher.next()) => match next {
                Ok(Some(_)) => {}
                Ok(None) => return Err(ApiError::Unavailable),
                Err(_) => break,
            },
            () = http.drained() => break,
        }
    }
    let mut body = watcher.json();
    if let Some(object) = body.as_object_mut() {
        object.insert("retry_ms".into(), http.retry_ms().into());
    }
    Ok(Json(body))
}

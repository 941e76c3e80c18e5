//! The listener: an accept loop over hyper's HTTP/1 connection, with the limits a public site
//! needs and `axum::serve` lacks.
//!
//! - **Connection caps**: at most [`Limits::max_connections`] open connections in all (sized
//!   from the file-descriptor limit, so accepting can never starve the database of
//!   descriptors), and at most [`Limits::max_per_client`] from one client prefix (an IPv4
//!   address, an IPv6 /64). A connection over a cap is closed at once, before it is read.
//! - **Timeouts**: a TLS handshake must finish within [`Limits::handshake_timeout`]; each
//!   request head must arrive within [`Limits::header_timeout`] of the connection opening or
//!   of the previous response (so slowloris heads and idle keep-alive connections are closed
//!   then); a request body must arrive within [`Limits::body_timeout`] of its head. A
//!   response being sent (a status stream, a long poll) is not limited: its keep-alives keep
//!   it open for as long as the browser reads. A connection whose writes make no progress
//!   for [`Limits::write_timeout`] (a client that does not read) is closed.
//! - Every accepted socket gets `TCP_NODELAY`; handlers get `ConnectInfo<SocketAddr>`; HTTPS
//!   responses carry `Strict-Transport-Security`.
//!
//! Every limit that bites is logged, at most once per [`LOG_EVERY`] for each kind, with how
//! many times it bit since the last line, so an attack cannot flood the log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sqrl_server::Prefixes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;

use sqrl_axum::{LogGate, UnixTime};

/// The shortest interval between two log lines about one kind of limit.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// `Strict-Transport-Security` on every HTTPS response: one year, this host only (the site
/// cannot speak for its parent domain's other hosts, so no `includeSubDomains`).
pub(crate) const HSTS: &str = "max-age=31536000";

/// The listener's limits.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// A TLS handshake must complete within this.
    pub(crate) handshake_timeout: Duration,
    /// Each request head must arrive within this of the connection opening or of the previous
    /// response; idle keep-alive connections are closed after it too.
    pub(crate) header_timeout: Duration,
    /// A request body must arrive within this of its head.
    pub(crate) body_timeout: Duration,
    /// A write that makes no progress for this long closes the connection.
    pub(crate) write_timeout: Duration,
    /// Most open connections in all.
    pub(crate) max_connections: usize,
    /// Most open connections from one client prefix (IPv4 address, IPv6 /64).
    pub(crate) max_per_client: usize,
}

/// The file-descriptor limit, raised to the hard limit first (as servers do: the default soft
/// limit of 1024 is for programs that do not expect many connections). `None` when unknown or
/// unlimited.
pub(crate) fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current?;
        // Some systems report "unlimited" as the hard limit but refuse more than about a
        // million; stay within that.
        let wanted = limit.maximum.unwrap_or(1 << 20).min(1 << 20);
        if wanted > current {
            let raised = rustix::process::Rlimit {
                current: Some(wanted),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(wanted);
            }
        }
        Some(current)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The default global connection cap for a file-descriptor limit: an eighth of the
/// descriptors plus 64 stay for the database, Redis, log files and the runtime, and the cap is
/// at most 50 000 (each open connection costs memory too).
pub(crate) fn default_max_connections(fd_limit: Option<u64>) -> usize {
    connections_that_fit(fd_limit).min(50_000)
}

/// The connections a file-descriptor limit leaves room for: all but an eighth and 64.
pub(crate) fn connections_that_fit(fd_limit: Option<u64>) -> usize {
    let limit = fd_limit.unwrap_or(4096);
    let usable = limit.saturating_sub(limit / 8).saturating_sub(64).max(16);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

/// The default per-client cap: 256 (a browser opens about 6; a network behind one NAT address
/// shares it), and never more than a quarter of the global cap, so that four clients are
/// needed to take the site's connections.
pub(crate) fn default_max_per_client(max_connections: usize) -> usize {
    (max_connections / 4).clamp(1, 256)
}

/// One [`LogGate`] per kind of limit, each letting a line through at most once per
/// [`LOG_EVERY`] and counting the ones it held back.
#[derive(Debug)]
struct Logs {
    /// The gates' clock starts here.
    start: Instant,
    global_cap: LogGate,
    client_cap: LogGate,
    accept_error: LogGate,
    handshake: LogGate,
    header_timeout: LogGate,
    body_timeout: LogGate,
    write_timeout: LogGate,
}

impl Logs {
    /// `Some(lines held back since the last one)` when `gate` lets a line through now.
    fn open(&self, gate: &LogGate) -> Option<u64> {
        // The gates only compare times: a monotonic clock counted from the site's start
        // serves them better than the wall clock, which may step back.
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        gate.open(UnixTime::from_millis(elapsed))
    }
}

/// The connection caps, shared by every listener of the site.
#[derive(Debug, Clone)]
pub(crate) struct Caps {
    inner: Arc<CapsInner>,
}

#[derive(Debug)]
struct CapsInner {
    limits: Limits,
    global: Arc<Semaphore>,
    per_client: Mutex<HashMap<String, usize>>,
    prefixes: Prefixes,
    logs: Logs,
}

/// An admitted connection: holds its places under both caps until dropped.
#[derive(Debug)]
struct Admitted {
    _permit: OwnedSemaphorePermit,
    _client: ClientSlot,
}

#[derive(Debug)]
struct ClientSlot {
    caps: Arc<CapsInner>,
    key: String,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self
            .caps
            .per_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = clients.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

impl Caps {
    /// Caps with these limits.
    pub(crate) fn new(limits: Limits) -> Self {
        let gate = || LogGate::new(LOG_EVERY);
        Self {
            inner: Arc::new(CapsInner {
                global: Arc::new(Semaphore::new(limits.max_connections)),
                limits,
                per_client: Mutex::new(HashMap::new()),
                prefixes: Prefixes::default(),
                logs: Logs {
                    start: Instant::now(),
                    global_cap: gate(),
                    client_cap: gate(),
                    accept_error: gate(),
                    handshake: gate(),
                    header_timeout: gate(),
                    body_timeout: gate(),
                    write_timeout: gate(),
                },
            }),
        }
    }

    /// The limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Logs (rate-limited) a connection closed for sending no request in time.
    pub(crate) fn header_timed_out(&self, peer: SocketAddr) {
        let logs = &self.inner.logs;
        if let Some(skipped) = logs.open(&logs.header_timeout) {
            tracing::info!(
                client = %peer.ip(),
                timeout_s = self.limits().header_timeout.as_secs_f64(),
                closed_since_last_line = skipped,
                "closed a connection that sent no complete request in time"
            );
        }
    }

    /// A place for a new connection from `ip`, or `None` (and a log line) when a cap is full.
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let inner = &self.inner;
        let key = inner.prefixes.key(ip);
        let client = {
            let mut clients = inner
                .per_client
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let count = clients.entry(key.clone()).or_insert(0);
            if *count >= inner.limits.max_per_client {
                drop(clients);
                if let Some(skipped) = inner.logs.open(&inner.logs.client_cap) {
                    tracing::warn!(
                        client = %key,
                        cap = inner.limits.max_per_client,
                        refused_since_last_line = skipped,
                        "connection refused: this client has the most connections allowed"
                    );
                }
                return None;
            }
            *count = count.saturating_add(1);
            ClientSlot {
                caps: inner.clone(),
                key,
            }
        };
        match inner.global.clone().try_acquire_owned() {
            Ok(permit) => Some(Admitted {
                _permit: permit,
                _client: client,
            }),
            Err(_) => {
                if let Some(skipped) = inner.logs.open(&inner.logs.global_cap) {
                    tracing::warn!(
                        cap = inner.limits.max_connections,
                        refused_since_last_line = skipped,
                        "connection refused: the site has the most connections allowed"
                    );
                }
                None
            }
        }
    }
}

/// What one listener serves.
#[derive(Clone)]
pub(crate) struct Site {
    /// The app.
    pub(crate) app: Router,
    /// TLS, when the listener serves HTTPS.
    pub(crate) tls: Option<TlsAcceptor>,
    /// The caps (shared with the site's other listeners).
    pub(crate) caps: Caps,
}

impl core::fmt::Debug for Site {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Site")
            .field("https", &self.tls.is_some())
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// Tells connections and accept loops that the site is shutting down (when it turns true).
pub(crate) type Shutdown = watch::Receiver<bool>;

/// Waits until the site shuts down.
pub(crate) async fn stopped(shutdown: &mut Shutdown) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts connections until `shutdown` turns true, then lets open connections finish their
/// current request, waiting at most `grace` (the app ends its status streams itself when it
/// drains); returns whether every connection finished in time.
pub(crate) async fn serve(
    listener: TcpListener,
    site: Site,
    mut shutdown: Shutdown,
    grace: Duration,
) -> bool {
    // Every connection task holds a receiver; when all are gone, all connections are closed.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&site.caps, &e).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let Some(admitted) = site.caps.admit(peer.ip()) else {
            drop(tcp);
            continue;
        };
        let site = site.clone();
        let shutdown = shutdown.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            connection(tcp, peer, site, shutdown).await;
            drop(admitted);
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    tokio::time::timeout(grace, open_tx.closed()).await.is_ok()
}

async fn accept_failed(caps: &Caps, error: &std::io::Error) {
    if let Some(skipped) = caps.inner.logs.open(&caps.inner.logs.accept_error) {
        tracing::warn!(%error, failed_since_last_line = skipped, "cannot accept a connection");
    }
    // Out of descriptors (or another resource): give the open connections a moment to end
    // rather than spinning on the error.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn connection(tcp: TcpStream, peer: SocketAddr, site: Site, shutdown: Shutdown) {
    // Small writes (SSE events, replies) go out at once, not after a delayed ACK.
    let _ = tcp.set_nodelay(true);
    let caps = &site.caps;
    let tcp = WriteStall::new(tcp, caps.clone(), peer);
    // The TLS path's state (rustls' connection inside the hyper one) is boxed, so a plain
    // connection's task is not sized for it: memory per open connection (a waiting page's
    // stream) is what the idle-page benchmark measures.
    match &site.tls {
        None => http(tcp, peer, &site, shutdown, false).await,
        Some(acceptor) => {
            let handshake = Box::pin(acceptor.accept(tcp));
            match tokio::time::timeout(caps.limits().handshake_timeout, handshake).await {
                Ok(Ok(tls)) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => {
                    Box::pin(crate::h2::serve(tls, peer, &site, shutdown)).await;
                }
                Ok(Ok(tls)) => Box::pin(http(tls, peer, &site, shutdown, true)).await,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                }
                Err(_) => {
                    if let Some(skipped) = caps.inner.logs.open(&caps.inner.logs.handshake) {
                        tracing::info!(
                            client = %peer.ip(),
                            timeout_s = caps.limits().handshake_timeout.as_secs_f64(),
                            closed_since_last_line = skipped,
                            "closed a connection that did not finish its TLS handshake in time"
                        );
                    }
                }
            }
        }
    }
}

/// One request of a connection from `peer`, on HTTP/1.1 or HTTP/2: the body deadline, the
/// client's address for the handlers, the app, and HSTS over HTTPS.
pub(crate) fn respond(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    site: &Site,
    https: bool,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static {
    request.extensions_mut().insert(ConnectInfo(peer));
    let caps = site.caps.clone();
    let request = request.map(|body| Body::new(DeadlineBody::new(body, caps)));
    let mut app = site.app.clone();
    async move {
        let mut response: Response<Body> =
            match tower_service::Service::call(&mut app, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        if https {
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        Ok(response)
    }
}

async fn http<I>(io: I, peer: SocketAddr, site: &Site, mut shutdown: Shutdown, https: bool)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = site.clone();
    let service =
        service_fn(move |request: Request<Incoming>| respond(request, peer, &shared, https));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(site.caps.limits().header_timeout)
        .keep_alive(true);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(error) = result {
        if error.is_timeout() {
            site.caps.header_timed_out(peer);
        } else {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// A connection whose writes fail once one has made no progress for the write timeout: a
/// client that stops reading cannot hold its connection (and the memory of what waits to be
/// sent) for ever.
struct WriteStall<I> {
    io: I,
    caps: Caps,
    peer: SocketAddr,
    /// Running while a write is pending.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<I> WriteStall<I> {
    fn new(io: I, caps: Caps, peer: SocketAddr) -> Self {
        Self {
            io,
            caps,
            peer,
            stalled: None,
        }
    }

    /// Turns a pending write into an error once the stall has lasted the write timeout.
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.caps.limits().write_timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(skipped) = self
            .caps
            .inner
            .logs
            .open(&self.caps.inner.logs.write_timeout)
        {
            tracing::info!(
                client = %self.peer.ip(),
                timeout_s = timeout.as_secs_f64(),
                closed_since_last_line = skipped,
                "closed a connection that stopped reading its responses"
            );
        }
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteStall<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteStall<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.check(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.check(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.check(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.check(cx, poll)
    }
}

/// A request body that fails when it has not arrived within the body timeout of its head
/// (the handler answers 400 and the connection is closed).
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Made on the first wait, so that bodies which are already there cost no timer.
    sleep: Option<Pin<Box<Sleep>>>,
    caps: Caps,
}

impl DeadlineBody {
    fn new(inner: Incoming, caps: Caps) -> Self {
        let deadline = Instant::now()
            .checked_add(caps.limits().body_timeout)
            .unwrap_or_else(Instant::now);
        Self {
            inner,
            deadline,
            sleep: None,
            caps,
        }
    }
}

/// The body did not arrive in time.
#[derive(Debug)]
struct BodyTimeout;

impl core::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        if sleep.as_mut().poll(cx).is_ready() {
            let caps = &this.caps.inner;
            if let Some(skipped) = caps.logs.open(&caps.logs.body_timeout) {
                tracing::info!(
                    timeout_s = caps.limits.body_timeout.as_secs_f64(),
                    cut_since_last_line = skipped,
                    "cut off a request body that did not arrive in time"
                );
            }
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_caps_leave_descriptors_and_headroom() {
        assert_eq!(default_max_connections(Some(1024)), 832);
        assert_eq!(default_max_connections(Some(1 << 20)), 50_000);
        assert_eq!(default_max_connections(Some(10)), 16);
        assert_eq!(default_max_per_client(832), 208);
        assert_eq!(default_max_per_client(50_000), 256);
        assert_eq!(default_max_per_client(2), 1);
    }

    #[test]
    fn log_gate_writes_once_per_interval_and_counts_the_rest() {
        let caps = Caps::new(Limits {
            handshake_timeout: Duration::from_secs(1),
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            max_connections: 1,
            max_per_client: 1,
        });
        let logs = &caps.inner.logs;
        assert_eq!(logs.open(&logs.handshake), Some(0));
        assert_eq!(logs.open(&logs.handshake), None);
        assert_eq!(logs.open(&logs.handshake), None);
        assert_eq!(logs.handshake.skipped(), 2);
        assert_eq!(logs.open(&logs.write_timeout), Some(0), "one gate per kind");
    }

    #[tokio::test]
    async fn per_client_cap_counts_prefixes_and_frees_on_drop() {
        let caps = Caps::new(Limits {
            handshake_timeout: Duration::from_secs(1),
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_per_client: 2,
        });
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let a2: IpAddr = "2001:db8::2".parse().unwrap();
        let b: IpAddr = "192.0.2.1".parse().unwrap();
        let first = caps.admit(a).unwrap();
        let _second = caps.admit(a2).unwrap();
        assert!(caps.admit(a).is_none(), "same /64: over the per-client cap");
        let _third = caps.admit(b).unwrap();
        assert!(
            caps.admit("192.0.2.2".parse().unwrap()).is_none(),
            "global cap"
        );
        drop(first);
        assert!(
            caps.admit(a).is_some(),
            "a closed connection frees its places"
        );
    }
}
#[cfg(test)]
mod task_size {
    use super::*;

    fn size_of_output<F, A, B, C, D, R>(_: &F) -> usize
    where
        F: Fn(A, B, C, D) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// The fault: every connection's task was sized for the TLS path (5088 bytes), so each
    /// waiting page over plain HTTP paid for a handshake it never made. The TLS branch is
    /// boxed; the bound leaves room for dependency updates and still catches that.
    #[test]
    fn a_plain_connections_task_is_not_sized_for_the_tls_path() {
        let connect = |tcp: TcpStream, peer: SocketAddr, site: Site, shutdown: Shutdown| {
            connection(tcp, peer, site, shutdown)
        };
        let size = size_of_output(&connect);
        assert!(size <= 4096, "a connection's future is {size} bytes");
    }
}

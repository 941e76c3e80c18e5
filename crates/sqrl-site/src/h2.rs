//! HTTP/2 on the TLS listener, for clients that ask for it by ALPN (`h2`; HTTP/1.1 stays for
//! the others). A browser gives each origin six HTTP/1.1 connections and every waiting login
//! page's status stream holds one; on HTTP/2 a waiting page costs a stream of one connection.
//!
//! The listener's protections hold here too: the connection caps and the handshake timeout
//! come before the protocol is known; a stalled write ([`WriteStall`](crate::serve)) and a
//! late request body (the body deadline) work per connection and per request as on
//! HTTP/1.1. The request-head timeout becomes an idle timeout: a connection with no request
//! in progress (none sent yet, or only part of a header block) for `--header-timeout` is
//! closed (GOAWAY), and a connection whose peer stops answering pings for as long is dropped.
//! One connection carries at most [`MAX_STREAMS`] requests at once, each header block at most
//! [`MAX_HEADER_LIST`] bytes; the status-stream caps per client apply as on HTTP/1.1.

use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::serve::{respond, stopped, Shutdown, Site};

/// Most requests in progress at once on one connection (streams: a waiting page, its poll,
/// its assets).
pub(crate) const MAX_STREAMS: u32 = 100;

/// Most bytes of one request's header block (decoded), as on HTTP/1.1's default buffer.
pub(crate) const MAX_HEADER_LIST: u32 = 16 * 1024;

/// The requests in progress on one connection; a request counts until its response body is
/// done or dropped.
type Active = Arc<watch::Sender<usize>>;

/// One request in progress: counted while alive.
struct InProgress(Active);

impl InProgress {
    fn new(active: &Active) -> Self {
        active.send_modify(|n| *n = n.saturating_add(1));
        Self(Arc::clone(active))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body that keeps its request counted until it is done.
struct Counted {
    inner: Body,
    _in_progress: InProgress,
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Returns once no request has been in progress for `limit` in a row.
async fn idle_for(limit: Duration, active: &mut watch::Receiver<usize>) {
    loop {
        if active.wait_for(|n| *n == 0).await.is_err() {
            return;
        }
        match tokio::time::timeout(limit, active.wait_for(|n| *n > 0)).await {
            Err(_) => return,
            Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Serves one HTTP/2 connection (after TLS) until it ends, idles or the site shuts down.
pub(crate) async fn serve<I>(io: I, peer: SocketAddr, site: &Site, mut shutdown: Shutdown)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, mut active) = watch::channel(0usize);
    let sender: Active = Arc::new(sender);
    let shared = site.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let in_progress = InProgress::new(&sender);
        let response = respond(request, peer, &shared, true);
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(response.map(|inner| {
                Body::new(Counted {
                    inner,
                    _in_progress: in_progress,
                })
            }))
        }
    });
    let limits = site.caps.limits();
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    let idle_limit = limits.header_timeout;
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
        () = idle_for(idle_limit, &mut active) => {
            site.caps.header_timed_out(peer);
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTP/2 connection ended with an error");
    }
}

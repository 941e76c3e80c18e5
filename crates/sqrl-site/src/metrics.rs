//! `--metrics-bind`: the layer's Prometheus metrics ([`sqrl_axum::metrics`]) at `GET /metrics`
//! on a listener of their own, so that they are reached only where the operator binds it (a
//! private interface, or loopback for a local agent); the public listener never serves them.

use std::net::SocketAddr;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use sqrl_axum::metrics::METRICS_CONTENT_TYPE;
use sqrl_axum::SqrlHttp;
use tokio::net::TcpListener;

use crate::serve::Shutdown;

/// Binds the metrics listener (at start, so a taken address stops the site at once).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for --metrics-bind: {e}"))
}

/// Serves `GET /metrics` until the site shuts down.
pub(crate) async fn serve(listener: TcpListener, sqrl: SqrlHttp, mut shutdown: Shutdown) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let sqrl = sqrl.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, METRICS_CONTENT_TYPE),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    sqrl.metrics_text(),
                )
            }
        }),
    );
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::warn!(%error, "the metrics listener stopped");
    }
}

//! Shared by the HTTP tests: serving a `SqrlHttp` on a loopback listener.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};

use sqrl_server::http::SqrlHttp;
use sqrl_server::SqliteStore;

/// Serves `http`'s routes on `listener` from a background thread with its own runtime.
pub fn serve(listener: TcpListener, http: SqrlHttp<SqliteStore>) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app: axum::Router = http.router();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
}

//! The least an HTTP/1.1 server on this stack can do: hyper on one tokio thread, every
//! accepted socket with `TCP_NODELAY`, every request answered `200 ok`. No router, no
//! middleware, no limits, no SQRL.
//!
//! It is the reference for `sqrl-load --floor-only`: what a login's 3 connections and 5
//! requests cost any server written this way, against which the site's own floor and its
//! whole logins can be read.
//!
//! ```sh
//! cargo build --release -p sqrl-load --examples
//! taskset -c 1 target/release/examples/bare_server 127.0.0.1:18283 &
//! taskset -c 0 target/release/sqrl-load --site 127.0.0.1:18283 --floor-only \
//!     --concurrency 32 --seconds 8 --server-pid $!
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn serve(address: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    println!("bare_server listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, say: try again rather than stop.
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_request| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() -> ExitCode {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18283".to_owned());
    let Ok(address) = address.parse::<SocketAddr>() else {
        eprintln!("usage: bare_server [ADDRESS:PORT]");
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bare_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(address)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare_server: {e}");
            ExitCode::FAILURE
        }
    }
}

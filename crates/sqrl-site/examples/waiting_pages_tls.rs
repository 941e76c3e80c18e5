//! Memory per waiting login page over HTTPS, on HTTP/2 and on HTTP/1.1, against a running
//! `sqrl-site --tls-self-signed DIR`: opens `PAGES` pages (a code, then its status stream,
//! held open) from 127.0.1.x source addresses, and reads the server's resident memory
//! (`/proc/PID/status`) before and after.
//!
//! On HTTP/2 a browser's pages share one connection: here each source address opens one
//! connection and `PER_CONNECTION` pages on it. On HTTP/1.1 every page holds a connection of
//! its own.
//!
//! ```sh
//! cargo build --release -p sqrl-site --examples
//! target/release/sqrl-site --tls-self-signed /tmp/tls --database /tmp/w.sqlite \
//!     --codes-per-minute 100000 --max-streams 20000 --bind 127.0.0.1:8443 &
//! target/release/examples/waiting_pages_tls https://127.0.0.1:8443 /tmp/tls/ca.pem $! h2 1000
//! ```
#![allow(clippy::print_stdout)]

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body as _, Bytes, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpSocket;

/// Pages on one HTTP/2 connection (the site's per-client stream cap is 32).
const PER_CONNECTION: usize = 30;

/// An empty request body.
struct Empty;

impl hyper::body::Body for Empty {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }
}

/// A request sender on either protocol.
enum Sender {
    H2(hyper::client::conn::http2::SendRequest<Empty>),
    H1(hyper::client::conn::http1::SendRequest<Empty>),
}

impl Sender {
    async fn send(&mut self, request: Request<Empty>) -> Result<Response<Incoming>, String> {
        match self {
            Sender::H2(s) => {
                s.ready().await.map_err(|e| e.to_string())?;
                s.send_request(request).await.map_err(|e| e.to_string())
            }
            Sender::H1(s) => {
                s.ready().await.map_err(|e| e.to_string())?;
                s.send_request(request).await.map_err(|e| e.to_string())
            }
        }
    }
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}

async fn connect(
    site: SocketAddr,
    source: u32,
    config: Arc<rustls::ClientConfig>,
    h2: bool,
) -> Result<Sender, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    let [a, b] = u16::try_from(source % 60_000)
        .map_err(|e| e.to_string())?
        .to_be_bytes();
    let from: SocketAddr = format!("127.1.{a}.{}:0", b.max(1))
        .parse()
        .map_err(|_| "source")?;
    socket.bind(from).map_err(|e| e.to_string())?;
    let tcp = socket.connect(site).await.map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let io = TokioIo::new(tls);
    if h2 {
        let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Sender::H2(sender))
    } else {
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Sender::H1(sender))
    }
}

/// Gets a code and opens its status stream; the stream's response, its first event read.
async fn open_page(sender: &mut Sender) -> Result<Response<Incoming>, String> {
    let new = Request::post("https://127.0.0.1/sqrl/new")
        .header("host", "127.0.0.1")
        .body(Empty)
        .map_err(|e| e.to_string())?;
    let mut code = sender.send(new).await?;
    let cookie = code
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no flow cookie")?
        .to_owned();
    while let Some(frame) = poll_fn(|cx| Pin::new(code.body_mut()).poll_frame(cx)).await {
        frame.map_err(|e| e.to_string())?;
    }
    let events = Request::get("https://127.0.0.1/sqrl/events")
        .header("host", "127.0.0.1")
        .header("cookie", cookie)
        .body(Empty)
        .map_err(|e| e.to_string())?;
    let mut stream = sender.send(events).await?;
    if stream.status() != 200 {
        return Err(format!("status stream refused: {}", stream.status()));
    }
    poll_fn(|cx| Pin::new(stream.body_mut()).poll_frame(cx))
        .await
        .ok_or("the stream ended")?
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

async fn run(args: &[String]) -> Result<(), String> {
    let [base, ca, pid, protocol, pages] = args else {
        return Err("usage: waiting_pages_tls BASE CA_PEM SERVER_PID h2|http1.1 PAGES".into());
    };
    let site: SocketAddr = base
        .trim_start_matches("https://")
        .parse()
        .map_err(|_| "BASE is https://127.0.0.1:PORT")?;
    let pid: u32 = pid.parse().map_err(|_| "SERVER_PID")?;
    let pages: usize = pages.parse().map_err(|_| "PAGES")?;
    let h2 = protocol == "h2";
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| e.to_string())? {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let config = Arc::new(config);

    let before = rss_kib(pid)?;
    let mut held = Vec::new();
    let mut source = 0u32;
    while held.len() < pages {
        source = source.saturating_add(1);
        if h2 {
            let mut sender = connect(site, source, config.clone(), true).await?;
            for _ in 0..PER_CONNECTION.min(pages.saturating_sub(held.len())) {
                held.push(open_page(&mut sender).await?);
            }
            std::mem::forget(sender); // keep the connection as long as its streams
        } else {
            // One connection per page on HTTP/1.1: the code request, then the stream on it.
            let mut code_sender = connect(site, source, config.clone(), false).await?;
            held.push(open_page(&mut code_sender).await?);
            std::mem::forget(code_sender);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid)?;
    let per_page = (after.saturating_sub(before)) as f64 / pages as f64;
    println!(
        "{protocol}: {pages} waiting pages, server RSS {before} -> {after} KiB: {per_page:.1} KiB per page"
    );
    drop(held);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("waiting_pages_tls: {e}");
            ExitCode::FAILURE
        }
    }
}

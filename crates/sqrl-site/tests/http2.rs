//! HTTP/2 on the HTTPS listener (ALPN `h2`), with a hyper client over rustls: the site
//! answers on h2 (HSTS included), a status stream outlives the header timeout there, and an
//! h2 connection with no request in progress is closed after it, as an idle HTTP/1.1 one is.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{temp_dir, tls_trusting, SiteProcess};
use tokio::net::TcpStream;

use http_body_empty::Empty;

/// An empty request body (hyper's `Empty` lives in http-body-util, not a dependency).
mod http_body_empty {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::{Bytes, Frame};

    #[derive(Default)]
    pub(crate) struct Empty;

    impl hyper::body::Body for Empty {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(None)
        }

        fn is_end_stream(&self) -> bool {
            true
        }
    }
}

/// The site over HTTPS with its local CA, and a client configuration that trusts it and
/// asks for `protocols` by ALPN.
fn https_site(name: &str, extra: &[&str]) -> (SiteProcess, Arc<rustls::ClientConfig>) {
    let dir = temp_dir(name);
    let tls = dir.join("tls");
    let mut args = vec!["--tls-self-signed", tls.to_str().unwrap()];
    args.extend_from_slice(extra);
    let site = SiteProcess::start(&dir, &args);
    let mut config = (*tls_trusting(&tls.join("ca.pem"))).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    (site, Arc::new(config))
}

/// An HTTP/2 connection to the site: the request sender, and the connection's task (it ends
/// when the server closes the connection).
async fn connect_h2(
    site: &SiteProcess,
    config: Arc<rustls::ClientConfig>,
) -> (SendRequest<Empty>, tokio::task::JoinHandle<()>) {
    let tcp = TcpStream::connect(site.addr()).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, task)
}

async fn send(
    sender: &mut SendRequest<Empty>,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> Response<Incoming> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("https://127.0.0.1{path}"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    sender.ready().await.unwrap();
    sender
        .send_request(request.body(Empty).unwrap())
        .await
        .unwrap()
}

/// The next data frame of a body, as text (`None` at its end); panics after `within`.
async fn next_text(body: &mut Incoming, within: Duration) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(within, poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)))
            .await
            .expect("a frame in time")?
            .unwrap();
        if let Ok(data) = frame.into_data() {
            return Some(String::from_utf8_lossy(&data).into_owned());
        }
    }
}

async fn whole_text(body: &mut Incoming) -> String {
    let mut text = String::new();
    while let Some(part) = next_text(body, Duration::from_secs(5)).await {
        text.push_str(&part);
    }
    text
}

/// The site answers on HTTP/2 when the client asks for it: pages, HSTS, a login code, and
/// a status stream that outlives the header timeout on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_http2_by_alpn_with_hsts_and_live_streams() {
    let (site, config) = https_site("h2", &["--header-timeout", "1"]);
    let (mut sender, _task) = connect_h2(&site, config).await;
    let page = send(&mut sender, "GET", "/", None).await;
    assert_eq!(page.version(), Version::HTTP_2);
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    let mut code = send(&mut sender, "POST", "/sqrl/new", None).await;
    assert_eq!(code.status(), 200);
    let cookie = code.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let json = whole_text(code.body_mut()).await;
    assert!(json.contains("\"url\":\"sqrl://"), "{json}");

    let mut events = send(&mut sender, "GET", "/sqrl/events", Some(&cookie)).await;
    assert_eq!(events.status(), 200);
    let first = next_text(events.body_mut(), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(first.contains("\"status\":\"new\""), "{first}");
    // Past the header timeout, the stream (a request in progress) keeps the connection, and
    // the connection still takes requests.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        if let Ok(Some(more)) = tokio::time::timeout(
            Duration::from_millis(500),
            poll_fn(|cx| Pin::new(events.body_mut()).poll_frame(cx)),
        )
        .await
        {
            assert!(more.is_ok(), "the stream failed");
        }
    }
    let health = send(&mut sender, "GET", "/healthz", None).await;
    assert_eq!(health.status(), 200);
    drop(site);
}

/// The fault it guards against: HTTP/2 has no request-head timeout of its own, so a client
/// could hold a connection open by sending nothing. A connection with no request in progress
/// is closed after `--header-timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    let (site, config) = https_site("h2-idle", &["--header-timeout", "1"]);
    let (mut sender, task) = connect_h2(&site, config).await;
    let health = send(&mut sender, "GET", "/healthz", None).await;
    assert_eq!(health.status(), 200);
    drop(health);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the idle connection was closed")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    drop(site);
}

/// The fault: the server kept TLS sessions in a cache of 256, which a busy site churned
/// through in a fraction of a second, so browsers and phones paid a full handshake on almost
/// every connection. With stateless tickets a second connection resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tls_connection_resumes_the_session() {
    let (site, config) = https_site("resume", &[]);
    let (mut sender, _task) = connect_h2(&site, config.clone()).await;
    let mut page = send(&mut sender, "GET", "/healthz", None).await;
    whole_text(page.body_mut()).await;
    // Fill the server's old session cache (256) with other clients' sessions first.
    for _ in 0..300 {
        let mut other = (*config).clone();
        other.resumption = rustls::client::Resumption::disabled();
        let (mut sender, _task) = connect_h2(&site, Arc::new(other)).await;
        let mut reply = send(&mut sender, "GET", "/healthz", None).await;
        whole_text(reply.body_mut()).await;
    }
    let tcp = TcpStream::connect(site.addr()).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    drop(site);
}

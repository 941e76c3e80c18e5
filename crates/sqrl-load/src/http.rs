//! A minimal HTTP/1.1 client on hyper, whose connections leave from a chosen loopback source
//! address (so the site's per-address limits see many browsers), over TLS with `--tls-ca`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

pub(crate) type Error = String;

/// One keep-alive connection from `source` to the site.
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS client configuration, once `--tls-ca` set it: one for every connection, so its
/// session cache lets them resume as a browser's and a phone's do.
static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// TLS handshakes so far: (full, resumed).
static FULL: AtomicU64 = AtomicU64::new(0);
static RESUMED: AtomicU64 = AtomicU64::new(0);

/// TLS handshakes so far: full ones and resumed ones.
pub(crate) fn handshakes() -> (u64, u64) {
    (
        FULL.load(Ordering::Relaxed),
        RESUMED.load(Ordering::Relaxed),
    )
}

/// Speaks TLS from now on, trusting the CA certificates in `ca` (PEM).
pub(crate) fn use_tls(ca: &Path) -> Result<(), Error> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TLS.set(Arc::new(config))
        .map_err(|_| "TLS is already set up".to_owned())
}

impl Connection {
    /// Connects from `source` (port chosen by the system) to `server`.
    pub(crate) async fn open(source: IpAddr, server: SocketAddr) -> Result<Self, Error> {
        let socket = match server {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
        let stream = tokio::time::timeout(TIMEOUT, socket.connect(server))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let sender = match TLS.get() {
            None => {
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| e.to_string())?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                sender
            }
            Some(config) => {
                let name = rustls_pki_types::ServerName::from(server.ip());
                let tls = tokio::time::timeout(
                    TIMEOUT,
                    tokio_rustls::TlsConnector::from(Arc::clone(config)).connect(name, stream),
                )
                .await
                .map_err(|_| "TLS handshake timed out".to_owned())?
                .map_err(|e| format!("TLS: {e}"))?;
                let counter = match tls.get_ref().1.handshake_kind() {
                    Some(rustls::HandshakeKind::Resumed) => &RESUMED,
                    _ => &FULL,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                sender
            }
        };
        Ok(Self {
            sender,
            host: server.to_string(),
        })
    }

    /// Sends a request and returns the response with its body still streaming.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> Result<Response<Incoming>, Error> {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        self.send_with(method, path, &headers, body).await
    }

    /// [`Connection::send`] with any headers.
    pub(crate) async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Response<Incoming>, Error> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(TIMEOUT, self.sender.send_request(request))
            .await
            .map_err(|_| "request timed out".to_owned())?
            .map_err(|e| e.to_string())
    }

    /// Sends a request and reads the whole body: (status, first Set-Cookie pair, body).
    pub(crate) async fn call(
        &mut self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> Result<(u16, Option<String>, String), Error> {
        let response = self.send(method, path, cookie, body).await?;
        let status = response.status().as_u16();
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let bytes = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| "body timed out".to_owned())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((
            status,
            set_cookie,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }
}

/// A whole response: status, every `Set-Cookie` pair, `Location`, body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) cookies: Vec<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

impl Connection {
    /// Sends a request with `headers` and reads the whole response.
    pub(crate) async fn fetch(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, Error> {
        let response = self.send_with(method, path, headers, body).await?;
        let status = response.status().as_u16();
        let cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_owned)
            .collect();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = tokio::time::timeout(TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| "body timed out".to_owned())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            cookies,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// A status stream (`GET /sqrl/events`): the statuses as they arrive.
pub(crate) struct Events {
    body: Incoming,
    pending: String,
}

impl Events {
    /// Opens the stream with the flow cookie.
    pub(crate) async fn open(connection: &mut Connection, cookie: &str) -> Result<Self, Error> {
        let response = connection
            .send("GET", "/sqrl/events", Some(cookie), "")
            .await?;
        if response.status() != 200 {
            return Err(format!("/sqrl/events answered {}", response.status()));
        }
        Ok(Self {
            body: response.into_body(),
            pending: String::new(),
        })
    }

    /// The next status (`None` when the stream ended).
    pub(crate) async fn next(&mut self) -> Result<Option<String>, Error> {
        loop {
            if let Some(at) = self.pending.find("\"status\":\"") {
                let rest = self.pending.get(at + 10..).unwrap_or_default();
                if let Some(end) = rest.find('"') {
                    let status = rest.get(..end).unwrap_or_default().to_owned();
                    let consumed = at + 10 + end;
                    self.pending = self.pending.get(consumed..).unwrap_or_default().to_owned();
                    return Ok(Some(status));
                }
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
        }
    }

    /// Waits for `status`, skipping others.
    pub(crate) async fn wait_for(&mut self, status: &str) -> Result<(), Error> {
        loop {
            match self.next().await? {
                Some(s) if s == status => return Ok(()),
                Some(_) => {}
                None => return Err(format!("the stream ended before {status}")),
            }
        }
    }
}

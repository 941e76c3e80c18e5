//! HTTPS for the exchange, and the loop that drives an [`Exchange`].
//!
//! A SQRL request is a few hundred bytes and its reply at most [`MAX_REPLY`], so this is a
//! small HTTP/1.1 client over rustls rather than a general one: one connection per request
//! (`Connection: close`), no redirects, no proxies. The whole request — head and body — is
//! built in one buffer and handed to the connection in **one write**, so it travels in one TLS
//! record: GRC's reference server reads a request with a single `read()` and sees an empty
//! body when the head and body arrive in separate records (`spec/protocol.md` §8.6).
//!
//! Certificates are checked against the built-in Mozilla roots, the platform's trust store,
//! and any extra CA certificates given with [`HttpTransport::with_ca_certs_pem`]. Plain HTTP is
//! used only when explicitly allowed *and* the host is a loopback address — for tests and local
//! development.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::error::{Error, TransportError};
use crate::exchange::{Decision, Exchange, Outcome, Prompt, Request};

/// Largest reply body accepted (a real reply is a few hundred bytes).
pub const MAX_REPLY: u64 = 16 * 1024;

/// Largest reply head (status line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;

/// Most headers in a reply.
const MAX_HEADERS: usize = 64;

/// The HTTPS transport.
#[derive(Clone)]
pub struct HttpTransport {
    roots: Arc<RootCertStore>,
    connect_timeout: Duration,
    overall_timeout: Duration,
    loopback_http: bool,
}

impl core::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("trusted_roots", &self.roots.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("loopback_http", &self.loopback_http)
            .finish()
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(30))
    }
}

/// `true` for `localhost`, `127.0.0.0/8` and `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The host of an absolute URL (IPv6 literals keep their brackets).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    sqrl_proto::split_authority(authority).map_or(authority, |(host, _)| host)
}

/// The built-in roots plus whatever the platform's trust store holds.
fn default_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "platform trust store");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "platform trust store loaded");
    roots
}

fn ca_error(source: &str, reason: impl core::fmt::Display) -> TransportError {
    TransportError::CaCertificate(format!("{source}: {reason}"))
}

impl HttpTransport {
    /// A transport with the given connect and overall timeouts, trusting the built-in roots
    /// and the platform's trust store.
    pub fn new(connect: Duration, overall: Duration) -> Self {
        Self {
            roots: Arc::new(default_roots()),
            connect_timeout: connect,
            overall_timeout: overall,
            loopback_http: false,
        }
    }

    /// Also trusts the CA certificates in `pem` (one or more `BEGIN CERTIFICATE` sections).
    /// Text without a certificate, or a certificate that cannot be a trust anchor, is an
    /// error.
    pub fn with_ca_certs_pem(self, pem: &[u8]) -> Result<Self, TransportError> {
        self.add_ca_certs(pem, "the PEM text given")
    }

    /// Also trusts the CA certificates in the PEM file at `path`.
    pub fn with_ca_cert_file(self, path: &Path) -> Result<Self, TransportError> {
        let source = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| ca_error(&source, e))?;
        self.add_ca_certs(&pem, &source)
    }

    fn add_ca_certs(mut self, pem: &[u8], source: &str) -> Result<Self, TransportError> {
        let mut roots = (*self.roots).clone();
        let mut count = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| ca_error(source, e))?;
            roots.add(cert).map_err(|e| ca_error(source, e))?;
            count += 1;
        }
        if count == 0 {
            return Err(ca_error(source, "no PEM certificate found"));
        }
        tracing::debug!(count, source, "extra CA certificates trusted");
        self.roots = Arc::new(roots);
        Ok(self)
    }

    /// **Danger, tests only:** send to loopback hosts over plain HTTP instead of HTTPS. Other
    /// hosts are still HTTPS-only.
    pub fn danger_allow_loopback_http(mut self) -> Self {
        self.loopback_http = true;
        self
    }

    fn effective_url(&self, url: &str) -> Result<String, TransportError> {
        let host = host_of(url);
        match url.strip_prefix("https://") {
            Some(rest) if self.loopback_http && is_loopback_host(host) => {
                Ok(format!("http://{rest}"))
            }
            Some(_) => Ok(url.to_owned()),
            None => Err(TransportError::InsecureTransport(host.to_owned())),
        }
    }

    fn tls_config(&self) -> Result<Arc<ClientConfig>, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Network(format!("TLS setup: {e}")))?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// POSTs the request and returns the reply body text.
    pub fn post(&self, request: &Request) -> Result<String, Error> {
        let url = self.effective_url(&request.url)?;
        tracing::debug!(url = %url, "sqrl request");
        let reply = self.send(&url, "POST", Some(&request.body), MAX_REPLY)?;
        let body = String::from_utf8(reply.body)
            .map_err(|_| Error::Proto(sqrl_proto::Error::NotUtf8 { what: "reply" }))?;
        if (200..300).contains(&reply.status) {
            return Ok(body);
        }
        // Some servers answer failures with an error status but a SQRL reply body; the
        // exchange reads the TIF, so pass the body on when there is one.
        if body.trim().is_empty() || sqrl_proto::ServerParams::decode(body.trim()).is_err() {
            return Err(TransportError::HttpStatus(reply.status).into());
        }
        Ok(body)
    }

    /// One plain request for tools that look at the whole answer (the conformance checker):
    /// `GET` (no `body`) or `POST` (a form `body`, possibly empty) to an `https://` URL, or an
    /// `http://` loopback URL when plain HTTP to loopback is allowed. Whatever the status,
    /// the answer comes back as it is, its body capped at `max_body` bytes; redirects are not
    /// followed.
    pub fn fetch(
        &self,
        url: &str,
        body: Option<&str>,
        max_body: u64,
    ) -> Result<HttpReply, TransportError> {
        let url = match url.strip_prefix("http://") {
            Some(rest) if self.loopback_http && is_loopback_host(host_of(url)) => {
                format!("https://{rest}")
            }
            _ => url.to_owned(),
        };
        let url = self.effective_url(&url)?;
        let method = if body.is_some() { "POST" } else { "GET" };
        tracing::debug!(url = %url, method, "plain request");
        self.send(&url, method, body, max_body)
    }

    fn send(
        &self,
        url: &str,
        method: &str,
        body: Option<&str>,
        max_body: u64,
    ) -> Result<HttpReply, TransportError> {
        let target = Target::parse(url)?;
        let deadline = Deadline::after(self.overall_timeout);
        let wire = target.request_bytes(method, body);
        let tcp = connect(&target, self.connect_timeout, &deadline)?;
        let raw = if target.tls {
            let name = ServerName::try_from(target.host.clone()).map_err(|_| {
                TransportError::Network(format!("invalid server name {}", target.host))
            })?;
            let connection = ClientConnection::new(self.tls_config()?, name)
                .map_err(|e| TransportError::Network(format!("TLS: {e}")))?;
            let mut stream = StreamOwned::new(connection, tcp);
            while stream.conn.is_handshaking() {
                deadline.apply(&stream.sock)?;
                stream
                    .conn
                    .complete_io(&mut stream.sock)
                    .map_err(|e| handshake_error(&e, &target.host))?;
            }
            send_once(&mut stream, &wire, &deadline, |s| &s.sock)?;
            read_reply(&mut stream, &deadline, |s| &s.sock, max_body)?
        } else {
            let mut stream = tcp;
            send_once(&mut stream, &wire, &deadline, |s| s)?;
            read_reply(&mut stream, &deadline, |s| s, max_body)?
        };
        parse_reply(&raw, max_body)
    }
}

/// A whole HTTP answer, as [`HttpTransport::fetch`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Where a request goes, from an `http(s)://` URL the exchange built.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// Host for DNS and TLS: IPv6 literals without brackets.
    host: String,
    port: u16,
    /// `Host:` header value: the authority as written.
    authority: String,
    /// Path and query.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, TransportError> {
        let bad = || TransportError::Network(format!("cannot send to {url}"));
        let (tls, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(bad()),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        let (host, port) = sqrl_proto::split_authority(authority).map_err(|_| bad())?;
        // DNS and TLS take an IPv6 address without its brackets.
        let host = host
            .strip_prefix('[')
            .and_then(|v6| v6.strip_suffix(']'))
            .unwrap_or(host);
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad())?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() || path.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
            return Err(bad());
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path,
        })
    }

    /// The complete request, head and body, as one buffer: `POST` with a form body, or a
    /// bodiless request (`GET`).
    fn request_bytes(&self, method: &str, body: Option<&str>) -> Vec<u8> {
        let form = match body {
            Some(body) => format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ),
            None => String::new(),
        };
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: SQRL/1\r\n{form}\
             Connection: close\r\n\r\n",
            self.path, self.authority,
        );
        let mut wire = Vec::with_capacity(head.len() + body.len());
        wire.extend_from_slice(head.as_bytes());
        wire.extend_from_slice(body.as_bytes());
        wire
    }
}

/// The end of the overall timeout.
#[derive(Debug, Clone, Copy)]
struct Deadline(Option<Instant>);

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Self(Instant::now().checked_add(timeout))
    }

    fn remaining(&self) -> Result<Option<Duration>, TransportError> {
        match self.0 {
            None => Ok(None),
            Some(end) => match end.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(TransportError::Network("timed out".into())),
            },
        }
    }

    /// Limits the socket's next reads and writes to the time left.
    fn apply(&self, socket: &TcpStream) -> Result<(), TransportError> {
        let left = self.remaining()?;
        socket
            .set_read_timeout(left)
            .and_then(|()| socket.set_write_timeout(left))
            .map_err(|e| io_error(&e, "socket"))
    }
}

/// How a [`TransportError::Network`] ends when the certificate's issuer is not trusted
/// ([`TransportError::is_unknown_issuer`]).
pub(crate) const UNKNOWN_ISSUER: &str = "the certificate is signed by an unknown issuer";

/// A failed TLS handshake; a certificate from an issuer nobody here trusts is told apart,
/// since the fix is a CA file (`--ca-cert`), not the network.
fn handshake_error(error: &std::io::Error, host: &str) -> TransportError {
    let unknown_issuer = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            )
        });
    if unknown_issuer {
        TransportError::Network(format!("TLS handshake with {host}: {UNKNOWN_ISSUER}"))
    } else {
        io_error(error, "TLS handshake")
    }
}

fn io_error(error: &std::io::Error, during: &str) -> TransportError {
    match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            TransportError::Network(format!("{during}: timed out"))
        }
        _ => TransportError::Network(format!("{during}: {error}")),
    }
}

fn connect(
    target: &Target,
    timeout: Duration,
    deadline: &Deadline,
) -> Result<TcpStream, TransportError> {
    let addresses = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| TransportError::Network(format!("{}: {e}", target.host)))?;
    let mut last = None;
    for address in addresses {
        let limit = deadline
            .remaining()?
            .map_or(timeout, |left| left.min(timeout));
        match TcpStream::connect_timeout(&address, limit) {
            Ok(stream) => {
                // One small write per request: nothing to gain from Nagle's delay.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => io_error(&e, &format!("connect to {}", target.authority)),
        None => TransportError::Network(format!("{}: no address", target.host)),
    })
}

/// Writes the whole request with one `write` and one `flush` (a request is far smaller than
/// a TLS record, so over TLS it is one record).
fn send_once<S: Write>(
    stream: &mut S,
    wire: &[u8],
    deadline: &Deadline,
    socket: impl Fn(&S) -> &TcpStream,
) -> Result<(), TransportError> {
    deadline.apply(socket(stream))?;
    let written = stream.write(wire).map_err(|e| io_error(&e, "send"))?;
    if let Some(rest) = wire.get(written..).filter(|r| !r.is_empty()) {
        // Not expected for a request of a few hundred bytes; finish rather than fail.
        tracing::debug!(left = rest.len(), "request needed a second write");
        stream.write_all(rest).map_err(|e| io_error(&e, "send"))?;
    }
    stream.flush().map_err(|e| io_error(&e, "send"))
}

/// Reads until the reply is complete (by `Content-Length`, chunked framing or the end of the
/// connection), refusing more than the head, twice `max_body` (chunked-encoding overhead) and no more.
fn read_reply<S: Read>(
    stream: &mut S,
    deadline: &Deadline,
    socket: impl Fn(&S) -> &TcpStream,
    max_body: u64,
) -> Result<Vec<u8>, TransportError> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let max_read =
        MAX_HEAD.saturating_add(usize::try_from(max_body.saturating_mul(2)).unwrap_or(usize::MAX));
    loop {
        if complete(&raw, max_body)? {
            return Ok(raw);
        }
        deadline.apply(socket(stream))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            // A TLS peer that closes without close_notify: the framing decides below.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => 0,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(&e, "read reply")),
        };
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if raw.len() > max_read {
            return Err(TransportError::ReplyTooLarge);
        }
    }
}

/// How the body of a reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// The final (non-1xx) head: status, framing and where the body starts. `None` while the
/// head is incomplete.
fn head(raw: &[u8], max_body: u64) -> Result<Option<(u16, Framing, usize)>, TransportError> {
    let malformed = |what: &str| TransportError::Network(format!("malformed HTTP reply: {what}"));
    let mut offset = 0usize;
    loop {
        let rest = raw.get(offset..).unwrap_or_default();
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(rest) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => {
                return Err(malformed("head too large"))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(malformed(&e.to_string())),
        };
        let status = response.code.unwrap_or_default();
        let start = offset
            .checked_add(length)
            .ok_or_else(|| malformed("too long"))?;
        if (100..200).contains(&status) {
            // Interim reply (100 Continue): the real one follows.
            offset = start;
            continue;
        }
        let mut framing = Framing::UntilClose;
        for header in response.headers.iter() {
            let value = core::str::from_utf8(header.value)
                .unwrap_or_default()
                .trim();
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                if value.eq_ignore_ascii_case("chunked") {
                    framing = Framing::Chunked;
                } else {
                    return Err(malformed("unsupported transfer encoding"));
                }
            } else if header.name.eq_ignore_ascii_case("content-length")
                && framing != Framing::Chunked
            {
                let length: u64 = value.parse().map_err(|_| malformed("bad Content-Length"))?;
                if length > max_body {
                    return Err(TransportError::ReplyTooLarge);
                }
                framing = Framing::Length(usize::try_from(length).unwrap_or(usize::MAX));
            }
        }
        if status == 204 || status == 304 {
            framing = Framing::Length(0);
        }
        return Ok(Some((status, framing, start)));
    }
}

/// Decodes a chunked body; `None` while incomplete.
fn dechunk(mut data: &[u8], max_body: u64) -> Result<Option<Vec<u8>>, TransportError> {
    let malformed = || TransportError::Network("malformed chunked reply".into());
    let mut body = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = data.get(..line_end).unwrap_or_default();
        let size_text = core::str::from_utf8(line).map_err(|_| malformed())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| malformed())?;
        if size == 0 {
            return Ok(Some(body));
        }
        if body.len().saturating_add(size) as u64 > max_body {
            return Err(TransportError::ReplyTooLarge);
        }
        let start = line_end.saturating_add(2);
        let end = start.checked_add(size).ok_or_else(malformed)?;
        let Some(chunk) = data.get(start..end) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        match data.get(end..end.saturating_add(2)) {
            Some(b"\r\n") => data = data.get(end.saturating_add(2)..).unwrap_or_default(),
            Some(_) => return Err(malformed()),
            None => return Ok(None),
        }
    }
}

/// `true` once `raw` holds a whole reply that announced its own length.
fn complete(raw: &[u8], max_body: u64) -> Result<bool, TransportError> {
    let Some((_, framing, start)) = head(raw, max_body)? else {
        return Ok(false);
    };
    let body = raw.get(start..).unwrap_or_default();
    Ok(match framing {
        Framing::Length(length) => body.len() >= length,
        Framing::Chunked => dechunk(body, max_body)?.is_some(),
        Framing::UntilClose => false,
    })
}

/// The status and body of everything read from the connection.
fn parse_reply(raw: &[u8], max_body: u64) -> Result<HttpReply, TransportError> {
    let truncated =
        || TransportError::Network("the connection closed before the whole reply".into());
    let (status, framing, start) = head(raw, max_body)?.ok_or_else(truncated)?;
    let rest = raw.get(start..).unwrap_or_default();
    let body = match framing {
        Framing::Length(length) => rest.get(..length).ok_or_else(truncated)?.to_vec(),
        Framing::Chunked => dechunk(rest, max_body)?.ok_or_else(truncated)?,
        Framing::UntilClose => rest.to_vec(),
    };
    if body.len() as u64 > max_body {
        return Err(TransportError::ReplyTooLarge);
    }
    // The final head is the one before `start`; its headers name a redirect and the type.
    let mut location = None;
    let mut content_type = None;
    let head_text = raw.get(..start).unwrap_or_default();
    let final_head = head_text
        .windows(4)
        .enumerate()
        .rfind(|(i, w)| *w == b"\r\n\r\n" && i.saturating_add(4) < start)
        .map_or(head_text, |(i, _)| {
            head_text.get(i.saturating_add(4)..).unwrap_or_default()
        });
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    if response.parse(final_head).is_ok() {
        for header in response.headers.iter() {
            let value = String::from_utf8_lossy(header.value).trim().to_owned();
            if header.name.eq_ignore_ascii_case("location") {
                location = Some(value);
            } else if header.name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value);
            }
        }
    }
    Ok(HttpReply {
        status,
        location,
        content_type,
        body,
    })
}

/// Runs an exchange to its end over `transport`, asking `decide` at the prompt.
pub fn run(
    exchange: Exchange<'_>,
    first: Request,
    transport: &HttpTransport,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, Error> {
    exchange.drive(first, |request| transport.post(request), decide)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "localhost.example",
            "[::2]",
            "128.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plain_http_only_for_loopback_and_only_when_allowed() {
        let strict = HttpTransport::default();
        let relaxed = HttpTransport::default().danger_allow_loopback_http();
        let local = "https://127.0.0.1:8080/sqrl?nut=a";
        assert_eq!(strict.effective_url(local).unwrap(), local);
        assert_eq!(
            relaxed.effective_url(local).unwrap(),
            "http://127.0.0.1:8080/sqrl?nut=a"
        );
        assert_eq!(
            relaxed.effective_url("https://[::1]:8080/s").unwrap(),
            "http://[::1]:8080/s"
        );
        let remote = "https://example.com/sqrl?nut=a";
        assert_eq!(relaxed.effective_url(remote).unwrap(), remote);
        assert!(relaxed.effective_url("http://example.com/").is_err());
        assert!(strict.effective_url("http://127.0.0.1/").is_err());
        assert_eq!(host_of("https://h.example:1/x"), "h.example");
        assert_eq!(host_of("https://[::1]:1/x"), "[::1]");
    }

    #[test]
    fn targets_keep_port_path_and_query() {
        let t = Target::parse("https://example.com:8443/sqrl?nut=a&can=b").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.authority.as_str()),
            (true, "example.com", 8443, "example.com:8443")
        );
        assert_eq!(t.path, "/sqrl?nut=a&can=b");
        let t = Target::parse("http://[::1]:8080?nut=a").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.path, "/?nut=a");
        assert_eq!(Target::parse("https://example.com").unwrap().port, 443);
        assert!(Target::parse("ftp://example.com/").is_err());
        assert!(Target::parse("https://example.com:99999/").is_err());
    }

    #[test]
    fn request_is_one_buffer_with_head_and_body() {
        let t = Target::parse("https://example.com/sqrl?nut=a").unwrap();
        let wire =
            String::from_utf8(t.request_bytes("POST", Some("client=YQ&server=Yg&ids=Yw"))).unwrap();
        assert!(wire.starts_with("POST /sqrl?nut=a HTTP/1.1\r\nHost: example.com\r\n"));
        assert!(wire.contains("\r\nContent-Length: 26\r\n"));
        assert!(wire.ends_with("\r\n\r\nclient=YQ&server=Yg&ids=Yw"));
        let get = String::from_utf8(t.request_bytes("GET", None)).unwrap();
        assert!(get.starts_with("GET /sqrl?nut=a HTTP/1.1\r\n"));
        assert!(!get.contains("Content-Length") && get.ends_with("\r\n\r\n"));
    }

    #[test]
    fn fetched_answers_keep_status_location_and_type_of_the_final_head() {
        let raw = b"HTTP/1.1 100 Continue\r\nLocation: /no\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /account\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi";
        let reply = parse_reply(raw, MAX_REPLY).unwrap();
        assert_eq!(reply.status, 302);
        assert_eq!(reply.location.as_deref(), Some("/account"));
        assert_eq!(reply.content_type.as_deref(), Some("text/html"));
        assert_eq!(reply.body, b"hi");
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n";
        assert!(parse_reply(big, MAX_REPLY).is_err());
        assert!(complete(big, 64 * 1024).is_ok());
    }

    #[test]
    fn replies_are_framed_by_length_chunks_or_close() {
        let by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert!(complete(by_length, MAX_REPLY).unwrap());
        assert_eq!(parse_reply(by_length, MAX_REPLY).unwrap().body, b"abc");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert!(complete(chunked, MAX_REPLY).unwrap());
        assert_eq!(parse_reply(chunked, MAX_REPLY).unwrap().body, b"abcde");
        assert!(!complete(&chunked[..chunked.len() - 8], MAX_REPLY).unwrap());
        let until_close = b"HTTP/1.0 200 OK\r\n\r\nabc";
        assert!(!complete(until_close, MAX_REPLY).unwrap());
        assert_eq!(parse_reply(until_close, MAX_REPLY).unwrap().body, b"abc");
        let interim =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_reply(interim, MAX_REPLY).unwrap().status, 404);
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
        assert!(matches!(
            parse_reply(short, MAX_REPLY),
            Err(TransportError::Network(_))
        ));
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n";
        assert_eq!(
            parse_reply(huge, MAX_REPLY).unwrap_err(),
            TransportError::ReplyTooLarge
        );
        let huge_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n";
        assert_eq!(
            parse_reply(huge_chunk, MAX_REPLY).unwrap_err(),
            TransportError::ReplyTooLarge
        );
        assert!(parse_reply(b"not http\r\n\r\n", MAX_REPLY).is_err());
    }
}

//! Loopback test servers that take each request with exactly **one** `read()` call and answer
//! from what that read returned, the way GRC's reference server (SSP-API) does: a request whose
//! body arrives after its head (a second TCP write or a second TLS record) is answered
//! `400 incomplete request`. Plain TCP, or TLS with a certificate signed by a throwaway CA
//! made with rcgen.
#![allow(
    // A test helper module: `pub` is for the tests that include it, not an API.
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A throwaway certificate authority.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    /// A server configuration whose certificate (for `localhost` and `127.0.0.1`) this CA
    /// signed; `tls12_only` pins TLS 1.2, where application data has its own record type.
    pub fn server_config(&self, tls12_only: bool) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let chain = vec![
            cert.der().clone(),
            CertificateDer::from(self.cert.der().to_vec()),
        ];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider);
        let builder = if tls12_only {
            builder.with_protocol_versions(&[&rustls::version::TLS12])
        } else {
            builder.with_safe_default_protocol_versions()
        };
        Arc::new(
            builder
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, private)
                .unwrap(),
        )
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The bytes the one `read()` returned.
    pub first_read: Vec<u8>,
    /// The body was complete in that read.
    pub complete: bool,
    /// TLS only: every byte the client sent before the answer, as TLS records.
    pub raw: Vec<u8>,
}

impl Seen {
    /// The number of TLS application-data records (type 23) the client sent.
    pub fn application_data_records(&self) -> usize {
        let mut count = 0;
        let mut rest = &self.raw[..];
        while rest.len() >= 5 {
            let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if rest[0] == 23 {
                count += 1;
            }
            rest = &rest[(5 + length).min(rest.len())..];
        }
        count
    }
}

/// Records every byte read from the socket.
struct Recording {
    socket: TcpStream,
    seen: Vec<u8>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.socket.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.socket.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.socket.flush()
    }
}

/// Splits one read into (request target, body) if the body is complete.
fn complete_request(bytes: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let target = head.split_whitespace().nth(1)?.to_owned();
    let length: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })?;
    (body.len() == length).then(|| (target, body.to_owned()))
}

fn answer(bytes: &[u8], respond: &dyn Fn(&str, &str) -> String) -> (Vec<u8>, bool) {
    let (status, text, complete) = match complete_request(bytes) {
        Some((target, body)) => ("200 OK", respond(&target, &body), true),
        None => ("400 Bad Request", "incomplete request".to_owned(), false),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    (reply.into_bytes(), complete)
}

/// Serves on a free loopback port (TLS when `tls` is given), one request per connection, each
/// taken with one `read()`. Returns the port and what every connection saw.
pub fn serve(
    tls: Option<Arc<ServerConfig>>,
    respond: impl Fn(&str, &str) -> String + Send + 'static,
) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen_log = Arc::clone(&log);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { continue };
            let mut buf = vec![0u8; 64 * 1024];
            let mut seen = Seen::default();
            match &tls {
                None => {
                    let mut socket = socket;
                    let Ok(n) = socket.read(&mut buf) else {
                        continue;
                    };
                    seen.first_read = buf[..n].to_vec();
                    let (reply, complete) = answer(&seen.first_read, &respond);
                    seen.complete = complete;
                    // Logged before answering, so a client that has its answer sees it.
                    seen_log.lock().unwrap().push(seen);
                    let _ = socket.write_all(&reply);
                }
                Some(config) => {
                    let Ok(connection) = ServerConnection::new(Arc::clone(config)) else {
                        continue;
                    };
                    let recording = Recording {
                        socket,
                        seen: Vec::new(),
                    };
                    let mut stream = StreamOwned::new(connection, recording);
                    // One read: rustls completes the handshake inside it, then returns the
                    // plaintext that has arrived.
                    let Ok(n) = stream.read(&mut buf) else {
                        seen_log.lock().unwrap().push(seen);
                        continue;
                    };
                    seen.first_read = buf[..n].to_vec();
                    seen.raw = std::mem::take(&mut stream.sock.seen);
                    let (reply, complete) = answer(&seen.first_read, &respond);
                    seen.complete = complete;
                    seen_log.lock().unwrap().push(seen);
                    let _ = stream.write_all(&reply);
                    stream.conn.send_close_notify();
                    let _ = stream.flush();
                }
            }
        }
    });
    (port, log)
}

//! The HTTP transport against loopback servers that read each request with one `read()` (as
//! GRC's SSP-API server does), over plain TCP and over TLS; and which certificate authorities
//! it trusts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use common::mini_server::MiniServer;
use common::one_read_server::{serve, TestCa};
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Request};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::transport::{self, HttpTransport};
use sqrl_client::{Error, TransportError};
use sqrl_proto::{ServerParams, SqrlUrl, Tif};

fn reply() -> String {
    ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2")
        .encode()
        .unwrap()
}

/// A request as big as a real `ident` with `pids` and `urs`.
fn request(scheme_host: &str) -> Request {
    Request {
        url: format!("{scheme_host}/sqrl?nut=n1&can=aHR0cHM6Ly9leGFtcGxlLmNvbS8"),
        body: format!(
            "client={}&server={}&ids={}&pids={}&urs={}",
            "Y".repeat(400),
            "Z".repeat(300),
            "A".repeat(86),
            "B".repeat(86),
            "C".repeat(86)
        ),
    }
}

#[test]
fn grc_server_reading_once_sees_the_whole_request_over_plain_http() {
    let (port, seen) = serve(None, |_, _| reply());
    let transport = HttpTransport::default().danger_allow_loopback_http();
    let request = request(&format!("https://127.0.0.1:{port}"));
    for _ in 0..5 {
        assert_eq!(transport.post(&request).unwrap(), reply());
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    for one in seen.iter() {
        assert!(one.complete, "{}", String::from_utf8_lossy(&one.first_read));
        assert!(one.first_read.ends_with(request.body.as_bytes()));
        assert!(one
            .first_read
            .starts_with(b"POST /sqrl?nut=n1&can=aHR0cHM6Ly9leGFtcGxlLmNvbS8 HTTP/1.1\r\n"));
    }
}

#[test]
fn grc_server_reading_once_sees_the_whole_request_in_one_tls_record() {
    let ca = TestCa::new("sqrl-rs one-record test CA");
    // TLS 1.2 gives application data its own record type, so the records can be counted.
    for tls12_only in [true, false] {
        let (port, seen) = serve(Some(ca.server_config(tls12_only)), |_, _| reply());
        let transport = HttpTransport::default()
            .with_ca_certs_pem(ca.pem.as_bytes())
            .unwrap();
        let request = request(&format!("https://127.0.0.1:{port}"));
        for _ in 0..3 {
            assert_eq!(transport.post(&request).unwrap(), reply());
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for one in seen.iter() {
            assert!(one.complete, "{}", String::from_utf8_lossy(&one.first_read));
            assert!(one.first_read.ends_with(request.body.as_bytes()));
            if tls12_only {
                assert_eq!(one.application_data_records(), 1);
            }
        }
    }
}

#[test]
fn https_server_of_a_private_ca_is_reachable_only_with_that_ca() {
    let ca = TestCa::new("sqrl-rs private test CA");
    let (port, _) = serve(Some(ca.server_config(false)), |_, _| reply());
    let request = request(&format!("https://127.0.0.1:{port}"));

    // Built-in and platform roots only: the certificate is refused.
    match HttpTransport::default().post(&request) {
        Err(Error::Transport(TransportError::Network(message))) => {
            assert!(message.contains("certificate"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Another CA does not help.
    let other = TestCa::new("some other CA");
    let wrong = HttpTransport::default()
        .with_ca_certs_pem(other.pem.as_bytes())
        .unwrap();
    assert!(matches!(
        wrong.post(&request),
        Err(Error::Transport(TransportError::Network(_)))
    ));

    // Given as PEM text (two certificates, the right one second), or as a file.
    let both = format!("{}{}", other.pem, ca.pem);
    let trusting = HttpTransport::default()
        .with_ca_certs_pem(both.as_bytes())
        .unwrap();
    assert_eq!(trusting.post(&request).unwrap(), reply());
    let dir = std::env::temp_dir().join(format!("sqrl-ca-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.pem");
    std::fs::write(&file, &ca.pem).unwrap();
    let from_file = HttpTransport::default().with_ca_cert_file(&file).unwrap();
    assert_eq!(from_file.post(&request).unwrap(), reply());

    // A file without a certificate, or no file at all, is a clear error up front.
    std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
    for path in [dir.join("empty.pem"), dir.join("missing.pem")] {
        match HttpTransport::default().with_ca_cert_file(&path) {
            Err(TransportError::CaCertificate(message)) => {
                assert!(message.contains(&path.display().to_string()), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_cas_do_not_allow_plain_http() {
    let ca = TestCa::new("sqrl-rs test CA");
    let transport = HttpTransport::default()
        .with_ca_certs_pem(ca.pem.as_bytes())
        .unwrap();
    let (port, seen) = serve(None, |_, _| reply());
    let plain = request(&format!("http://127.0.0.1:{port}"));
    assert_eq!(
        transport.post(&plain).unwrap_err(),
        Error::Transport(TransportError::InsecureTransport("127.0.0.1".into()))
    );
    // An https URL to a plain-HTTP server fails the handshake instead of falling back.
    let https = request(&format!("https://127.0.0.1:{port}"));
    assert!(matches!(
        transport.post(&https),
        Err(Error::Transport(TransportError::Network(_)))
    ));
    assert!(seen.lock().unwrap().iter().all(|s| !s.complete));
}

#[test]
fn whole_login_over_https_with_a_private_ca() {
    let ca = TestCa::new("sqrl-rs login test CA");
    let server = Arc::new(Mutex::new(MiniServer::new("placeholder")));
    let shared = Arc::clone(&server);
    let (port, seen) = serve(Some(ca.server_config(false)), move |target, body| {
        shared.lock().unwrap().handle(target, body)
    });
    server.lock().unwrap().host = format!("127.0.0.1:{port}");
    let transport = HttpTransport::default()
        .with_ca_certs_pem(ca.pem.as_bytes())
        .unwrap();
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), Vec::new());
    let url = SqrlUrl::parse(&server.lock().unwrap().issue_url()).unwrap();
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let outcome = transport::run(exchange, first, &transport, |_| Decision::Approve).unwrap();
    assert!(outcome.new_association);
    assert_eq!(server.lock().unwrap().log, ["query 4", "ident 5"]);
    assert!(seen.lock().unwrap().iter().all(|s| s.complete));
}

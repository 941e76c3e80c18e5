//! `sqrl check` against real servers: our own `sqrl-site` passes every check; a small fake
//! server that takes anything fails the named checks, and the exit status says so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sqrl_testkit::{binary, temp_dir, wait_until, SiteProcess};

fn sqrl_check(args: &[&str]) -> Output {
    Command::new(binary("sqrl"))
        .arg("--danger-loopback-http")
        .arg("check")
        .args(args)
        .env_remove("SQRL_CA_CERT")
        .output()
        .unwrap()
}

fn verdicts(output: &Output) -> Vec<(String, String)> {
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "--json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// One raw HTTP request; the body of the answer.
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[test]
fn our_site_passes_every_check_and_refuses_an_expired_code() {
    let dir = temp_dir("check-site");
    let site = SiteProcess::start(
        &dir,
        &[
            "--scans-per-minute",
            "6000",
            "--codes-per-minute",
            "6000",
            "--nut-lifetime",
            "10",
        ],
    );
    let addr = site.addr().to_string();
    // A code that will be older than the site's 10 s code lifetime when the battery runs.
    let answer = http(
        &addr,
        &format!("POST /sqrl/new HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let old_code = json["url"].as_str().unwrap().to_owned();
    let issued = Instant::now();
    wait_until(Duration::from_secs(20), || {
        issued.elapsed() > Duration::from_secs(11)
    });

    let page = format!("{}/", site.base);
    let output = sqrl_check(&[&page, "--expired-code", &old_code]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains(" 0 fail, 0 n/a"), "{text}");
    for line in text.lines().skip(1).filter(|l| !l.contains(" checks: ")) {
        assert!(
            line.starts_with("pass ") || line.starts_with("      "),
            "{line}\n{text}"
        );
    }

    let output = sqrl_check(&["--json", &page]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let checks = verdicts(&output);
    assert!(checks.len() >= 35, "{checks:?}");
    for (id, verdict) in &checks {
        let expected = if id == "expired-code" {
            "not-applicable"
        } else {
            "pass"
        };
        assert_eq!(verdict, expected, "{id}");
    }
}

/// A server that answers every SQRL request with success and a fresh nut: it takes a
/// replayed nut, a forged signature and anything else.
fn credulous_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let host = addr.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut raw = Vec::new();
            let mut buffer = [0u8; 4096];
            // Read the head, then the body by its Content-Length.
            while let Ok(read @ 1..) = stream.read(&mut buffer) {
                raw.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&raw);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&raw);
            let (kind, body) = if text.starts_with("GET / ") {
                (
                    "text/html",
                    format!("<a href=\"sqrl://{host}/sqrl?nut=code{n}\">log in</a>"),
                )
            } else {
                // Unknown to a query, known to anything else.
                let query = text
                    .split(['&', '\n'])
                    .find_map(|field| field.strip_prefix("client="))
                    .and_then(|client| sqrl_proto::b64::decode(client.trim()).ok())
                    .is_some_and(|client| String::from_utf8_lossy(&client).contains("cmd=query"));
                let tif = if query { 4 } else { 5 };
                let reply = format!("ver=1\r\nnut=n{n}\r\ntif={tif}\r\nqry=/sqrl?nut=n{n}\r\nsuk=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n");
                ("text/plain", sqrl_proto::b64::encode(reply))
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn a_server_that_takes_a_replayed_nut_fails_that_check() {
    let addr = credulous_server();
    let page = format!("http://{addr}/");
    let output = sqrl_check(&[&page]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("nut-replay-query"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(text.contains("      sent:     POST http"), "{text}");
    assert!(
        text.contains("      received: HTTP 200: ver=1 / nut="),
        "{text}"
    );

    let output = sqrl_check(&["--json", &page]);
    assert_eq!(output.status.code(), Some(1));
    let checks = verdicts(&output);
    let verdict = |id: &str| {
        checks
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(verdict("nut-replay-query"), Some("fail"));
    assert_eq!(verdict("nut-replay-ident"), Some("fail"));
    assert_eq!(verdict("tamper-ids"), Some("fail"));
    assert_eq!(verdict("reply-tif-hex"), Some("pass"));
}

/// One raw HTTP request; the answer's body as bytes.
fn http_bytes(addr: &str, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    answer[at + 4..].to_vec()
}

/// A login page that shows its code only as a QR image (as GRC's demo pages do): each load
/// of `/` names `/qr.png`, a fresh code of `site` drawn by the site.
fn page_with_only_a_qr_image(site: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = [0u8; 2048];
            let read = stream.read(&mut head).unwrap_or(0);
            let request = String::from_utf8_lossy(&head[..read]).into_owned();
            let (kind, body) = if request.starts_with("GET /qr.png") {
                let code = http(
                    &site,
                    &format!("POST /sqrl/new HTTP/1.1\r\nHost: {site}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                );
                let json: serde_json::Value = serde_json::from_str(&code).unwrap();
                let png = json["png"].as_str().unwrap().to_owned();
                let image = http_bytes(
                    &site,
                    &format!("GET {png} HTTP/1.1\r\nHost: {site}\r\nConnection: close\r\n\r\n"),
                );
                ("image/png", image)
            } else {
                (
                    "text/html",
                    b"<h1>Log in</h1><img alt=\"logo\" src=\"logo.png\"><img src=\"/qr.png\">"
                        .to_vec(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    addr
}

/// Before, a login page that shows its code only as a QR image (no `sqrl://` link, no code
/// API) was "no code": the issue asks for codes from the QR image too.
#[test]
fn codes_are_read_from_a_login_page_s_qr_image() {
    let dir = temp_dir("check-qr-page");
    let site = SiteProcess::start(
        &dir,
        &["--scans-per-minute", "6000", "--codes-per-minute", "6000"],
    );
    let page = format!(
        "http://{}/",
        page_with_only_a_qr_image(site.addr().to_string())
    );
    let output = sqrl_check(&["--json", &page]);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for (id, verdict) in verdicts(&output) {
        let expected = if id == "expired-code" {
            "not-applicable"
        } else {
            "pass"
        };
        assert_eq!(verdict, expected, "{id}");
    }
}

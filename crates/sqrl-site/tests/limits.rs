//! The listener's limits, on real loopback sockets against the `sqrl-site` binary with short
//! timeouts: slowloris heads, idle keep-alive connections and slow bodies are closed; a live
//! status stream is not; one address cannot take every connection, nor can all addresses
//! together take more than the site-wide cap; a spoofed `X-Forwarded-For` first hop does not
//! dodge the per-address limits. Attackers connect from 127.0.0.2 and up (all loopback on
//! Linux), the honest browser from 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sqrl_client::transport::HttpTransport;
use support::{answer, log_in, new_keys, temp_dir, Browser, SiteProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `to` from the loopback address `source`.
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection; `Some(when)` if it did within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads until `text` has arrived (panics after `within`); returns all that was read.
async fn read_until(stream: &mut TcpStream, text: &str, within: Duration) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    while !String::from_utf8_lossy(&seen).contains(text) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {text:?} within {within:?}: {}",
                    String::from_utf8_lossy(&seen)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "closed before {text:?}: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Honest traffic from 127.0.0.1: `/health` within `within`, then a whole login (a code, the
/// client's two requests, the redemption, the account page) within twice that: it takes
/// about 50 ms, but this machine is shared by parallel tests and builds.
async fn honest_visit(base: &str, within: Duration) {
    let base = base.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut browser = Browser::new(&base, None);
        let start = Instant::now();
        assert_eq!(browser.send("GET", "/health").status, 200);
        let health = start.elapsed();
        assert!(health < within, "/health took {health:?}");
        let start = Instant::now();
        let transport = HttpTransport::default().danger_allow_loopback_http();
        log_in(&mut browser, &new_keys(), &transport);
        let login = start.elapsed();
        assert!(login < within * 2, "the login took {login:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_and_an_honest_browser_still_logs_in() {
    let dir = temp_dir("slowloris");
    let site = SiteProcess::start(&dir, &["--header-timeout", "1"]);
    let addr = site.addr();
    // 200 connections from one address, each sending its request head a line at a time,
    // never finishing it.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = connect_from("127.0.0.2", addr).await;
        slow.push(tokio::spawn(async move {
            let start = Instant::now();
            let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
            let mut buf = [0u8; 1024];
            while start.elapsed() < Duration::from_secs(6) {
                tokio::select! {
                    read = stream.read(&mut buf) => {
                        if matches!(read, Ok(0) | Err(_)) {
                            return Some(start.elapsed());
                        }
                    }
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        let _ = stream.write_all(b"X-Slow: yes\r\n").await;
                    }
                }
            }
            None
        }));
    }
    // Meanwhile, an honest browser is served at once, again and again (a few times: the
    // site limits scans per address).
    for _ in 0..6 {
        honest_visit(&site.base, Duration::from_secs(1)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for task in slow {
        let closed = task.await.unwrap();
        let closed = closed.expect("a slowloris connection was still open after 6 s");
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(4),
            "closed after {closed:?}, not after the 1 s header timeout"
        );
    }
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let dir = temp_dir("per-client-cap");
    let site = SiteProcess::start(
        &dir,
        &[
            "--max-connections",
            "100",
            "--max-connections-per-client",
            "10",
            "--header-timeout",
            "30",
        ],
    );
    let addr = site.addr();
    let mut streams = Vec::new();
    for _ in 0..30 {
        streams.push(connect_from("127.0.0.2", addr).await);
    }
    let mut open = 0;
    for stream in &mut streams {
        if closed_within(stream, Duration::from_millis(500))
            .await
            .is_none()
        {
            open += 1;
        }
    }
    assert_eq!(
        open, 10,
        "the per-client cap keeps 10 open, closes the rest"
    );
    // Another address is served as usual, and so is a third one's connections.
    honest_visit(&site.base, Duration::from_secs(1)).await;
    let mut others = Vec::new();
    for _ in 0..10 {
        others.push(connect_from("127.0.0.3", addr).await);
    }
    for stream in &mut others {
        assert!(closed_within(stream, Duration::from_millis(200))
            .await
            .is_none());
    }
    // A closed connection frees its place.
    drop(streams);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", addr).await;
    again
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut again, "ok", Duration::from_secs(2)).await;
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_wide_cap_closes_connections_over_it() {
    let dir = temp_dir("global-cap");
    let site = SiteProcess::start(
        &dir,
        &[
            "--max-connections",
            "12",
            "--max-connections-per-client",
            "10",
            "--header-timeout",
            "30",
        ],
    );
    let addr = site.addr();
    let mut first = Vec::new();
    for _ in 0..10 {
        first.push(connect_from("127.0.0.2", addr).await);
    }
    let mut second = Vec::new();
    for _ in 0..5 {
        second.push(connect_from("127.0.0.3", addr).await);
    }
    for stream in &mut first {
        assert!(closed_within(stream, Duration::from_millis(300))
            .await
            .is_none());
    }
    let mut open = 0;
    for stream in &mut second {
        if closed_within(stream, Duration::from_millis(300))
            .await
            .is_none()
        {
            open += 1;
        }
    }
    assert_eq!(open, 2, "12 in all");
    drop(first);
    drop(second);
    tokio::time::sleep(Duration::from_millis(200)).await;
    honest_visit(&site.base, Duration::from_secs(1)).await;
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let dir = temp_dir("idle");
    let site = SiteProcess::start(&dir, &["--header-timeout", "1"]);
    let mut stream = TcpStream::connect(site.addr()).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut stream, "\r\n\r\nok", Duration::from_secs(2)).await;
    // Kept alive for the next request, but not for ever.
    let closed = closed_within(&mut stream, Duration::from_secs(4))
        .await
        .expect("an idle keep-alive connection was still open after 4 s");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_stream_outlives_the_header_timeout() {
    let dir = temp_dir("stream");
    let site = SiteProcess::start(&dir, &["--header-timeout", "1"]);
    let base = site.base.clone();
    let (url, cookies) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::new(&base, None);
        let url = browser.new_code();
        let cookies = browser
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        (url, cookies)
    })
    .await
    .unwrap();
    let mut stream = TcpStream::connect(site.addr()).await.unwrap();
    let request = format!(
        "GET /sqrl/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nCookie: {cookies}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until(&mut stream, "\"status\":\"new\"", Duration::from_secs(2)).await;
    // Twice the header timeout with nothing to say: the stream stays open.
    assert_eq!(
        closed_within(&mut stream, Duration::from_millis(2500)).await,
        None,
        "the status stream was closed"
    );
    // And still carries the news.
    let keys = new_keys();
    tokio::task::spawn_blocking(move || {
        answer(
            &url,
            &keys,
            &HttpTransport::default().danger_allow_loopback_http(),
        )
        .unwrap();
    })
    .await
    .unwrap();
    read_until(
        &mut stream,
        "\"status\":\"confirmed\"",
        Duration::from_secs(3),
    )
    .await;
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_body_is_cut_off() {
    let dir = temp_dir("slow-body");
    let site = SiteProcess::start(&dir, &["--body-timeout", "1", "--header-timeout", "30"]);
    let mut stream = TcpStream::connect(site.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /sqrl?nut=abc HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
        )
        .await
        .unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = loop {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "a body sent a byte at a time was still being read after 5 s"
        );
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break start.elapsed(),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                let _ = stream.write_all(b"x").await;
            }
        }
    };
    assert!(closed >= Duration::from_millis(900), "{closed:?}");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "answered 400, never 500: {answer}"
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected() {
    let dir = temp_dir("slow-read");
    let site = SiteProcess::start(&dir, &["--write-timeout", "1", "--header-timeout", "30"]);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(site.addr()).await.unwrap();
    // Pipelined requests whose answers are never read: the site's writes stall once the
    // buffers between are full.
    let requests = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let start = Instant::now();
    let mut sent = 0usize;
    let closed = loop {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still open after 15 s of unread answers ({sent} requests sent)"
        );
        match tokio::time::timeout(Duration::from_secs(1), stream.write_all(&requests)).await {
            Ok(Ok(())) => sent += 1000,
            Ok(Err(_)) => break start.elapsed(),
            Err(_) => {} // our own writes stall too while the site does not read
        }
    };
    assert!(sent > 0 && closed < Duration::from_secs(15), "{closed:?}");
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spoofed_forwarded_for_cannot_dodge_the_code_limit() {
    let dir = temp_dir("forwarded");
    // One proxy of our own in front; the client writes a new first hop each time.
    let site = SiteProcess::start(&dir, &["--trust-forwarded-for", "--codes-per-minute", "3"]);
    let agent = ureq::AgentBuilder::new().build();
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            let result = agent
                .post(&format!("{}/sqrl/new", site.base))
                .set("X-Forwarded-For", &format!("10.9.9.{i}, 198.51.100.7"))
                .call();
            match result {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(status, _)) => status,
                Err(e) => panic!("{e}"),
            }
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    // Another client behind the same proxy has its own budget.
    let other = agent
        .post(&format!("{}/sqrl/new", site.base))
        .set("X-Forwarded-For", "198.51.100.8")
        .call()
        .unwrap();
    assert_eq!(other.status(), 200);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

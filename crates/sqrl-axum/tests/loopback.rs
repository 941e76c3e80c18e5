//! What needs real sockets, on loopback with a SQLite file and the system clock: a full login
//! by a browser (ureq with a cookie jar) and the real client's HTTP transport, the waiting
//! page's SSE stream waking as soon as the phone confirms, and concurrent requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use rand_core::OsRng;
use sqrl_axum::{HttpSettings, SqrlHttp};
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Exchange, Keys, Outcome};
use sqrl_client::keys::{Imk, Iuk, Rlk};
use sqrl_client::transport::{self, HttpTransport};
use sqrl_proto::{
    b64, signing_input, Button, Bytes32, ClientParams, Command, RequestBody, ServerParams, SqrlUrl,
    Tif,
};
use sqrl_server::{Config, Endpoint, SqrlServer};
use sqrl_server_sqlite::SqliteStore;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

struct Site {
    base: String,
    host: String,
    dir: std::path::PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Serves the routes on a loopback port from a background thread with its own runtime.
fn start(settings: HttpSettings) -> Site {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sqrl-axum-loopback-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let host = format!("127.0.0.1:{port}");
    let mut config = Config::new(&host);
    config.origin = format!("http://{host}");
    let store = SqliteStore::open(dir.join("site.sqlite")).unwrap();
    let server = Endpoint::new(config, &[1; 32], &[2; 32]);
    let http = SqrlHttp::builder(SqrlServer::new(server, Arc::new(store)))
        .settings(settings)
        .build();
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
    Site {
        base: format!("http://{host}"),
        host,
        dir,
    }
}

fn plain() -> HttpSettings {
    HttpSettings {
        secure_cookies: false,
        // Far away, so that only an event can wake a waiting page in these tests.
        reread: Duration::from_secs(60),
        ..HttpSettings::default()
    }
}

/// A browser: remembers cookies.
struct Browser {
    agent: ureq::Agent,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(site: &Site) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            base: site.base.clone(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &ureq::Response) {
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent
            .request(method, &format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set("User-Agent", FIREFOX)
    }

    fn call(&mut self, method: &str, path: &str) -> (u16, String) {
        let response = match self.request(method, path).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        self.remember(&response);
        (response.status(), response.into_string().unwrap())
    }

    /// A new login code: its `sqrl://` URL.
    fn new_login(&mut self) -> String {
        let (status, body) = self.call("POST", "/sqrl/new");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["url"].as_str().unwrap().to_owned()
    }
}

/// The real client over its real HTTP transport.
fn phone(url: &str, keys: &Keys) -> Result<Outcome, sqrl_client::Error> {
    let transport = HttpTransport::default().danger_allow_loopback_http();
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        Action::Login,
        keys,
        ClientConfig::default(),
        Rlk::generate(&mut OsRng),
    )?;
    transport::run(exchange, first, &transport, |_| {
        Decision::Button(Button::First)
    })
}

fn new_keys() -> Keys {
    let iuk = Iuk::generate(&mut OsRng);
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

fn status_of(line: &str) -> Option<String> {
    let data = line.strip_prefix("data: ")?;
    let json: serde_json::Value = serde_json::from_str(data).unwrap();
    Some(json["status"].as_str().unwrap().to_owned())
}

#[test]
fn full_login_with_the_real_client_wakes_the_waiting_page_at_once() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let url = browser.new_login();
    assert!(url.starts_with(&format!("sqrl://{}/sqrl?nut=", site.host)));
    assert!(browser.cookies.iter().any(|(n, _)| n == "sqrl_flow"));

    // The waiting page's stream, read line by line as it arrives.
    let response = browser.request("GET", "/sqrl/events").call().unwrap();
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(response.into_reader()).lines() {
            let Ok(line) = line else { break };
            if lines.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let next_status = || loop {
        let (at, line) = received.recv_timeout(Duration::from_secs(10)).unwrap();
        if let Some(status) = status_of(&line) {
            return (at, status);
        }
    };
    assert_eq!(next_status().1, "new");

    let keys = new_keys();
    let outcome = phone(&url, &keys).unwrap();
    let confirmed = Instant::now();
    assert!(outcome.new_association);
    assert_eq!(outcome.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
    assert_eq!(next_status().1, "scanned");
    let (at, status) = next_status();
    assert_eq!(status, "confirmed");
    let latency = at.saturating_duration_since(confirmed);
    eprintln!("the page heard of the confirmation {latency:?} after the phone did");
    assert!(
        latency < Duration::from_secs(2),
        "woken by the event, not the 60 s re-read: {latency:?}"
    );

    // Redeem: a session cookie; the stream ends on the final status.
    let (status, body) = browser.call("POST", "/sqrl/redeem");
    assert_eq!(status, 200, "{body}");
    assert!(browser.cookies.iter().any(|(n, _)| n == "sqrl_session"));
    assert!(browser.cookies.iter().all(|(n, _)| n != "sqrl_flow"));
    assert_eq!(next_status().1, "redeemed");
    reader.join().unwrap();

    // Logout.
    let (status, _) = browser.call("POST", "/sqrl/logout");
    assert_eq!(status, 303);
    assert!(browser.cookies.iter().all(|(n, _)| n != "sqrl_session"));

    // The same identity again: known, asked, and logged in.
    let url = browser.new_login();
    assert!(!phone(&url, &keys).unwrap().new_association);
    assert_eq!(browser.call("POST", "/sqrl/redeem").0, 200);
}

#[test]
fn a_long_poll_over_a_socket_wakes_on_the_login() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let url = browser.new_login();
    let waiting = browser.request("GET", "/sqrl/poll?last=new");
    let started = Instant::now();
    let poll = std::thread::spawn(move || {
        let body = waiting.call().unwrap().into_string().unwrap();
        (Instant::now(), body)
    });
    // Letting the poll wait before the login is the point (asserted below).
    #[allow(clippy::disallowed_methods)]
    std::thread::sleep(Duration::from_millis(200));
    phone(&url, &new_keys()).unwrap();
    let done = Instant::now();
    let (answered, body) = poll.join().unwrap();
    assert!(
        body.contains("\"status\":\"scanned\"") || body.contains("\"status\":\"confirmed\""),
        "{body}"
    );
    assert!(
        answered <= done + Duration::from_secs(2),
        "{:?}",
        answered - started
    );
    assert!(
        answered >= started + Duration::from_millis(200),
        "it waited"
    );
}

#[test]
fn many_logins_at_once_all_succeed() {
    let site = start(plain());
    let barrier = Barrier::new(8);
    let accounts: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (site, barrier) = (&site, &barrier);
                s.spawn(move || {
                    let mut browser = Browser::new(site);
                    let url = browser.new_login();
                    barrier.wait();
                    assert!(phone(&url, &new_keys()).unwrap().new_association);
                    let (status, body) = browser.call("POST", "/sqrl/redeem");
                    assert_eq!(status, 200, "{body}");
                    browser
                        .cookies
                        .iter()
                        .find(|(n, _)| n == "sqrl_session")
                        .unwrap()
                        .1
                        .clone()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = accounts.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8, "eight sessions");
}

/// Posts a hand-built request over a socket: the reply's TIF.
fn post(site: &Site, query: &str, body: &str) -> (u32, String) {
    let reply = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
        .post(&format!("{}/sqrl?{query}", site.base))
        .send_string(body)
        .unwrap()
        .into_string()
        .unwrap();
    (ServerParams::decode(&reply).unwrap().tif.bits(), reply)
}

#[test]
fn two_concurrent_idents_over_sockets_exactly_one_wins() {
    let site = start(plain());
    for round in 0..5u8 {
        let url = Browser::new(&site).new_login();
        let key = Imk::from_bytes([round; 32]).site_key("127.0.0.1", "");
        let sign = |params: &ClientParams, server: &str| {
            let client = params.encode().unwrap();
            let ids = key.sign(&signing_input(&client, server));
            RequestBody::new(client, server.to_owned(), &ids, None, None).encode()
        };
        let qr_echo = b64::encode(&url);
        let query = ClientParams::new(Command::Query, key.public_key());
        let (tif, reply) = post(
            &site,
            url.split_once('?').unwrap().1,
            &sign(&query, &qr_echo),
        );
        assert_eq!(tif, 0x04);
        let next = ServerParams::decode(&reply).unwrap().qry;
        let next_query = next.split_once('?').unwrap().1.to_owned();
        let bodies: Vec<String> = [Button::First, Button::Ok]
            .into_iter()
            .map(|btn| {
                let mut p = ClientParams::new(Command::Ident, key.public_key());
                p.suk = Some(Bytes32([5; 32]));
                p.vuk = Some(
                    Iuk::from_bytes([6; 32])
                        .unlock_request_signing_key(&Bytes32([5; 32]))
                        .verify_key(),
                );
                p.btn = Some(btn);
                sign(&p, &reply)
            })
            .collect();
        let barrier = Barrier::new(2);
        let mut results: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let (site, barrier, next_query) = (&site, &barrier, &next_query);
                    s.spawn(move || {
                        barrier.wait();
                        post(site, next_query, body).0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        results.sort_unstable();
        assert_eq!(results, [0x05, 0x60], "round {round}: {results:x?}");
    }
}

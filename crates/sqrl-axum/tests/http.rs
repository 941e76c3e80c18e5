//! Over real HTTP on loopback, with a SQLite file: a browser (a cookie jar and ureq) and the
//! real client as the phone. Full login with live status (SSE and long-poll), every command,
//! CPS, redemption only by the browser that started the login, rate limits, and the endpoint's
//! answers to bad requests (never a 500).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Exchange, Keys, Outcome};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::transport::{self, HttpTransport};
use sqrl_proto::{Button, ServerParams, SqrlUrl};
use sqrl_server::http::{HttpSettings, LoginEvent, SqrlHttp};
use sqrl_server::{Config, SqliteStore, SqrlService};

struct Site {
    port: u16,
    logins: Arc<Mutex<Vec<LoginEvent>>>,
    dir: std::path::PathBuf,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(settings: HttpSettings) -> Site {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sqrl-http-test-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = Config::new(&format!("127.0.0.1:{port}"));
    config.origin = format!("http://127.0.0.1:{port}");
    let store = SqliteStore::open(dir.join("site.sqlite")).unwrap();
    let service = SqrlService::new(config, &[1; 32], &[2; 32], store);
    let logins = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&logins);
    let http = SqrlHttp::builder(service)
        .settings(settings)
        .on_login(move |e| seen.lock().unwrap().push(e.clone()))
        .map_user(|idk| Some(format!("user-{}", &idk.encode()[..6])))
        .build();
    common::serve(listener, http);
    Site { port, logins, dir }
}

fn plain() -> HttpSettings {
    HttpSettings {
        secure_cookies: false,
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
            base: format!("http://127.0.0.1:{}", site.port),
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

    fn call(&mut self, method: &str, path: &str) -> (u16, String, Vec<String>) {
        let request = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header())
            .set(
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            );
        let response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        self.remember(&response);
        let status = response.status();
        let set_cookies = response
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        (status, response.into_string().unwrap(), set_cookies)
    }

    fn new_login(&mut self) -> serde_json::Value {
        let (status, body, _) = self.call("POST", "/sqrl/new");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn phone(
    url: &str,
    keys: &Keys,
    action: Action,
    config: ClientConfig,
    decision: Decision,
) -> Result<Outcome, sqrl_client::Error> {
    let transport = HttpTransport::default().danger_allow_loopback_http();
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        action,
        keys,
        config,
        Rlk::generate(&mut OsRng),
    )?;
    transport::run(exchange, first, &transport, |_| decision)
}

fn keys() -> Keys {
    let iuk = Iuk::generate(&mut OsRng);
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

#[test]
fn full_login_with_long_poll_then_session_and_logout() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let login = browser.new_login();
    let url = login["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("sqrl://127.0.0.1:{}/sqrl?nut=", site.port)));
    assert!(browser.cookies.iter().any(|(n, _)| n == "sqrl_flow"));

    let (status, body, _) = browser.call("GET", "/sqrl/poll?last=");
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"new\""), "{body}");
    assert!(body.contains("\"retry_ms\":2000"));

    // The page waits (long-poll) while the phone logs in.
    let mut waiting = Browser {
        agent: browser.agent.clone(),
        base: browser.base.clone(),
        cookies: browser.cookies.clone(),
    };
    let waiter = std::thread::spawn(move || waiting.call("GET", "/sqrl/poll?last=new"));
    let keys = keys();
    let started = std::time::Instant::now();
    let outcome = phone(
        &url,
        &keys,
        Action::Login,
        ClientConfig::default(),
        Decision::Button(Button::First),
    )
    .unwrap();
    assert!(outcome.new_association);
    let (_, changed, _) = waiter.join().unwrap();
    assert!(
        changed.contains("scanned") || changed.contains("confirmed"),
        "{changed}"
    );
    let (_, now, _) = browser.call("GET", "/sqrl/poll?last=scanned");
    assert!(now.contains("\"status\":\"confirmed\""), "{now}");
    eprintln!(
        "status seen as confirmed {:?} after the phone started",
        started.elapsed()
    );

    // Redeem: a fresh session cookie, HttpOnly and SameSite=Lax; the flow cookie cleared.
    let (status, body, set_cookies) = browser.call("POST", "/sqrl/redeem");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/account"));
    let session_cookie = set_cookies
        .iter()
        .find(|c| c.starts_with("sqrl_session="))
        .unwrap();
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    assert!(!session_cookie.contains("Secure"), "plain HTTP on loopback");
    assert!(browser.cookies.iter().all(|(n, _)| n != "sqrl_flow"));
    let events = site.logins.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].browser, "Firefox on Linux");
    assert!(events[0].user.as_deref().unwrap().starts_with("user-"));

    // Redeeming again does nothing.
    let (status, _, _) = browser.call("POST", "/sqrl/redeem");
    assert_ne!(status, 200);

    // Logout.
    let (status, _, _) = browser.call("POST", "/sqrl/logout");
    assert_eq!(status, 303);
    assert!(browser.cookies.iter().all(|(n, _)| n != "sqrl_session"));
}

#[test]
fn server_sent_events_report_each_change() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let login = browser.new_login();
    let url = login["url"].as_str().unwrap().to_owned();
    let response = browser
        .agent
        .get(&format!("{}/sqrl/events", browser.base))
        .set("Cookie", &browser.cookie_header())
        .call()
        .unwrap();
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let collected = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(response.into_reader()).lines() {
            let Ok(line) = line else { break };
            collected.lock().unwrap().push(line);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    phone(
        &url,
        &keys(),
        Action::Login,
        ClientConfig::default(),
        Decision::Button(Button::First),
    )
    .unwrap();
    let (status, _, _) = browser.call("POST", "/sqrl/redeem");
    assert_eq!(status, 200);
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    let statuses: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses.first().map(String::as_str), Some("new"));
    assert!(statuses.iter().any(|s| s == "confirmed"), "{lines:?}");
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("redeemed"),
        "the stream ends after a final status"
    );
    assert!(lines.iter().any(|l| l == "retry: 2000"), "{lines:?}");
}

#[test]
fn only_the_browser_that_started_the_login_can_redeem() {
    let site = start(plain());
    let mut first = Browser::new(&site);
    let url = first.new_login()["url"].as_str().unwrap().to_owned();
    phone(
        &url,
        &keys(),
        Action::Login,
        ClientConfig::default(),
        Decision::Button(Button::First),
    )
    .unwrap();
    // A second browser copies the QR link (it has its own flow cookie, not this one's).
    let mut second = Browser::new(&site);
    second.new_login();
    let (status, body, _) = second.call("POST", "/sqrl/redeem");
    assert_eq!(status, 403, "{body}");
    let mut no_cookie = Browser::new(&site);
    assert_eq!(no_cookie.call("POST", "/sqrl/redeem").0, 401);
    assert_eq!(first.call("POST", "/sqrl/redeem").0, 200);
}

#[test]
fn every_command_over_http_and_declined_login() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let rescue = Keys::new(iuk.imk(), iuk.ilk(), vec![]).with_unlock_key(iuk.clone());
    let mut run = |keys: &Keys, action| {
        let url = browser.new_login()["url"].as_str().unwrap().to_owned();
        phone(
            &url,
            keys,
            action,
            ClientConfig::default(),
            Decision::Button(Button::First),
        )
    };
    run(&keys, Action::Login).unwrap();
    run(&keys, Action::Disable).unwrap();
    assert_eq!(
        run(&keys, Action::Login).unwrap_err(),
        sqrl_client::Error::SqrlDisabled
    );
    run(&rescue, Action::Enable).unwrap();
    run(&keys, Action::Login).unwrap();
    run(&rescue, Action::Remove).unwrap();
    assert!(run(&keys, Action::Login).unwrap().new_association);

    let login = browser.new_login();
    let err = phone(
        login["url"].as_str().unwrap(),
        &keys,
        Action::Login,
        ClientConfig::default(),
        Decision::Button(Button::Second),
    )
    .unwrap_err();
    assert!(matches!(err, sqrl_client::Error::CommandFailed(_)));
    let (_, body, _) = browser.call("GET", "/sqrl/poll?last=");
    assert!(body.contains("\"status\":\"rejected\""), "{body}");
}

#[test]
fn cps_link_logs_in_once() {
    let site = start(plain());
    let mut waiting_page = Browser::new(&site);
    let url = waiting_page.new_login()["url"].as_str().unwrap().to_owned();
    let config = ClientConfig {
        cps: true,
        ..ClientConfig::default()
    };
    let outcome = phone(
        &url,
        &keys(),
        Action::Login,
        config,
        Decision::Button(Button::First),
    )
    .unwrap();
    let link = outcome.redirect.unwrap();
    let path = link.strip_prefix(&waiting_page.base).unwrap().to_owned();
    let mut opener = Browser::new(&site);
    let (status, _, cookies) = opener.call("GET", &path);
    assert_eq!(status, 303);
    assert!(cookies.iter().any(|c| c.starts_with("sqrl_session=")));
    let (status, body, _) = Browser::new(&site).call("GET", &path);
    assert_eq!(status, 403, "reused token: {body}");
    // The page that showed the code is told the login happened elsewhere and cannot redeem.
    let (_, body, _) = waiting_page.call("GET", "/sqrl/poll?last=");
    assert!(body.contains("confirmed-elsewhere"), "{body}");
    assert_ne!(waiting_page.call("POST", "/sqrl/redeem").0, 200);
    assert!(site.logins.lock().unwrap()[0].via_cps);
}

#[test]
fn qr_images_only_for_our_nuts() {
    let site = start(plain());
    let mut browser = Browser::new(&site);
    let login = browser.new_login();
    let (status, svg, _) = browser.call("GET", login["svg"].as_str().unwrap());
    assert_eq!(status, 200);
    assert!(svg.contains("<svg"));
    let response = browser
        .agent
        .get(&format!(
            "{}{}",
            browser.base,
            login["png"].as_str().unwrap()
        ))
        .call()
        .unwrap();
    assert_eq!(response.header("content-type"), Some("image/png"));
    // The PNG scans back to the login URL.
    let mut png = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut png).unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, login["url"].as_str().unwrap());
    assert_eq!(browser.call("GET", "/sqrl/qr.svg?nut=not-ours").0, 404);
    assert_eq!(browser.call("GET", "/sqrl/qr.png?nut=AAAA").0, 404);
}

#[test]
fn bad_requests_get_a_tif_or_a_4xx_never_a_500() {
    let site = start(plain());
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let endpoint = format!("http://127.0.0.1:{}/sqrl", site.port);
    let post = |query: &str, body: &[u8]| -> (u16, String) {
        match agent.post(&format!("{endpoint}{query}")).send_bytes(body) {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    let tif = |body: &str| ServerParams::decode(body).unwrap().tif.bits();
    let (status, body) = post("?nut=x", b"client=YQ&server=YQ&ids=YQ");
    assert_eq!((status, tif(&body)), (200, 0xC0));
    let (status, _) = post("?nut=x", &vec![b'a'; 9000]);
    assert_eq!(status, 413);
    let (status, body) = post("", b"");
    assert_eq!((status, tif(&body)), (200, 0xC0));
    let (status, body) = post("?nut=x", &[0xff; 300]);
    assert_eq!((status, tif(&body)), (200, 0xC0));
    let get = agent.get(&endpoint).call();
    assert!(matches!(get, Err(ureq::Error::Status(405, _))));
    let mut rng = 0x1234_5678_9abc_def0_u64;
    for _ in 0..200 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = (rng % 600) as usize;
        let body: Vec<u8> = (0..len)
            .map(|i| (rng.rotate_left(i as u32) & 0xff) as u8)
            .collect();
        let (status, _) = post("?nut=abc", &body);
        assert!(status == 200 || status == 413, "{status}");
    }
}

#[test]
fn minting_is_rate_limited_per_address() {
    let site = start(HttpSettings {
        mint_limit: (3, 0.01),
        ..plain()
    });
    let mut browser = Browser::new(&site);
    for _ in 0..3 {
        browser.new_login();
    }
    let (status, _, _) = browser.call("POST", "/sqrl/new");
    assert_eq!(status, 429);
}

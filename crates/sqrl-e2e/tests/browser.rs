//! The product as a person uses it: `sqrl-site` in headless Chromium, the `sqrl` command as the
//! phone. The QR code is read from a screenshot of the page (so it is proven scannable).
//!
//! Scenarios, in order (one browser driver, run one after another on two cores):
//! cross-device login with "scanned" then the account page, surviving a reload, logout;
//! a second browser that cannot redeem another's login; revoking another session from the
//! account page; declined on the phone; expiry with an explicit new code; same-device login
//! through `sqrl cps` (and the page's waiting state, against a stand-in app); declined at the
//! `sqrl` command's own prompt by a new user; disabled on the phone with the page's code; a
//! login refused for the disabled account (the page says how to re-enable), then enable and
//! log in. And the widget alone on
//! a minimal page of a tiny app that embeds `sqrl-axum` (served in this process), once as is
//! and once with its first redemptions answered 503 (the widget retries). And the site over
//! HTTPS, which Chromium speaks HTTP/2 to.
//!
//! Set `SQRL_UPDATE_SCREENSHOTS=1` to rewrite `docs/screenshots/*.png`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod chrome;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use chrome::{start_driver, Browser};
use serde_json::json;
use sqrl_axum::widget::CONTENT_SECURITY_POLICY;
use sqrl_axum::{HttpSettings, SqrlHttp};
use sqrl_server::{Config, Endpoint, SqrlServer};
use sqrl_testkit::{binary, wait_until, Process, SiteProcess};

// ---- processes ---------------------------------------------------------------------------

/// The site on a free port with its own database `dir/{name}.sqlite`.
fn start_site(dir: &Path, name: &str, extra: &[&str]) -> SiteProcess {
    let database = dir.join(format!("{name}.sqlite"));
    let mut args = vec!["--database", database.to_str().unwrap()];
    args.extend_from_slice(extra);
    SiteProcess::start(dir, &args)
}

/// The `sqrl` command with a test identity.
struct Phone {
    identity: PathBuf,
    rescue_code: String,
}

const PASSWORD: &str = "correct horse battery staple";

impl Phone {
    fn create(dir: &Path) -> Self {
        let identity = dir.join("phone.sqrl");
        let out = Command::new(binary("sqrl"))
            .args(["identity", "new", "--enscrypt-iterations", "1"])
            .env("SQRL_IDENTITY", &identity)
            .env("SQRL_NEW_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let rescue_code = stdout
            .lines()
            .find_map(|l| l.strip_prefix("Rescue code: "))
            .expect("the rescue code is printed")
            .to_owned();
        Self {
            identity,
            rescue_code,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("sqrl"));
        command
            .args(args)
            .arg("--danger-loopback-http")
            .env("SQRL_IDENTITY", &self.identity)
            .env("SQRL_PASSWORD", PASSWORD)
            .env("SQRL_RESCUE_CODE", &self.rescue_code);
        command
    }

    /// `sqrl login URL`, waiting at the site's question for the test to answer.
    fn login(&self, url: &str) -> (Process, ChildStdin) {
        self.login_to(url, Stdio::null())
    }

    /// [`Phone::login`] with its standard error (the prompts) going to `prompts`.
    fn login_to(&self, url: &str, prompts: Stdio) -> (Process, ChildStdin) {
        let mut child = self
            .command(&["login", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(prompts)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        (Process(child), stdin)
    }

    fn idk(&self, url: &str) -> String {
        let out = self
            .command(&["identity", "show", "--site", url])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("idk:"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

fn finish(mut process: Process, stdin: ChildStdin, answer: &str) -> Option<i32> {
    let mut stdin = stdin;
    stdin.write_all(answer.as_bytes()).unwrap();
    drop(stdin);
    process.0.wait().unwrap().code()
}

fn save_screenshot(browser: &Browser, name: &str) {
    if std::env::var_os("SQRL_UPDATE_SCREENSHOTS").is_some() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/screenshots")
            .join(name);
        std::fs::write(path, browser.screenshot()).unwrap();
    }
}

// ---- the scenarios ------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(sqrl_browser),
    ignore = "skipped: no chromium and chromedriver here (Debian's chromium, chromium-driver)"
)]
fn the_site_in_a_real_browser() {
    // Same-device login needs the SQRL port; a `sqrl cps` left running would answer the page
    // instead of the test's own and wait at its prompt forever.
    if let Err(e) = TcpListener::bind("127.0.0.1:25519") {
        panic!(
            "port 25519 on 127.0.0.1 is taken ({e}): the same-device scenario needs it. \
             Is a `sqrl cps` running? Stop it and run the browser tests again."
        );
    }
    let driver = start_driver();
    let dir = std::env::temp_dir().join(format!("sqrl-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let site = start_site(&dir, "site", &[]);
    let phone = Phone::create(&dir);

    // 1. Cross-device: QR from a screenshot, "scanned" shown, then the account page.
    let a = driver.session(&dir.join("profile-a"));
    let url = a.login_page(&site.base);
    assert!(
        url.starts_with(&format!(
            "sqrl://{}/sqrl?nut=",
            site.base.trim_start_matches("http://")
        )),
        "{url}"
    );
    save_screenshot(&a, "login.png");
    let idk = phone.idk(&url);
    // A new account: the client asks "Log in to …? [y/N]" after the site's words (browser,
    // IP, the page's code: every approval names them); known accounts get the site's
    // question with numbered buttons.
    let prompts = dir.join("login-a.out");
    let (process, stdin) =
        phone.login_to(&url, Stdio::from(std::fs::File::create(&prompts).unwrap()));
    a.wait_status("scanned");
    assert!(a.text(".sqrl-status").contains("Confirm in your SQRL app"));
    assert_eq!(
        finish(process, stdin, "y\n"),
        Some(0),
        "sqrl login succeeds"
    );
    let told = std::fs::read_to_string(&prompts).unwrap();
    assert!(
        told.contains("from 127.0.0.1?") && told.contains("[y/N]"),
        "a new account's approval names the browser's IP: {told}"
    );
    let returned = Instant::now();
    a.wait("the account page", Duration::from_secs(10), |b| {
        b.url().ends_with("/account") && b.text("#idk") == idk
    });
    eprintln!(
        "browser logged in {:?} after `sqrl login` returned",
        returned.elapsed()
    );
    save_screenshot(&a, "account.png");
    a.goto(&format!("{}/account", site.base));
    assert_eq!(a.text("#idk"), idk, "the session survives a reload");

    // 2. A second browser cannot redeem the first one's login.
    let b = driver.session(&dir.join("profile-b"));
    b.login_page(&site.base);
    let c = {
        let c = driver.session(&dir.join("profile-c"));
        let qr = c.login_page(&site.base);
        // Show-and-compare: the page shows a code beside the QR code and the question of
        // the phone quotes it (a known account is asked).
        let compare = c.text(".sqrl-compare-code");
        assert!(
            compare.len() == 2 && compare.bytes().all(|b| b.is_ascii_digit()),
            "the page shows a two-digit code: {compare:?}"
        );
        assert_eq!(
            c.run("return document.querySelector('.sqrl-compare').hidden;")
                .as_bool(),
            Some(false)
        );
        let prompts = dir.join("login-c.out");
        let (process, stdin) =
            phone.login_to(&qr, Stdio::from(std::fs::File::create(&prompts).unwrap()));
        c.wait_status("scanned");
        // b knows nothing of c's flow: its redeem is refused and its page stays "new".
        let refused = b.run("return fetch('/sqrl/redeem', {method: 'POST'}).then(r => r.status);");
        assert_eq!(finish(process, stdin, "1\n"), Some(0));
        let asked = std::fs::read_to_string(&prompts).unwrap();
        assert!(
            asked.contains(&format!("The login page shows {compare} and")),
            "the question quotes the page's code {compare}: {asked}"
        );
        c.wait("c's account page", Duration::from_secs(10), |c| {
            c.url().ends_with("/account")
        });
        let refused_after =
            b.run("return fetch('/sqrl/redeem', {method: 'POST'}).then(r => r.status);");
        assert_ne!(refused.as_u64(), Some(200));
        assert_ne!(refused_after.as_u64(), Some(200));
        assert_eq!(b.status(), "new");
        c
    };

    // 3. Sessions: a sees a and c; revoking c logs c out.
    a.goto(&format!("{}/account", site.base));
    let rows = a.run("return document.querySelectorAll('#sessions tr[data-session]').length;");
    assert_eq!(rows.as_u64(), Some(2));
    a.run("for (const row of document.querySelectorAll('#sessions tr[data-session]')) { if (!row.textContent.includes('this browser')) { row.querySelector('button').click(); break; } } return null;");
    a.wait(
        "the account page after revoking",
        Duration::from_secs(10),
        |b| {
            b.run("return document.querySelectorAll('#sessions tr[data-session]').length;")
                .as_u64()
                == Some(1)
        },
    );
    c.goto(&format!("{}/account", site.base));
    c.wait(
        "the revoked browser is sent to the login page",
        Duration::from_secs(10),
        |c| !c.url().ends_with("/account"),
    );

    // 4. Logout.
    a.click("#logout");
    a.wait(
        "the login page after logout",
        Duration::from_secs(10),
        |b| !b.url().ends_with("/account"),
    );
    a.goto(&format!("{}/account", site.base));
    a.wait("logged out for good", Duration::from_secs(10), |b| {
        !b.url().ends_with("/account")
    });

    // 5. Declined on the phone.
    let url = b.login_page(&site.base);
    let (process, stdin) = phone.login(&url);
    b.wait_status("scanned");
    assert_eq!(
        finish(process, stdin, "2\n"),
        Some(6),
        "the site's second button is its Cancel: the client exits 6"
    );
    b.wait_status("rejected");
    assert_eq!(b.text(".sqrl-status"), "Login declined in your SQRL app.");
    b.assert_ended("declined");

    // 5b. Declined at the `sqrl` command's own prompt: a new user, whom the site asks nothing,
    // answers no. Before, nothing was sent and the page said "scanned" until the code expired.
    std::fs::create_dir_all(dir.join("newcomer")).unwrap();
    let newcomer = Phone::create(&dir.join("newcomer"));
    let url = b.login_page(&site.base);
    let (process, stdin) = newcomer.login(&url);
    b.wait_status("scanned");
    assert_eq!(
        finish(process, stdin, "n\n"),
        Some(6),
        "no at the client's prompt: the client exits 6"
    );
    b.wait_status("rejected");
    assert_eq!(b.text(".sqrl-status"), "Login declined in your SQRL app.");
    b.assert_ended("declined at the client's prompt");

    // 6. Expiry: the page offers a new code and does not make one by itself.
    let short = start_site(&dir, "short", &["--nut-lifetime", "10"]);
    b.login_page(&short.base);
    b.wait("the code to expire", Duration::from_secs(20), |b| {
        b.status() == "expired"
    });
    assert!(
        b.text(".sqrl-status").contains("This code has expired"),
        "{}",
        b.text(".sqrl-status")
    );
    b.assert_ended("expired");
    let src = b.run("return document.querySelector('.sqrl-qr').src;");
    // Watching the page for a while is the point: nothing may happen in it.
    #[allow(clippy::disallowed_methods)]
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        b.run("return document.querySelector('.sqrl-qr').src;"),
        src,
        "no silent new code"
    );
    assert_eq!(
        b.run("return document.querySelector('.sqrl-new-code').hidden;")
            .as_bool(),
        Some(false)
    );
    b.click(".sqrl-new-code");
    b.wait_status("new");
    assert_ne!(b.run("return document.querySelector('.sqrl-qr').src;"), src);

    // 7. Same device, first with a stand-in for the app on 127.0.0.1:25519 that answers the
    // page's image probe and then the handover with 204 No Content (the browser stays on the
    // page, which WebDriver cannot read while a real app keeps that navigation pending): the
    // page says it waits for the app on this device and hides the code.
    let stand_in = TcpListener::bind("127.0.0.1:25519").unwrap();
    let handover = std::thread::spawn(move || loop {
        let (mut stream, _) = stand_in.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if path.ends_with(".gif") {
            let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                gif.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(gif);
        } else {
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            return path;
        }
    });
    let d = driver.session(&dir.join("profile-d"));
    d.login_page(&site.base);
    let link = d.run("return document.querySelector('.sqrl-link').href;");
    d.click(".sqrl-link");
    d.wait_status("local");
    assert_eq!(
        d.text(".sqrl-status"),
        "Waiting for your SQRL app on this device…"
    );
    assert!(
        !d.shown(".sqrl-qr"),
        "no QR code while the app on this device decides"
    );
    let path = handover.join().unwrap();
    let handed = sqrl_proto::b64::decode_lenient(path.trim_start_matches('/')).unwrap();
    assert_eq!(
        Some(String::from_utf8(handed).unwrap().as_str()),
        link.as_str(),
        "the app on this device gets the page's link"
    );

    // Then the real thing: `sqrl cps` answering on 127.0.0.1:25519.
    let cps_log = dir.join("cps.log");
    let cps = Process(
        phone
            .command(&["cps", "--once", "--yes"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&cps_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let probe = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    assert!(
        wait_until(Duration::from_secs(10), || {
            probe.get("http://127.0.0.1:25519/probe.gif").call().is_ok()
        }),
        "sqrl cps did not start: {}",
        std::fs::read_to_string(&cps_log).unwrap_or_default()
    );
    d.login_page(&site.base);
    d.click(".sqrl-link");
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        d.wait(
            "the account page through the same-device link",
            Duration::from_secs(20),
            |d| d.url().ends_with("/account") && d.text("#idk") == idk,
        );
    }));
    if let Err(panic) = waited {
        eprintln!(
            "same-device login failed; sqrl cps said: {}",
            std::fs::read_to_string(&cps_log).unwrap_or_default()
        );
        std::panic::resume_unwind(panic);
    }
    drop(cps);

    // 8. Disabled on the phone with the page's code: the page says so instead of waiting.
    let url = b.login_page(&site.base);
    let out = phone.command(&["disable", "--yes", &url]).output().unwrap();
    assert!(
        out.status.success(),
        "sqrl disable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait_status("disabled");
    assert_eq!(
        b.text(".sqrl-status"),
        "SQRL login was disabled for this account in your SQRL app."
    );
    b.assert_ended("disabled");

    // 9. A login refused because SQRL login is disabled for the account: the code stays
    // usable (the app may re-enable and log in) and the page says how, instead of "Confirm in
    // your SQRL app". Before, it said "scanned" with no hint until the code expired.
    let url = b.login_page(&site.base);
    let out = phone.command(&["login", "--yes", &url]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "sqrl login is refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait("the disabled hint", Duration::from_secs(20), |b| {
        b.detail() == "disabled"
    });
    assert_eq!(b.status(), "scanned", "still open");
    assert_eq!(
        b.text(".sqrl-status"),
        "SQRL login is disabled for this account. Re-enable it in your SQRL app with your rescue code."
    );
    assert!(b.shown(".sqrl-qr"), "the code is still shown");
    assert!(
        !b.shown(".sqrl-new-code"),
        "no new code offered: the login is open"
    );
    // `sqrl enable` (with the rescue code) on a new code: once re-enabled, that page is plain
    // "scanned" again; then a login on the next code reaches the account page. (The `sqrl`
    // command enables and logs in as two exchanges, each on its own code.)
    let url = b.login_page(&site.base);
    let out = phone.command(&["enable", "--yes", &url]).output().unwrap();
    assert!(
        out.status.success(),
        "sqrl enable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait("plain scanned after enable", Duration::from_secs(20), |b| {
        b.status() == "scanned" && b.detail().is_empty()
    });
    assert_eq!(
        b.text(".sqrl-status"),
        "Code scanned. Confirm in your SQRL app."
    );
    let url = b.login_page(&site.base);
    let (process, stdin) = phone.login(&url);
    b.wait_status("scanned");
    assert_eq!(
        finish(process, stdin, "1\n"),
        Some(0),
        "sqrl login succeeds"
    );
    b.wait(
        "the account page after enable",
        Duration::from_secs(10),
        |b| b.url().ends_with("/account") && b.text("#idk") == idk,
    );

    drop((a, b, c, d, short, site, driver));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tiny app embedding `sqrl-axum`, served on loopback in this process: its login page is
/// the documented snippet under the documented CSP, with no script of its own. Its first
/// `failing_redeems` redemptions are answered 503 "try again", as during a database blip.
fn start_embedding_app(failing_redeems: usize) -> String {
    use axum::http::{header, HeaderMap};
    use axum::response::{Html, IntoResponse};
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    let failing = Arc::new(AtomicUsize::new(failing_redeems));

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let mut config = Config::new(&address.to_string());
            config.origin = format!("http://{address}");
            let server = Endpoint::new(config, &[7; 32], &[8; 32]);
            let settings = HttpSettings {
                secure_cookies: false,
                ..HttpSettings::default()
            };
            let sqrl = SqrlHttp::builder(SqrlServer::in_memory(server))
                .settings(settings)
                .build();
            let page = format!(
                "<!doctype html><title>Embedded</title><div data-sqrl-login></div>\
                 <script src=\"{}\" defer></script>",
                sqrl.widget_src()
            );
            let accounts = sqrl.clone();
            let app = axum::Router::new()
                .route(
                    "/",
                    get(move || async move {
                        (
                            [(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)],
                            Html(page),
                        )
                    }),
                )
                .route(
                    "/account",
                    get(move |headers: HeaderMap| async move {
                        match accounts.signed_in(&headers).await {
                            Ok(Some(signed_in)) => format!("signed in as {}", signed_in.account),
                            _ => "not signed in".to_owned(),
                        }
                    }),
                )
                .merge(sqrl.router())
                .layer(axum::middleware::from_fn(
                    move |request: axum::extract::Request, next: axum::middleware::Next| {
                        let blip = request.uri().path() == "/sqrl/redeem"
                            && failing
                                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                                .is_ok();
                        async move {
                            if blip {
                                let body = json!({ "error": "try again" }).to_string();
                                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, body)
                                    .into_response();
                            }
                            next.run(request).await
                        }
                    },
                ));
            tx.send(format!("http://{address}")).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the embedding app did not start")
}

#[test]
#[cfg_attr(
    not(sqrl_browser),
    ignore = "skipped: no chromium and chromedriver here (Debian's chromium, chromium-driver)"
)]
fn the_widget_logs_in_on_a_minimal_page_of_another_app() {
    let driver = start_driver();
    let dir = std::env::temp_dir().join(format!("sqrl-e2e-embed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = start_embedding_app(0);
    let phone = Phone::create(&dir);
    let browser = driver.session(&dir.join("profile"));

    // No stylesheet: the QR code's SVG carries its own size, and is read from a screenshot.
    let url = browser.login_page(&base);
    assert!(
        url.starts_with(&format!(
            "sqrl://{}/sqrl?nut=",
            base.trim_start_matches("http://")
        )),
        "{url}"
    );
    let width = browser.run("return document.querySelector('.sqrl-qr').naturalWidth;");
    assert!(width.as_u64().unwrap_or(0) >= 180, "QR image width {width}");
    assert!(browser
        .text(".sqrl-status")
        .contains("Scan the code with your SQRL app"));

    let (process, stdin) = phone.login(&url);
    browser.wait_status("scanned");
    assert_eq!(
        finish(process, stdin, "y\n"),
        Some(0),
        "sqrl login succeeds"
    );
    browser.wait("the app's account page", Duration::from_secs(10), |b| {
        b.url().ends_with("/account") && b.text("body").starts_with("signed in as ")
    });
    drop((browser, driver));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fault: the widget did not retry a redemption answered 503 ("try again"), so a database
/// blip turned a login the phone had confirmed into a lost one. Two redemptions are answered
/// 503; the widget retries with backoff and the browser is logged in.
#[test]
#[cfg_attr(
    not(sqrl_browser),
    ignore = "skipped: no chromium and chromedriver here (Debian's chromium, chromium-driver)"
)]
fn a_redeem_answered_503_is_retried_and_the_login_is_kept() {
    let driver = start_driver();
    let dir = std::env::temp_dir().join(format!("sqrl-e2e-retry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = start_embedding_app(2);
    let phone = Phone::create(&dir);
    let browser = driver.session(&dir.join("profile"));
    let url = browser.login_page(&base);
    let (process, stdin) = phone.login(&url);
    browser.wait_status("scanned");
    assert_eq!(finish(process, stdin, "y\n"), Some(0));
    browser.wait("the app's account page", Duration::from_secs(15), |b| {
        b.url().ends_with("/account") && b.text("body").starts_with("signed in as ")
    });
    drop((browser, driver));
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTPS in Chromium goes over HTTP/2 (ALPN `h2`): the page, its code and its status stream
/// share one connection, and a whole login works on it.
#[test]
#[cfg_attr(
    not(sqrl_browser),
    ignore = "skipped: no chromium and chromedriver here (Debian's chromium, chromium-driver)"
)]
fn the_site_over_https_speaks_http2_in_chromium() {
    let driver = start_driver();
    let dir = std::env::temp_dir().join(format!("sqrl-e2e-h2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tls = dir.join("tls");
    let site = start_site(&dir, "h2", &["--tls-self-signed", tls.to_str().unwrap()]);
    assert!(site.base.starts_with("https://"), "{}", site.base);
    let phone = Phone::create(&dir);
    let browser = driver.session_with(&dir.join("profile"), true);
    let url = browser.login_page(&site.base);
    let page = browser.run("return performance.getEntriesByType('navigation')[0].nextHopProtocol;");
    assert_eq!(page, json!("h2"));
    let code = browser.run(
        "return performance.getEntriesByType('resource')\
           .filter(e => e.name.includes('/sqrl/new')).map(e => e.nextHopProtocol);",
    );
    assert_eq!(code, json!(["h2"]));

    // Over HTTPS, trusting the site's CA (not `--danger-loopback-http`, which would send the
    // phone's requests as plain HTTP to this TLS port).
    let mut child = Command::new(binary("sqrl"))
        .args(["login", &url])
        .env("SQRL_IDENTITY", &phone.identity)
        .env("SQRL_PASSWORD", PASSWORD)
        .env("SQRL_CA_CERT", tls.join("ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    browser.wait_status("scanned");
    assert_eq!(
        finish(Process(child), stdin, "y\n"),
        Some(0),
        "sqrl login succeeds"
    );
    browser.wait("the account page", Duration::from_secs(10), |b| {
        b.url().ends_with("/account")
    });
    drop((browser, driver, site));
    let _ = std::fs::remove_dir_all(&dir);
}

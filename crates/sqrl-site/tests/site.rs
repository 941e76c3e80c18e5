//! The `sqrl-site` binary end to end over loopback HTTP: it starts on a free port with a fresh
//! SQLite file and prints its URL; a browser (ureq with a cookie jar) loads the login page and
//! gets a code; the real client logs in; the browser redeems, sees its account, sets a display
//! name, survives a restart of the site, revokes another session, and logs out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::transport::{self, HttpTransport};
use sqrl_proto::{Button, SqrlUrl};
use sqrl_testkit::SiteProcess;

/// The site on a free port with `database`.
fn start(database: &Path) -> SiteProcess {
    let dir = database.parent().unwrap();
    SiteProcess::start(dir, &["--database", database.to_str().unwrap()])
}

struct Browser {
    agent: ureq::Agent,
    base: String,
    cookies: Vec<(String, String)>,
    /// The last response's headers, names in lower case.
    headers: Vec<(String, String)>,
}

impl Browser {
    fn new(site: &SiteProcess) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            base: site.base.clone(),
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, String, Option<String>) {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("Cookie", &cookie)
            .set(
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
            );
        let result = match form {
            Some(fields) => request.send_form(fields),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        for set in response.all("set-cookie") {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        self.headers = response
            .headers_names()
            .into_iter()
            .flat_map(|name| {
                response
                    .all(&name)
                    .into_iter()
                    .map(|v| (name.to_ascii_lowercase(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let location = response.header("location").map(str::to_owned);
        (response.status(), response.into_string().unwrap(), location)
    }
}

/// The SQRL URL of a new login code for `browser`.
fn new_code(browser: &mut Browser) -> String {
    let (status, body, _) = browser.send("POST", "/sqrl/new", None);
    assert_eq!(status, 200, "{body}");
    body.split("\"url\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

fn log_in(site: &SiteProcess, keys: &Keys) -> Browser {
    let mut browser = Browser::new(site);
    let (status, page, _) = browser.send("GET", "/", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("data-sqrl-login") && page.contains("src=\"/sqrl/widget.js?v="),
        "the login page is the widget: {page}"
    );
    let url = new_code(&mut browser);
    let transport = HttpTransport::default().danger_allow_loopback_http();
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(&url).unwrap(),
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let mut asked = false;
    let outcome = transport::run(exchange, first, &transport, |prompt| {
        // The site names this browser on every approval (its default policy): a question
        // with buttons to known users, the same words without buttons to new ones.
        let ask = prompt
            .ask
            .as_ref()
            .expect("every approval names the browser");
        assert!(ask.message.contains("Firefox on Linux"), "{}", ask.message);
        if ask.buttons.is_empty() {
            Decision::Approve
        } else {
            asked = true;
            Decision::Button(Button::First)
        }
    })
    .unwrap();
    assert_eq!(
        asked, !outcome.new_association,
        "buttons exactly when the account was known"
    );
    let (status, body, _) = browser.send("POST", "/sqrl/redeem", None);
    assert_eq!(status, 200, "{body}");
    browser
}

fn temp_database() -> PathBuf {
    temp_database_named("visit")
}

fn temp_database_named(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-site-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("site.sqlite")
}

#[test]
fn a_visit_from_login_to_logout() {
    let database = temp_database();
    let site = start(&database);
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let idk = iuk.imk().site_key("127.0.0.1", "").public_key().encode();

    let mut first = log_in(&site, &keys);
    let (status, account, _) = first.send("GET", "/account", None);
    assert_eq!(status, 200);
    assert!(account.contains(&idk), "the account shows its identity key");
    assert!(account.contains("(this browser)"));
    // The login page sends a signed-in browser to its account.
    assert_eq!(first.send("GET", "/", None).2.as_deref(), Some("/account"));

    // A display name, escaped on output.
    let (status, _, location) =
        first.send("POST", "/account/name", Some(&[("name", "Ada <Lovelace>")]));
    assert_eq!((status, location.as_deref()), (303, Some("/account")));
    let (_, account, _) = first.send("GET", "/account", None);
    assert!(
        account.contains("Hello, Ada &#60;Lovelace&#62;"),
        "{account}"
    );

    // A restart keeps accounts, names and sessions.
    drop(site);
    let site = start(&database);
    first.base = site.base.clone();
    let (status, account, _) = first.send("GET", "/account", None);
    assert_eq!(status, 200);
    assert!(account.contains("Ada &#60;Lovelace&#62;"));

    // A second browser logs in; the first revokes it.
    let mut second = log_in(&site, &keys);
    let (_, account, _) = first.send("GET", "/account", None);
    let handles: Vec<String> = account
        .split("data-session=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(handles.len(), 2);
    let (_, second_view, _) = second.send("GET", "/account", None);
    let second_handle = handles
        .iter()
        .find(|h| {
            second_view.contains(&format!(
                "data-session=\"{h}\"><td>Firefox on Linux <strong>"
            ))
        })
        .unwrap()
        .clone();
    first.send(
        "POST",
        "/account/revoke",
        Some(&[("session", &second_handle)]),
    );
    assert_eq!(
        second.send("GET", "/account", None).2.as_deref(),
        Some("/"),
        "revoked browser is logged out"
    );

    // Forms from another origin are refused.
    let forged = first
        .agent
        .post(&format!("{}/account/name", site.base))
        .set("Origin", "https://evil.example")
        .set(
            "Cookie",
            &first
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .send_form(&[("name", "pwned")]);
    assert!(matches!(forged, Err(ureq::Error::Status(403, _))));
    let cookie = first
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    // A fresh connection for each: a refused post leaves its body unread, the server then
    // closes the connection, and a pooled agent might send the next post on it.
    let post = |path: &str, header: (&str, &str)| match ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&format!("{}{path}", site.base))
        .set(header.0, header.1)
        .set("Cookie", &cookie)
        .send_form(&[("name", "pwned")])
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("{e}"),
    };
    // The fault: a form with no Origin and only a foreign Referer was accepted, and a logout
    // from a foreign Origin ended the session. One same-origin rule now refuses both.
    assert_eq!(
        post("/account/name", ("Referer", "https://evil.example/page")),
        403
    );
    assert_eq!(post("/account/name", ("Sec-Fetch-Site", "cross-site")), 403);
    assert_eq!(
        post("/sqrl/logout", ("Origin", "https://evil.example")),
        403
    );
    assert_eq!(
        post("/sqrl/logout", ("Referer", "https://evil.example/")),
        403
    );
    let (status, account, _) = first.send("GET", "/account", None);
    assert_eq!(status, 200, "a foreign logout left the session");
    assert!(!account.contains("pwned"), "{account}");
    let ours = site.base.clone();
    assert_eq!(
        post("/account/name", ("Referer", &format!("{ours}/account"))),
        303,
        "our own Referer is enough"
    );

    // Logout ends the session.
    first.send("POST", "/sqrl/logout", None);
    assert_eq!(first.send("GET", "/account", None).2.as_deref(), Some("/"));
    drop(site);
    std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
}

impl Browser {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first inline script, inline style or event-handler attribute in `page`, if any.
fn inline_code(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..lower[at..].find('>').map_or(lower.len(), |end| at + end)];
        if !tag.contains(" src=") {
            return Some(format!("inline script: {tag}"));
        }
    }
    if lower.contains("<style") {
        return Some("a <style> element".into());
    }
    // Attributes: ` style=`, ` onclick=` and the like, inside tags (quoted values skipped).
    for tag in lower.split('<').skip(1) {
        let mut names = Vec::new();
        let (mut quote, mut name, mut in_name) = (None, String::new(), false);
        for c in tag.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => break,
                (None, c) if c.is_whitespace() => {
                    in_name = true;
                    if !name.is_empty() {
                        names.push(std::mem::take(&mut name));
                    }
                }
                (None, '=') => {
                    if !name.is_empty() {
                        names.push(std::mem::take(&mut name));
                    }
                    in_name = false;
                }
                (None, c) if in_name => name.push(c),
                (None, _) => {}
            }
        }
        names.push(name);
        if let Some(bad) = names
            .iter()
            .find(|n| *n == "style" || (n.starts_with("on") && n.len() > 2))
        {
            return Some(format!("attribute {bad} in <{tag}"));
        }
    }
    None
}

#[test]
fn the_inline_code_check_finds_what_it_must() {
    assert!(inline_code("<script>alert(1)</script>").is_some());
    assert!(inline_code("<p style=\"color:red\">").is_some());
    assert!(inline_code("<img src=x onerror=\"alert(1)\">").is_some());
    assert!(inline_code("<style>p{}</style>").is_some());
    assert!(inline_code("<a href=x onclick='y'>").is_some());
    assert!(inline_code(
        "<script src=\"/a.js\" defer></script><p class=x>on=</p><input value=\"a onclick=b\">"
    )
    .is_none());
}

#[test]
fn every_page_has_a_strict_csp_security_headers_and_no_inline_code() {
    let database = temp_database_named("headers");
    let site = start(&database);
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let mut browser = log_in(&site, &keys);
    browser.send(
        "POST",
        "/account/name",
        Some(&[("name", "<i onmouseover=x>")]),
    );
    let mut anonymous = Browser::new(&site);
    let login = anonymous.send("GET", "/", None);
    let login_headers = anonymous.headers.clone();
    let account = browser.send("GET", "/account", None);
    let pages = [login, account];
    let headers = [login_headers, browser.headers.clone()];
    for ((status, page, _), headers) in pages.iter().zip(&headers) {
        assert_eq!(*status, 200, "{page}");
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} header on {page}"))
        };
        let csp = get("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "style-src 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "img-src 'self' data: http://localhost:25519;",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(get("referrer-policy"), "same-origin");
        assert_eq!(get("x-frame-options"), "DENY");
        assert_eq!(get("cross-origin-opener-policy"), "same-origin");
        assert_eq!(get("cache-control"), "no-store");
        assert_eq!(inline_code(page), None, "{page}");
    }
    // The display name went through the template's escaping.
    assert!(
        pages[1].1.contains("&#60;i onmouseover=x&#62;"),
        "{}",
        pages[1].1
    );

    // The stylesheet and the widget script are served with their types, cached for a year
    // under their versioned URLs and revalidated otherwise.
    let page = &pages[0].1;
    for (route, content_type) in [
        ("/assets/site.css?v=", "text/css; charset=utf-8"),
        ("/sqrl/widget.js?v=", "text/javascript; charset=utf-8"),
    ] {
        let url = page
            .split('"')
            .find(|part| part.starts_with(route))
            .unwrap_or_else(|| panic!("{route} not linked from {page}"));
        let (status, body, _) = anonymous.send("GET", url, None);
        assert_eq!(status, 200, "{url}");
        assert!(!body.is_empty());
        assert_eq!(anonymous.header("content-type"), Some(content_type));
        assert_eq!(anonymous.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            anonymous.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{url}"
        );
        let (status, _, _) = anonymous.send("GET", route.trim_end_matches("?v="), None);
        assert_eq!(status, 200);
        assert_eq!(anonymous.header("cache-control"), Some("no-cache"));
    }
    drop(site);
    std::fs::remove_dir_all(database.parent().unwrap()).unwrap();
}

#[test]
fn refuses_plain_http_for_a_public_origin() {
    let output = Command::new(env!("CARGO_BIN_EXE_sqrl-site"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--origin",
            "http://example.com",
            "--database",
            "/nonexistent/x.sqlite",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("refusing plain HTTP"));
}

/// Before, the site logged at info whatever RUST_LOG said.
#[test]
fn rust_log_chooses_what_the_site_logs() {
    // Its own directory: `temp_database` empties the one the other tests use.
    let dir = sqrl_testkit::temp_dir("site-rust-log");
    let site = SiteProcess::start_with_env(&dir, &[], &[("RUST_LOG", "sqrl_server=debug")]);
    // A request the server refuses is logged at debug with its stable code.
    let _ = ureq::post(&format!("{}/sqrl?nut=x", site.base)).send_string("client=garbage");
    let log = site.wait_for_log("malformed-body", Duration::from_secs(5));
    assert!(
        log.contains("sqrl request refused") && log.contains("malformed-body"),
        "{log}"
    );
    drop(site);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The site keeps login flows in memory beside its SQLite file: a restart forgets them, so a
/// code shown before it must not open a new flow after it (a nut is single use), and its
/// page is told at once that the code expired.
#[test]
fn codes_from_before_a_restart_are_refused_and_their_pages_expire() {
    let database = temp_database_named("restart-codes");
    let site = start(&database);
    let mut browser = Browser::new(&site);
    let url = new_code(&mut browser);
    let (_, waiting, _) = browser.send("GET", "/sqrl/poll", None);
    assert!(waiting.contains("\"status\":\"new\""), "{waiting}");

    drop(site);
    let site = start(&database);
    // The new process listens on another port: the code is the same but for its host.
    let url = url.replace(
        browser.base.trim_start_matches("http://"),
        site.base.trim_start_matches("http://"),
    );
    browser.base = site.base.clone();
    let (_, expired, _) = browser.send("GET", "/sqrl/poll", None);
    assert!(expired.contains("\"status\":\"expired\""), "{expired}");

    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let transport = HttpTransport::default().danger_allow_loopback_http();
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(&url).unwrap(),
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let refused = transport::run(exchange, first, &transport, |_| {
        Decision::Button(Button::First)
    });
    let refused = refused.expect_err("a code from before the restart logged in");
    // Refused as an expired code (transient), not for a mismatched echo.
    assert!(
        matches!(
            refused,
            sqrl_client::Error::Exchange(sqrl_client::ExchangeError::TransientRepeated)
        ),
        "{refused:?}"
    );
    // A code of the new process works.
    log_in(&site, &keys);
}

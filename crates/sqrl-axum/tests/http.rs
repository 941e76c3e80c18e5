//! What only the HTTP layer does, driven in process with `oneshot` on a virtual clock: the
//! login code JSON and flow cookie, QR images, live status (SSE and long-poll), redemption
//! into a session cookie, CPS links, logout, per-prefix limits, the stream cap, and answers
//! to hostile requests (never a 500).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::BodyDataStream;
use futures_util::StreamExt;
use rand_core::OsRng;
use sqrl_axum::HttpSettings;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision};
use sqrl_client::keys::{Imk, Iuk};
use sqrl_proto::{b64, signing_input, Command, RequestBody, ServerParams};
use sqrl_server::Rule;
use sqrl_testkit::harness::*;

fn site() -> OverHttp {
    OverHttp::site()
}

fn with_settings(change: impl FnOnce(&mut HttpSettings)) -> OverHttp {
    let mut setup = Setup::default();
    change(&mut setup.settings);
    OverHttp::new(setup)
}

/// A login with the real client on `page`, from the browser's network.
fn phone_logs_in(t: &OverHttp, page: &Page) {
    drive(
        t,
        &page.url,
        &keys(&Iuk::generate(&mut OsRng)),
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Approve,
    )
    .unwrap();
}

fn flow_cookie(page: &Page) -> String {
    OverHttp::flow_cookie(page)
}

#[test]
fn new_login_code_is_json_with_a_flow_cookie() {
    let t = site();
    let reply = t.browse("POST", "/sqrl/new", None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let json = reply.json();
    let url = json["url"].as_str().unwrap();
    assert!(url.starts_with("sqrl://example.com/sqrl?nut="), "{url}");
    let nut = url.split_once("nut=").unwrap().1;
    assert_eq!(
        json["link"].as_str().unwrap(),
        format!("{url}&can={}", b64::encode("https://example.com/"))
    );
    assert_eq!(json["svg"], format!("/sqrl/qr.svg?nut={nut}"));
    assert_eq!(json["png"], format!("/sqrl/qr.png?nut={nut}"));
    assert_eq!(json["expires_in"], 300);
    assert_eq!(json["retry_ms"], 2000);
    assert_eq!(json["redeem_window_s"], 120);

    // The cookie: flow id, issue time on the site's clock, and the browser secret.
    let set = reply.set_cookie("sqrl_flow").unwrap();
    assert!(
        set.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=420"),
        "{set}"
    );
    let page = Page::from_cookie(url, &reply.cookie_value("sqrl_flow").unwrap());
    assert_eq!(page.issued_at, T0);
    assert_eq!(t.status(&page), Ok(sqrl_server::Status::New));
    assert!(!t.flow_stored(&page.flow), "a code stores nothing");
    // The compare code the phone's question quotes (spec/server.md §3).
    assert_eq!(json["compare"], u64::from(page.flow.compare_code()));
}

/// Before, the JSON and SSE replies carried none of the pages' protective headers.
#[test]
fn every_route_says_nosniff_and_no_store() {
    let t = site();
    let reply = t.browse("POST", "/sqrl/new", None);
    let cookie = format!("sqrl_flow={}", reply.cookie_value("sqrl_flow").unwrap());
    for (method, path, cookie) in [
        ("POST", "/sqrl/new", None),
        ("GET", "/sqrl/poll?last=none", Some(cookie.as_str())),
        ("POST", "/sqrl/redeem", Some(cookie.as_str())),
        ("POST", "/sqrl?nut=x", None),
        ("GET", "/sqrl/cps?token=x", None),
    ] {
        let reply = t.browse(method, path, cookie);
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{method} {path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("same-origin"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    }
    // Routes that choose their own caching keep it.
    let json = t.browse("POST", "/sqrl/new", None).json();
    let svg = t.browse("GET", json["svg"].as_str().unwrap(), None);
    assert_eq!(svg.header("cache-control"), Some("private, max-age=300"));
    assert_eq!(svg.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn secure_settings_give_secure_cookies_and_the_host_prefix() {
    let t = with_settings(|s| s.secure_cookies = true);
    let reply = t.browse("POST", "/sqrl/new", None);
    let set = reply.set_cookie("sqrl_flow").unwrap();
    assert!(set.ends_with("; Secure"), "{set}");
    let url = reply.json()["url"].as_str().unwrap().to_owned();
    let page = Page::from_cookie(&url, &reply.cookie_value("sqrl_flow").unwrap());
    phone_logs_in(&t, &page);
    let reply = t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let session = reply.set_cookie("__Host-sqrl_session").unwrap();
    assert!(
        session.contains("; Path=/;")
            && session.contains("HttpOnly")
            && session.ends_with("; Secure"),
        "{session}"
    );
    assert!(reply.set_cookie("sqrl_session").is_none());
}

#[test]
fn qr_images_only_for_our_nuts() {
    let t = site();
    let json = t.browse("POST", "/sqrl/new", None).json();
    let url = json["url"].as_str().unwrap();
    let svg = t.browse("GET", json["svg"].as_str().unwrap(), None);
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"));
    let png = t.browse("GET", json["png"].as_str().unwrap(), None);
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type"), Some("image/png"));
    // The PNG scans back to the login URL.
    let image = image::load_from_memory(&png.body).unwrap().to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, url);

    // Not a QR service: garbage, and the nut of a reply (ours, but not a code), get 404.
    let mut phone = Phone {
        site: Imk::from_bytes([7; 32]).site_key(HOST, ""),
        query: query_of(url).to_owned(),
        server_text: b64::encode(url),
        ip: browser_ip(),
    };
    phone.step(&t, Command::Query);
    let reply_nut = ServerParams::decode(&phone.server_text).unwrap().nut;
    for path in [
        "/sqrl/qr.svg?nut=not-ours".to_owned(),
        "/sqrl/qr.png?nut=AAAA".to_owned(),
        format!("/sqrl/qr.svg?nut={reply_nut}"),
        format!("/sqrl/qr.png?nut={reply_nut}"),
    ] {
        assert_eq!(t.browse("GET", &path, None).status, 404, "{path}");
    }
    assert_eq!(t.browse("GET", "/sqrl/qr.svg", None).status, 400);
}

/// Reads the next SSE event (up to the blank line), waiting at most `secs`.
fn next_event(t: &OverHttp, stream: &mut BodyDataStream, secs: u64) -> Option<String> {
    t.block_on(async {
        let mut event = String::new();
        while !event.ends_with("\n\n") {
            let chunk = tokio::time::timeout(Duration::from_secs(secs), stream.next())
                .await
                .expect("an event in time")?
                .unwrap();
            event.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        Some(event)
    })
}

fn event_json(event: &str) -> serde_json::Value {
    let data = event
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("{event}"));
    serde_json::from_str(data).unwrap()
}

fn event_status(event: &str) -> String {
    event_json(event)["status"].as_str().unwrap().to_owned()
}

#[test]
fn server_sent_events_report_each_change_with_retry_and_end_on_a_final_status() {
    let t = site();
    let page = t.start();
    let response = t.block_on(t.send(
        OverHttp::request("GET", "/sqrl/events", Some(&flow_cookie(&page)), Vec::new()),
        browser_ip(),
    ));
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut stream = response.into_body().into_data_stream();
    let first = next_event(&t, &mut stream, 5).unwrap();
    assert!(first.contains("event: status\n"), "{first}");
    assert!(first.contains("retry: 2000\n"), "{first}");
    assert_eq!(event_status(&first), "new");
    assert!(first.contains("\"expires_in\":300"), "{first}");

    // The page wakes on the flow's events (the fallback re-read is 15 s away).
    phone_logs_in(&t, &page);
    assert_eq!(
        event_status(&next_event(&t, &mut stream, 5).unwrap()),
        "scanned"
    );
    assert_eq!(
        event_status(&next_event(&t, &mut stream, 5).unwrap()),
        "confirmed"
    );
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)))
            .status,
        200
    );
    assert_eq!(
        event_status(&next_event(&t, &mut stream, 5).unwrap()),
        "redeemed"
    );
    assert_eq!(next_event(&t, &mut stream, 5), None, "the stream ends");
}

#[test]
fn long_poll_answers_at_once_when_the_status_differs_and_waits_for_a_change() {
    let t = site();
    let page = t.start();
    let cookie = flow_cookie(&page);
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&cookie));
    assert_eq!(reply.status, 200);
    let json = reply.json();
    assert_eq!(json["status"], "new");
    assert_eq!(json["retry_ms"], 2000);
    assert_eq!(json["expires_in"], 300);

    let mut waiting = t.spawn(t.send(
        OverHttp::request("GET", "/sqrl/poll?last=new", Some(&cookie), Vec::new()),
        browser_ip(),
    ));
    let early =
        t.block_on(async { tokio::time::timeout(Duration::from_millis(200), &mut waiting).await });
    assert!(early.is_err(), "the poll waits for a change");
    phone_logs_in(&t, &page);
    let reply = t.block_on(async { read(waiting.await.unwrap()).await });
    let status = reply.json()["status"].as_str().unwrap().to_owned();
    assert!(status == "scanned" || status == "confirmed", "{status}");
    let reply = t.browse("GET", "/sqrl/poll?last=scanned", Some(&cookie));
    assert_eq!(reply.json()["status"], "confirmed");

    // On the virtual clock: 100 s later the page is told how long it has left.
    t.set_now(at(T0 + 100));
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&cookie));
    assert_eq!(reply.json()["expires_in"], 200);
}

/// The fault: a logout posted from a foreign page (login CSRF's twin) ended the session. Every
/// state-changing route now applies one same-origin rule: a foreign `Origin`, a cross-site
/// `Sec-Fetch-Site` or (with neither) a foreign `Referer` is 403 and changes nothing.
#[test]
fn logout_from_a_foreign_origin_keeps_the_session() {
    let t = site();
    let page = t.start();
    phone_logs_in(&t, &page);
    let post = |path: &str, cookie: &str, header: (&'static str, &str)| {
        let mut request = OverHttp::request("POST", path, Some(cookie), Vec::new());
        request
            .headers_mut()
            .insert(header.0, header.1.parse().unwrap());
        t.call(request, browser_ip())
    };
    let foreign = ("origin", "https://evil.example");
    let refused = post("/sqrl/redeem", &flow_cookie(&page), foreign);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.set_cookies().is_empty());
    assert_eq!(post("/sqrl/new", "", foreign).status, 403);
    let reply = post(
        "/sqrl/redeem",
        &flow_cookie(&page),
        ("origin", "https://example.com"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let session = format!(
        "sqrl_session={}",
        reply.cookie_value("sqrl_session").unwrap()
    );
    for header in [
        foreign,
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("referer", "https://evil.example/logout.html"),
    ] {
        let reply = post("/sqrl/logout", &session, header);
        assert_eq!(reply.status, 403, "{header:?}");
        assert!(reply.set_cookies().is_empty(), "{header:?}");
        assert!(t.signed_in(&session).is_some(), "{header:?} ended it");
    }
    let reply = post("/sqrl/logout", &session, ("sec-fetch-site", "same-origin"));
    assert_eq!(reply.status, 303);
    assert!(t.signed_in(&session).is_none());
}

#[test]
fn redeem_gives_a_fresh_session_cookie_then_logout_ends_it() {
    let t = site();
    let page = t.start();
    phone_logs_in(&t, &page);
    let reply = t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["redirect"], "/account");
    let set = reply.set_cookie("sqrl_session").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
        "{set}"
    );
    let cleared = reply.set_cookie("sqrl_flow").unwrap();
    assert!(
        cleared.starts_with("sqrl_flow=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let session = format!(
        "sqrl_session={}",
        reply.cookie_value("sqrl_session").unwrap()
    );

    let signed_in = t.signed_in(&session).expect("the cookie signs in");
    assert_eq!(signed_in.user, Some(user_of(&signed_in.account)));
    assert_eq!(signed_in.session.browser, "Firefox on Linux");
    assert_eq!(signed_in.session.ip, BROWSER_IP);
    let logins = t.logins.lock().unwrap().clone();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].account, signed_in.account);
    assert_eq!(logins[0].browser, "Firefox on Linux");
    assert_eq!(logins[0].ip, browser_ip());
    assert!(!logins[0].via_cps);

    // Redeeming again does nothing; another session id signs nobody in.
    let again = t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)));
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.set_cookies().is_empty());
    assert!(t.signed_in("sqrl_session=AAAA").is_none());

    // Logout: back to the login page, both cookies cleared, the session gone.
    let reply = t.browse("POST", "/sqrl/logout", Some(&session));
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/"));
    for name in ["sqrl_session", "sqrl_flow"] {
        let set = reply.set_cookie(name).unwrap();
        assert!(set.contains("Max-Age=0"), "{set}");
    }
    assert!(t.signed_in(&session).is_none());
    assert_eq!(t.logins.lock().unwrap().len(), 1);
}

#[test]
fn redeem_needs_the_flow_cookie_of_the_browser_that_started() {
    let t = site();
    let page = t.start();
    phone_logs_in(&t, &page);
    // A second browser copies the QR link: its own cookie is not this flow's.
    let second = t.start_for(ip("192.0.2.99"), FIREFOX);
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&second)))
            .status,
        403
    );
    let stolen_id = Page {
        secret: second.secret.clone(),
        ..page.clone()
    };
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&stolen_id)))
            .status,
        403
    );
    assert_eq!(t.browse("POST", "/sqrl/redeem", None).status, 401);
    for garbage in ["sqrl_flow=", "sqrl_flow=x", "sqrl_flow=a.b.c", "other=1"] {
        assert_eq!(
            t.browse("POST", "/sqrl/redeem", Some(garbage)).status,
            401,
            "{garbage}"
        );
    }
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)))
            .status,
        200
    );
}

#[test]
fn forged_flow_cookie_issue_time_gets_401_on_events_and_403_on_redeem() {
    let t = site();
    let page = t.start();
    phone_logs_in(&t, &page);
    let forged = Page {
        issued_at: page.issued_at + 600,
        ..page.clone()
    };
    let events = t.browse("GET", "/sqrl/events", Some(&flow_cookie(&forged)));
    assert_eq!(events.status, 401, "{}", events.text());
    assert_eq!(
        t.browse("GET", "/sqrl/poll?last=", Some(&flow_cookie(&forged)))
            .status,
        401
    );
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&forged)))
            .status,
        403
    );
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)))
            .status,
        200
    );
}

#[test]
fn cps_link_logs_in_once() {
    let t = site();
    let page = t.start();
    let config = ClientConfig {
        cps: true,
        ..ClientConfig::default()
    };
    let outcome = drive(
        &t,
        &page.url,
        &keys(&Iuk::generate(&mut OsRng)),
        Action::Login,
        config,
        browser_ip(),
        |_| Decision::Approve,
    )
    .unwrap();
    let link = outcome.redirect.unwrap();
    let path = link.strip_prefix("https://example.com").unwrap();
    let reply = t.browse("GET", path, None);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/account"));
    let session = format!(
        "sqrl_session={}",
        reply.cookie_value("sqrl_session").unwrap()
    );
    let account = t.signed_in(&session).unwrap().account;
    let reused = t.browse("GET", path, None);
    assert_eq!(reused.status, 403, "reused token");
    assert!(reused.text().contains("already used"));
    assert!(reused.set_cookies().is_empty());
    assert_eq!(t.browse("GET", "/sqrl/cps?token=AAAA", None).status, 403);
    assert_eq!(t.browse("GET", "/sqrl/cps", None).status, 400);
    // The page that showed the code is told the login happened elsewhere and cannot redeem.
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&flow_cookie(&page)));
    assert_eq!(reply.json()["status"], "confirmed-elsewhere");
    assert_eq!(
        t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)))
            .status,
        409
    );
    let logins = t.logins.lock().unwrap().clone();
    assert_eq!(logins.len(), 1);
    assert!(logins[0].via_cps);
    assert_eq!(logins[0].account, account);
}

#[test]
fn login_codes_are_limited_per_network_prefix() {
    let t = with_settings(|s| {
        s.mint_rule = Rule {
            name: "codes",
            burst: 3,
            per_second: 0.001,
        }
    });
    let new_code = |from: &str| {
        t.call(
            OverHttp::request("POST", "/sqrl/new", None, Vec::new()),
            ip(from),
        )
        .status
    };
    // One IPv6 /64 is one client.
    assert_eq!(new_code("2001:db8:1:1::1"), 200);
    assert_eq!(new_code("2001:db8:1:1::2"), 200);
    assert_eq!(new_code("2001:db8:1:1:ffff::3"), 200);
    assert_eq!(new_code("2001:db8:1:1::1"), 429);
    assert_eq!(new_code("2001:db8:1:1::9"), 429);
    // Another /64 and an IPv4 address are other clients.
    assert_eq!(new_code("2001:db8:1:2::1"), 200);
    assert_eq!(new_code(BROWSER_IP), 200);
    // On the site's clock, the bucket refills (one code per 1000 s).
    t.set_now(at(T0 + 1000));
    assert_eq!(new_code("2001:db8:1:1::1"), 200);
    assert_eq!(new_code("2001:db8:1:1::1"), 429);
}

#[test]
fn status_requests_are_limited_per_network_prefix() {
    let t = with_settings(|s| {
        s.poll_rule = Rule {
            name: "polls",
            burst: 3,
            per_second: 0.001,
        }
    });
    let page = t.start();
    let cookie = flow_cookie(&page);
    let poll = |from: &str, path: &str| {
        t.call(
            OverHttp::request("GET", path, Some(&cookie), Vec::new()),
            ip(from),
        )
        .status
    };
    for _ in 0..3 {
        assert_eq!(poll(BROWSER_IP, "/sqrl/poll?last="), 200);
    }
    assert_eq!(poll(BROWSER_IP, "/sqrl/poll?last="), 429);
    assert_eq!(poll(BROWSER_IP, "/sqrl/events"), 429, "streams count too");
    assert_eq!(poll("192.0.2.11", "/sqrl/poll?last="), 200);
    // Even without a cookie the limit comes first.
    assert_eq!(t.browse("GET", "/sqrl/poll?last=", None).status, 429);
}

#[test]
fn status_streams_are_capped() {
    let t = with_settings(|s| s.streams.total = 1);
    let page = t.start();
    let open = || {
        t.block_on(t.send(
            OverHttp::request("GET", "/sqrl/events", Some(&flow_cookie(&page)), Vec::new()),
            browser_ip(),
        ))
    };
    let first = open();
    assert_eq!(first.status(), 200);
    let second = open();
    assert_eq!(second.status(), 503);
    drop(first);
    assert_eq!(open().status(), 200, "a closed stream frees its place");
}

/// The fault: a few clients holding every status stream shut out each new page (503) for as
/// long as they stayed open. At the cap, an honest page now takes the place of the oldest
/// stream of the client holding the most, which ends with its retry interval.
#[test]
fn a_full_stream_table_makes_room_for_an_honest_page() {
    let t = with_settings(|s| {
        s.streams.total = 4;
        s.streams.crowded_per_client = 4;
    });
    let open = |page: &Page, from: &str| {
        t.block_on(t.send(
            OverHttp::request("GET", "/sqrl/events", Some(&flow_cookie(page)), Vec::new()),
            ip(from),
        ))
    };
    let pages: Vec<Page> = (0..4).map(|_| t.start()).collect();
    let mut greedy: Vec<_> = pages[..3]
        .iter()
        .map(|page| open(page, "198.51.100.1"))
        .collect();
    let _other = open(&pages[3], "198.51.100.2");
    assert!(greedy.iter().all(|r| r.status() == 200));

    let honest_page = t.start();
    let honest = open(&honest_page, BROWSER_IP);
    assert_eq!(honest.status(), 200, "the honest page found room");
    let mut oldest = greedy.remove(0).into_body().into_data_stream();
    let first = next_event(&t, &mut oldest, 2).unwrap();
    assert!(first.contains("\"status\":\"new\""), "{first}");
    let last = next_event(&t, &mut oldest, 2).unwrap();
    assert!(last.contains(": make room"), "{last}");
    assert!(last.contains("retry: 2000"), "{last}");
    assert_eq!(next_event(&t, &mut oldest, 2), None, "and the stream ends");
    // Shares 2, 1, 1: a fifth client still takes the greedy one's place; then, with every
    // client at one, a sixth is refused.
    let late = t.start();
    let late_stream = open(&late, "203.0.113.9");
    assert_eq!(late_stream.status(), 200);
    let last = t.start();
    assert_eq!(open(&last, "203.0.113.10").status(), 503);
}

#[test]
fn bad_requests_get_a_tif_or_a_4xx_never_a_500() {
    let t = site();
    let tif = |body: &str| ServerParams::decode(body).unwrap().tif.bits();
    let posted = t.post_raw("nut=x", b"client=YQ&server=YQ&ids=YQ", browser_ip());
    assert_eq!((posted.status, tif(&posted.body)), (200, 0xC0));
    let posted = t.post_raw("nut=x", &[b'a'; 9000], browser_ip());
    assert_eq!(posted.status, 413);
    let posted = t.post_raw("", b"", browser_ip());
    assert_eq!((posted.status, tif(&posted.body)), (200, 0xC0));
    let posted = t.post_raw("nut=x", &[0xff; 300], browser_ip());
    assert_eq!((posted.status, tif(&posted.body)), (200, 0xC0));
    let reply = t.call(
        OverHttp::request("POST", "/sqrl?nut=x", None, b"x".to_vec()),
        browser_ip(),
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(t.browse("GET", "/sqrl", None).status, 405);
    assert_eq!(t.browse("GET", "/sqrl/new", None).status, 405);
    assert_eq!(t.browse("GET", "/sqrl/redeem", None).status, 405);

    // Random bodies, queries and cookies.
    let mut rng = 0x1234_5678_9abc_def0_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..300 {
        let len = (next() % 600) as usize;
        let body: Vec<u8> = (0..len).map(|_| (next() & 0xff) as u8).collect();
        let posted = t.post_raw("nut=abc", &body, browser_ip());
        assert_eq!(posted.status, 200);
        assert!(tif(&posted.body) & 0x40 != 0);
        // Anything a URI query and a cookie value can hold.
        const CHARS: &[u8] = b"ABCXYZabcxyz0189-_.~!$&'()*+,=:@/?";
        let text: String = (0..(next() % 80))
            .map(|_| char::from(CHARS[(next() % CHARS.len() as u64) as usize]))
            .collect();
        let posted = t.post_raw(&format!("nut={text}"), b"", browser_ip());
        assert_eq!(posted.status, 200, "{text}");
        for (method, path) in [
            ("GET", "/sqrl/poll?last="),
            ("POST", "/sqrl/redeem"),
            ("GET", "/sqrl/events"),
        ] {
            let cookie = format!("sqrl_flow={text}");
            let status = t.browse(method, path, Some(&cookie)).status;
            assert!(
                matches!(status, 400 | 401 | 403),
                "{method} {path} {cookie}: {status}"
            );
        }
    }
}

#[test]
fn logout_on_a_failing_store_reports_the_failure() {
    let t = OverHttp::new(Setup {
        store: Some(Arc::new(Faulty::failing_delete())),
        ..Setup::default()
    });
    let page = t.start();
    phone_logs_in(&t, &page);
    let reply = t.browse("POST", "/sqrl/redeem", Some(&flow_cookie(&page)));
    assert_eq!(reply.status, 200);
    let session = format!(
        "sqrl_session={}",
        reply.cookie_value("sqrl_session").unwrap()
    );
    let reply = t.browse("POST", "/sqrl/logout", Some(&session));
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(
        reply.set_cookies().is_empty(),
        "no cookie is cleared as if the session had ended"
    );
    assert!(
        t.signed_in(&session).is_some(),
        "the session is still there"
    );
    // Without a session there is nothing to delete: logout just clears the cookies.
    assert_eq!(t.browse("POST", "/sqrl/logout", None).status, 303);
}

/// Before, a page whose code was scanned by an identity disabled at the site showed a plain
/// "scanned" ("confirm on your phone") to someone who could not log in.
#[test]
fn a_disabled_identity_is_scanned_with_detail_disabled_until_it_enables() {
    let t = site();
    let iuk = Iuk::generate(&mut OsRng);
    let identity = keys(&iuk);
    log_in(&t, &identity);
    act(&t, &identity, Action::Disable).1.unwrap();
    let page = t.start();
    let cookie = flow_cookie(&page);
    let response = t.block_on(t.send(
        OverHttp::request("GET", "/sqrl/events", Some(&cookie), Vec::new()),
        browser_ip(),
    ));
    let mut stream = response.into_body().into_data_stream();
    assert_eq!(
        event_json(&next_event(&t, &mut stream, 5).unwrap()),
        serde_json::json!({"status": "new", "expires_in": 300})
    );

    // The phone's query: the site tells it SQRL login is disabled for its identity.
    let mut m = Phone::scan(&page, &iuk.imk());
    assert_eq!(m.step(&t, Command::Query).0, 0x0D);
    let event = event_json(&next_event(&t, &mut stream, 5).unwrap());
    assert_eq!(event["status"], "scanned", "the status a page knows");
    assert_eq!(event["detail"], "disabled");
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&cookie)).json();
    assert_eq!(
        (&reply["status"], &reply["detail"]),
        (&"scanned".into(), &"disabled".into())
    );
    // A page that names the detail it shows is answered at once when it differs.
    let reply = t
        .browse("GET", "/sqrl/poll?last=scanned&detail=", Some(&cookie))
        .json();
    assert_eq!(reply["detail"], "disabled");
    // An ident is refused for it; nothing new for the page. The refusal's nut carries the
    // exchange on.
    let reply = m.send(&t, &m.body(&m.params(Command::Ident)));
    assert_eq!(ServerParams::decode(&reply).unwrap().tif.bits(), 0x4D);
    m.follow(&reply);
    let mut waiting = t.spawn(t.send(
        OverHttp::request(
            "GET",
            "/sqrl/poll?last=scanned&detail=disabled",
            Some(&cookie),
            Vec::new(),
        ),
        browser_ip(),
    ));
    let early =
        t.block_on(async { tokio::time::timeout(Duration::from_millis(200), &mut waiting).await });
    assert!(early.is_err(), "the poll waits for a change");

    // enable with the rescue code on the same code: the detail goes, the login may go on.
    let site = iuk.imk().site_key(HOST, "");
    let client = m.params(Command::Enable).encode().unwrap();
    let message = signing_input(&client, &m.server_text);
    let suk = t.account(&site.public_key()).unwrap().suk;
    let urs = iuk.unlock_request_signing_key(&suk).sign(&message);
    let body = RequestBody::new(
        client,
        m.server_text.clone(),
        &site.sign(&message),
        None,
        Some(&urs),
    )
    .encode();
    let reply = m.send(&t, &body);
    assert_eq!(ServerParams::decode(&reply).unwrap().tif.bits(), 0x05);
    m.follow(&reply);
    let reply = t
        .block_on(async { read(waiting.await.unwrap()).await })
        .json();
    assert_eq!(reply["status"], "scanned");
    assert_eq!(reply.get("detail"), None, "{reply}");
    let event = event_json(&next_event(&t, &mut stream, 5).unwrap());
    assert_eq!(
        (event["status"].as_str(), event.get("detail")),
        (Some("scanned"), None)
    );
    assert_eq!(m.step(&t, Command::Ident).0, 0x05);
    assert_eq!(
        event_status(&next_event(&t, &mut stream, 5).unwrap()),
        "confirmed"
    );
}

/// Before, only the site purged flows: an app embedding the layer kept every login flow
/// until its memory store was full and refused new logins.
#[test]
fn housekeeping_forgets_an_embedders_finished_flows() {
    let memory = Arc::new(sqrl_server::MemoryStore::new());
    let t = OverHttp::new(Setup {
        store: Some(memory.clone()),
        ..Setup::default()
    });
    let page = t.start();
    phone_logs_in(&t, &page);
    assert_eq!(memory.flow_count(), 1);
    let running = t.spawn(t.http.clone().housekeeping(Duration::from_millis(10)));
    let settle = || t.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    settle();
    assert_eq!(
        memory.flow_count(),
        1,
        "a flow within its retention is kept"
    );
    t.set_now(at(T0 + t.http.sqrl().flow_retention() + 1));
    settle();
    assert_eq!(
        memory.flow_count(),
        0,
        "housekeeping forgot the finished flow"
    );
    running.abort();
}

/// The fault: with one instance's clock more than 60 s ahead, every login whose code it
/// issued failed on the others as "expired", and nothing was logged or measured. Now each
/// page that shows this instance a code measures the skew (logged, rate-limited) and the
/// last measurement is the metric `sqrl_clock_skew_seconds`.
#[test]
fn clock_skew_from_another_instance_is_measured_and_exposed() {
    let t = site();
    let page = t.start();
    let gauge = || {
        t.http
            .metrics_text()
            .lines()
            .find_map(|l| l.strip_prefix("sqrl_clock_skew_seconds "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(gauge(), "0");
    // This instance's clock is 90 s behind the one that issued the code.
    t.set_now(at(T0 - 90));
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&flow_cookie(&page)));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(gauge(), "90");
    // A forged cookie (a wrong secret) measures nothing.
    let mut forged = page.clone();
    forged.issued_at = T0 + 1000;
    let reply = t.browse("GET", "/sqrl/poll?last=", Some(&flow_cookie(&forged)));
    assert_eq!(reply.status, 401);
    assert_eq!(gauge(), "90");
    // In step again.
    t.set_now(at(T0 + 1));
    t.browse("GET", "/sqrl/poll?last=", Some(&flow_cookie(&page)));
    assert_eq!(gauge(), "0");
}

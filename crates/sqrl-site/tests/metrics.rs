//! The metrics listener (`--metrics-bind`) scraped as Prometheus would, after traffic that
//! moves each metric: a login, a code over the limit, a foreign logout, an open status stream.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use sqrl_client::transport::HttpTransport;
use support::{log_in, new_keys, temp_dir, Browser, SiteProcess};

/// The scraped text, with its content type.
fn scrape(site: &SiteProcess) -> (String, String) {
    let url = site.metrics.as_deref().unwrap();
    let response = ureq::get(url).call().unwrap();
    let kind = response.content_type().to_owned();
    (kind, response.into_string().unwrap())
}

/// The value of the sample named exactly `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

#[test]
fn metrics_count_logins_refusals_limit_hits_and_open_streams() {
    let dir = temp_dir("metrics");
    let site = SiteProcess::start(
        &dir,
        &["--metrics-bind", "127.0.0.1:0", "--codes-per-minute", "3"],
    );
    let (kind, text) = scrape(&site);
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(
        sample(&text, "sqrl_status_streams_open"),
        Some(0.0),
        "{text}"
    );

    let mut browser = Browser::new(&site.base, None);
    let transport = HttpTransport::default().danger_allow_loopback_http();
    log_in(&mut browser, &new_keys(), &transport);
    // Two more codes use the burst of 3; the fourth is over the limit.
    browser.new_code();
    browser.new_code();
    assert_eq!(browser.send("POST", "/sqrl/new").status, 429);
    let foreign = browser
        .agent
        .post(&format!("{}/sqrl/logout", site.base))
        .set("Origin", "https://evil.example")
        .call();
    assert!(matches!(foreign, Err(ureq::Error::Status(403, _))));
    let cookie = browser
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let stream = browser
        .agent
        .get(&format!("{}/sqrl/events", site.base))
        .set("Cookie", &cookie)
        .call()
        .unwrap();
    let mut text = String::new();
    sqrl_testkit::wait_until(Duration::from_secs(5), || {
        text = scrape(&site).1;
        sample(&text, "sqrl_status_streams_open") == Some(1.0)
    });

    for (series, value) in [
        ("sqrl_logins_total{via=\"page\"}", 1.0),
        ("sqrl_phone_requests_total{outcome=\"ok\"}", 2.0),
        ("sqrl_refusals_total{code=\"too-many-codes\"}", 1.0),
        ("sqrl_limit_hits_total{limit=\"codes\"}", 1.0),
        ("sqrl_refusals_total{code=\"cross-origin\"}", 1.0),
        ("sqrl_status_streams_open", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series}\n{text}");
    }
    assert_eq!(sample(&text, "sqrl_logins_total{via=\"cps\"}"), None);
    // Store latency: the login's load, commit and redemption were timed.
    for op in ["load", "commit", "redeem"] {
        let count = sample(&text, &format!("sqrl_store_seconds_count{{op=\"{op}\"}}"));
        assert!(count.is_some_and(|n| n >= 1.0), "{op}: {count:?}\n{text}");
    }
    drop(stream);

    // The public listener does not serve them.
    assert_eq!(browser.send("GET", "/metrics").status, 404);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

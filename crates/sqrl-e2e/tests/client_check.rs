//! `sqrl-site --check-clients` grades the requests of the client that logs in to it: our own
//! `sqrl` command goes through a whole life at the site (new account, known login with the
//! site's question, re-key, disable, enable, CPS, remove) without a single failure; a request
//! written by hand with the classic mistakes gets exactly those failures on the report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use sqrl_proto::{b64, signing_input};
use sqrl_testkit::{binary, temp_dir, SiteProcess};
use support::{Browser, PASSWORD};

/// The `sqrl` command on a test identity, answering every question with yes (first button).
struct Phone {
    identity: PathBuf,
    rescue_code: String,
}

fn rescue_code_in(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Rescue code: "))
        .expect("a rescue code is printed")
        .to_owned()
}

impl Phone {
    fn new(dir: &Path) -> Self {
        let mut phone = Self {
            identity: dir.join("phone.sqrl"),
            rescue_code: String::new(),
        };
        let out = phone.run(&["identity", "new", "--enscrypt-iterations", "1"]);
        phone.rescue_code = rescue_code_in(&out);
        phone
    }

    fn output(&self, args: &[&str]) -> Output {
        Command::new(binary("sqrl"))
            .args(args)
            .env("SQRL_IDENTITY", &self.identity)
            .env("SQRL_PASSWORD", PASSWORD)
            .env("SQRL_NEW_PASSWORD", PASSWORD)
            .env("SQRL_RESCUE_CODE", &self.rescue_code)
            .env_remove("SQRL_CA_CERT")
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "sqrl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `sqrl <command> --yes <fresh code> --danger-loopback-http [extra]`.
    fn answer(&self, command: &str, url: &str, extra: &[&str]) -> String {
        let mut args = vec![command, "--yes", "--danger-loopback-http"];
        args.extend_from_slice(extra);
        args.push(url);
        self.run(&args)
    }
}

fn new_code(browser: &mut Browser, base: &str) -> String {
    let reply = browser.call("POST", &format!("{base}/sqrl/new"), &[("Origin", base)]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json: Value = serde_json::from_str(&reply.body).unwrap();
    json["url"].as_str().unwrap().to_owned()
}

fn report(base: &str) -> Value {
    let mut browser = Browser::new();
    let reply = browser.call("GET", &format!("{base}/client-check.json"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

/// Every grade of the report with `verdict`, as `rule: evidence`.
fn grades(report: &Value, verdict: &str) -> Vec<String> {
    let mut found = Vec::new();
    for exchange in report["exchanges"].as_array().unwrap() {
        let requests = exchange["requests"].as_array().unwrap();
        let cps = exchange["cps"]
            .as_object()
            .map(|g| Value::Object(g.clone()));
        for grade in requests
            .iter()
            .flat_map(|r| r["grades"].as_array().unwrap().iter())
            .chain(cps.iter())
        {
            if grade["verdict"] == verdict {
                found.push(format!("{}: {}", grade["rule"], grade["evidence"]));
            }
        }
    }
    found
}

fn passed(report: &Value, rule: &str) -> bool {
    grades(report, "pass")
        .iter()
        .any(|g| g.starts_with(&format!("\"{rule}\"")))
}

#[test]
fn our_client_passes_the_client_check_through_a_whole_life() {
    let dir = temp_dir("e2e-client-check");
    let site = SiteProcess::start(&dir, &["--check-clients"]);
    let base = site.base.clone();
    assert!(site.printed.contains("/client-check"), "{}", site.printed);
    let mut browser = Browser::new();
    let login_page = browser.call("GET", &format!("{base}/"), &[]);
    assert!(
        login_page.body.contains("href=\"/client-check\""),
        "{}",
        login_page.body
    );

    let mut phone = Phone::new(&dir);
    // A new account, then a known login (the site asks; --yes answers with the first button).
    phone.answer("login", &new_code(&mut browser, &base), &[]);
    phone.answer("login", &new_code(&mut browser, &base), &[]);
    // Re-key: the next login presents the previous identity (pidk, pids, urs).
    let out = phone.run(&["identity", "rekey", "--enscrypt-iterations", "1"]);
    phone.rescue_code = rescue_code_in(&out);
    phone.answer("login", &new_code(&mut browser, &base), &[]);
    // Disable, enable (urs), a same-device login (CPS) whose link a browser opens, remove.
    phone.answer("disable", &new_code(&mut browser, &base), &[]);
    phone.answer("enable", &new_code(&mut browser, &base), &[]);
    let printed = phone.answer("login", &new_code(&mut browser, &base), &["--cps"]);
    let link = printed.trim().lines().last().unwrap().to_owned();
    assert!(link.contains("/sqrl/cps?token="), "{printed}");
    let opened = browser.call("GET", &link, &[]);
    assert!((300..400).contains(&opened.status), "{}", opened.status);
    phone.answer("remove", &new_code(&mut browser, &base), &[]);

    let report = report(&base);
    assert_eq!(grades(&report, "fail"), Vec::<String>::new(), "{report:#}");
    // No warning either: our client sends `opt=` on every request (two servers fail without).
    assert_eq!(grades(&report, "warn"), Vec::<String>::new(), "{report:#}");
    // Seven exchanges, each graded from its first request on.
    assert_eq!(
        report["exchanges"].as_array().unwrap().len(),
        7,
        "{report:#}"
    );
    for rule in [
        "client-crlf",
        "base64url-no-padding",
        "signature-ids",
        "server-echo",
        "new-identity-keys",
        "btn",
        "pidk-pids",
        "signature-pids",
        "rekey-fields",
        "urs",
        "cps-url-followed",
    ] {
        assert!(passed(&report, rule), "{rule} never passed: {report:#}");
    }
    // ?idk= keeps one identity's exchanges: the two logins before the re-key.
    let first_idk = report["exchanges"][6]["idk"].as_str().unwrap();
    let mut only = Browser::new();
    let reply = only.call(
        "GET",
        &format!("{base}/client-check.json?idk={first_idk}"),
        &[],
    );
    let filtered: Value = serde_json::from_str(&reply.body).unwrap();
    let kept = filtered["exchanges"].as_array().unwrap();
    assert_eq!(kept.len(), 2, "{filtered:#}");
    assert!(kept.iter().all(|e| e["idk"] == first_idk), "{filtered:#}");
    let page = browser.call("GET", &format!("{base}/client-check"), &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("SQRL client check"), "{}", page.body);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A hand-written first query with LF line endings, `=` padding and `btn` without `ask`.
fn broken_query(url: &str, key: &SigningKey) -> String {
    let idk = b64::encode(key.verifying_key().as_bytes());
    let mut filler = String::new();
    loop {
        let text = format!("ver=1\ncmd=query\nidk={idk}\nbtn=1\nopt=suk{filler}\n");
        let mut client = b64::encode(&text);
        if !client.len().is_multiple_of(4) {
            while !client.len().is_multiple_of(4) {
                client.push('=');
            }
            let server = b64::encode(url);
            let ids = b64::encode(key.sign(&signing_input(&client, &server)).to_bytes());
            return format!("client={client}&server={server}&ids={ids}");
        }
        filler.push_str("~x");
    }
}

#[test]
fn lf_endings_padding_and_btn_without_ask_are_exactly_the_failures_reported() {
    let dir = temp_dir("e2e-client-check-bad");
    let site = SiteProcess::start(&dir, &["--check-clients"]);
    let base = site.base.clone();
    let mut browser = Browser::new();
    let url = new_code(&mut browser, &base);
    let query = url.split_once('?').unwrap().1;
    let body = broken_query(&url, &SigningKey::from_bytes(&[7; 32]));
    let reply = ureq::post(&format!("{base}/sqrl?{query}"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body);
    // Graded, then handled as usual: the site answers (a refusal is a SQRL reply, never a 500).
    let status = match reply {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 200);
    // Garbage is graded too, not crashed on.
    let garbage = ureq::post(&format!("{base}/sqrl?nut=nothing")).send_bytes(b"\xff\xfe&&client");
    assert!(matches!(
        garbage,
        Ok(_) | Err(ureq::Error::Status(200..=499, _))
    ));

    // A body over the endpoint's limit is refused unread (413), and graded as such.
    let oversized = ureq::post(&format!("{base}/sqrl?nut=nothing")).send_bytes(&[b'a'; 9000]);
    assert!(
        matches!(oversized, Err(ureq::Error::Status(413, _))),
        "{oversized:?}"
    );

    let report = report(&base);
    let exchanges = report["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 3, "{report:#}");
    // Newest first: the oversized body, the garbage, then the broken query.
    assert_eq!(
        exchanges[0]["requests"][0]["grades"][0]["rule"],
        "body-form"
    );
    assert_eq!(exchanges[0]["requests"][0]["grades"][0]["verdict"], "fail");
    let broken = &exchanges[2]["requests"][0]["grades"];
    let mut failed: Vec<&str> = broken
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["verdict"] == "fail")
        .map(|g| g["rule"].as_str().unwrap())
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        ["base64url-no-padding", "btn", "client-crlf"],
        "{report:#}"
    );
    assert!(
        report["totals"]["fail"].as_u64().unwrap() >= 4,
        "{report:#}"
    );
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_the_flag_there_is_no_report_and_no_link() {
    let dir = temp_dir("e2e-client-check-off");
    let site = SiteProcess::start(&dir, &[]);
    let base = site.base.clone();
    assert!(!site.printed.contains("/client-check"), "{}", site.printed);
    let mut browser = Browser::new();
    let login_page = browser.call("GET", &format!("{base}/"), &[]);
    assert_eq!(login_page.status, 200);
    assert!(
        !login_page.body.contains("client-check"),
        "{}",
        login_page.body
    );
    for path in ["/client-check", "/client-check.json"] {
        assert_eq!(
            browser.call("GET", &format!("{base}{path}"), &[]).status,
            404,
            "{path}"
        );
    }
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

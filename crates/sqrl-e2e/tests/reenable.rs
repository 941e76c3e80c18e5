//! The disabled-identity dead end (issue 22), end to end: the real `sqrl-site` and the real
//! `sqrl` command. A login that finds SQRL disabled offers to re-enable it with the rescue
//! code; on yes the same code re-enables and logs in, and the browser that showed the code
//! ends logged in. No browser needed: the "browser" is ureq with the page's cookies, reading
//! the statuses the login page's widget reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sqrl_testkit::{binary, temp_dir, SiteProcess};

const PASSWORD: &str = "correct horse battery staple";

/// `sqrl args --danger-loopback-http` with `answers` piped to standard input (the prompts).
fn sqrl(identity: &Path, rescue: &str, args: &[&str], answers: &str) -> Output {
    let mut child = Command::new(binary("sqrl"))
        .args(args)
        .arg("--danger-loopback-http")
        .env("SQRL_IDENTITY", identity)
        .env("SQRL_PASSWORD", PASSWORD)
        .env("SQRL_RESCUE_CODE", rescue)
        .env_remove("SQRL_CA_CERT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(answers.as_bytes());
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A browser showing the login page: gets a code, reads its status, redeems it.
struct Browser {
    agent: ureq::Agent,
    base: String,
    cookie: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            base: base.to_owned(),
            cookie: String::new(),
        }
    }

    fn call(&mut self, method: &str, path: &str) -> (u16, String) {
        let response = match self
            .agent
            .request(method, &format!("{}{path}", self.base))
            .set("Cookie", &self.cookie)
            .call()
        {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            self.cookie = if self.cookie.is_empty() {
                pair.to_owned()
            } else {
                format!("{}; {pair}", self.cookie)
            };
        }
        (response.status(), response.into_string().unwrap())
    }

    fn new_code(&mut self) -> String {
        let (status, body) = self.call("POST", "/sqrl/new");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["url"].as_str().unwrap().to_owned()
    }

    /// The status and detail the page's widget would show now (the long poll answers at once
    /// when the status is not `new`).
    fn status(&mut self) -> (String, Option<String>) {
        let (status, body) = self.call("GET", "/sqrl/poll?last=new&detail=");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        (
            json["status"].as_str().unwrap().to_owned(),
            json["detail"].as_str().map(str::to_owned),
        )
    }
}

#[test]
fn a_disabled_identity_is_no_dead_end_one_code_reenables_and_logs_in() {
    let dir = temp_dir("e2e-reenable");
    let site = SiteProcess::start(&dir, &[]);
    let identity = dir.join("phone.sqrl");
    let made = Command::new(binary("sqrl"))
        .args(["identity", "new", "--enscrypt-iterations", "1"])
        .env("SQRL_IDENTITY", &identity)
        .env("SQRL_NEW_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let rescue = String::from_utf8_lossy(&made.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Rescue code: ").map(str::to_owned))
        .expect("the rescue code is printed");

    // An account, then SQRL login disabled for it.
    let mut first = Browser::new(&site.base);
    let url = first.new_code();
    let done = sqrl(&identity, &rescue, &["login", "--yes", &url], "");
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(first.call("POST", "/sqrl/redeem").0, 200);
    let mut second = Browser::new(&site.base);
    let url = second.new_code();
    let done = sqrl(&identity, &rescue, &["disable", "--yes", &url], "");
    assert!(done.status.success(), "{}", stderr(&done));

    // Declined: nothing re-enabled; the page says to re-enable in the app, and what the
    // client offered is that.
    let mut declined = Browser::new(&site.base);
    let url = declined.new_code();
    let refused = sqrl(&identity, &rescue, &["login", &url], "n\n");
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(5), "{text}");
    assert!(
        text.contains("Re-enable it now with your rescue code, then log in? [y/N]"),
        "{text}"
    );
    assert!(text.contains("it was not re-enabled"), "{text}");
    assert_eq!(
        declined.status(),
        ("scanned".to_owned(), Some("disabled".to_owned()))
    );
    let (status, widget) = declined.call("GET", "/sqrl/widget.js");
    assert_eq!(status, 200);
    assert!(
        widget.contains("Re-enable it in your SQRL app with your rescue code."),
        "the page's words for scanned:disabled"
    );

    // `sqrl enable` on that code: its nut is spent; it says what to do instead.
    let spent = sqrl(&identity, &rescue, &["enable", "--yes", &url], "");
    let text = stderr(&spent);
    assert_ne!(spent.status.code(), Some(0), "{text}");
    assert!(
        text.contains("already used") && text.contains("`sqrl login` with the new code"),
        "{text}"
    );

    // Yes: the same code re-enables, then the site's login question (its browser, IP and
    // code, with buttons: the re-enable's reply carries it), then the browser logs in.
    let mut browser = Browser::new(&site.base);
    let url = browser.new_code();
    let done = sqrl(&identity, &rescue, &["login", &url], "y\n1\n");
    let text = stderr(&done);
    assert_eq!(done.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Re-enable it now with your rescue code, then log in?"),
        "{text}"
    );
    assert!(
        text.contains("The site asks:") && text.contains("from 127.0.0.1? The login page shows"),
        "the login after re-enabling is asked with the browser and IP: {text}"
    );
    assert!(
        text.contains("SQRL login is enabled again at this site.") && text.contains("Logged in."),
        "{text}"
    );
    assert_eq!(browser.status().0, "confirmed");
    let (status, body) = browser.call("POST", "/sqrl/redeem");
    assert_eq!(status, 200, "{body}");
    let (status, account) = browser.call("GET", "/account");
    assert_eq!(status, 200, "{account}");

    // And the identity stays enabled: the next login needs no rescue code.
    let mut later = Browser::new(&site.base);
    let url = later.new_code();
    let done = sqrl(&identity, &rescue, &["login", "--yes", &url], "");
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(later.call("POST", "/sqrl/redeem").0, 200);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

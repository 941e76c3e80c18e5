//! What the end-to-end tests over plain HTTP share: a cookie-keeping browser that follows no
//! redirects, a test identity, a login with the `sqrl` command, waiting for a port.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sqrl_testkit::{binary, wait_until};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn wait_for_port(port: u16, what: &str, log: &Path) {
    let up = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(
        up,
        "{what} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A browser: no redirects followed, cookies kept by hand (they are shared across ports, as
/// a browser's are on one host).
pub(crate) struct Browser {
    agent: ureq::Agent,
    cookie: String,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(20))
                .build(),
            cookie: String::new(),
        }
    }

    pub(crate) fn call(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(method, url, headers, None)
    }

    /// A form post (`application/x-www-form-urlencoded`).
    pub(crate) fn call_form(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        self.send("POST", url, headers, Some(form))
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        let mut request = self.agent.request(method, url);
        if !self.cookie.is_empty() {
            request = request.set("Cookie", &self.cookie);
        }
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let sent = match form {
            Some(form) => request.send_form(form),
            None => request.call(),
        };
        let response = match sent {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let name = pair.split('=').next().unwrap();
            let mut kept: Vec<&str> = self
                .cookie
                .split("; ")
                .filter(|c| !c.is_empty() && !c.starts_with(&format!("{name}=")))
                .collect();
            if !set.contains("Max-Age=0") {
                kept.push(pair);
            }
            self.cookie = kept.join("; ");
        }
        Answer {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            body: response.into_string().unwrap_or_default(),
        }
    }
}

/// Logs in at the site with the `sqrl` command; returns where the site sends the browser.
pub(crate) fn sqrl_login(browser: &mut Browser, base: &str, identity: &Path) -> String {
    let code = browser.call("POST", &format!("{base}/sqrl/new"), &[("Origin", base)]);
    assert_eq!(code.status, 200, "{}", code.body);
    let json: serde_json::Value = serde_json::from_str(&code.body).unwrap();
    phone_answers(json["url"].as_str().unwrap(), identity);
    let redeemed = browser.call("POST", &format!("{base}/sqrl/redeem"), &[("Origin", base)]);
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    let json: serde_json::Value = serde_json::from_str(&redeemed.body).unwrap();
    json["redirect"].as_str().unwrap().to_owned()
}

/// The phone: `sqrl login URL` with the test identity, saying yes to a new account.
pub(crate) fn phone_answers(url: &str, identity: &Path) {
    let mut child = Command::new(binary("sqrl"))
        .args(["login", url, "--danger-loopback-http"])
        .env("SQRL_IDENTITY", identity)
        .env("SQRL_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"y\n");
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{done:?}");
}

pub(crate) fn new_identity(dir: &Path) -> PathBuf {
    let identity = dir.join("phone.sqrl");
    let made = Command::new(binary("sqrl"))
        .args(["identity", "new", "--enscrypt-iterations", "1"])
        .env("SQRL_IDENTITY", &identity)
        .env("SQRL_NEW_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    identity
}

//! A minimal WebDriver client for headless Chromium through chromedriver (loopback only),
//! shared by the browser tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sqrl_testkit::{free_port, wait_until, Process};

// ---- a minimal WebDriver client (loopback only) --------------------------------------------

pub(crate) fn json_of(response: ureq::Response) -> Value {
    serde_json::from_str(&response.into_string().unwrap()).unwrap()
}

pub(crate) struct Driver {
    _process: Process,
    base: String,
    agent: ureq::Agent,
}

impl Driver {
    pub(crate) fn start() -> Option<Driver> {
        let path = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let driver = Driver {
            _process: Process(child),
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        };
        let status = format!("{}/status", driver.base);
        if wait_until(Duration::from_secs(10), || {
            driver.agent.get(&status).call().is_ok()
        }) {
            return Some(driver);
        }
        panic!("chromedriver did not start");
    }

    pub(crate) fn session(&self, profile: &Path) -> Browser {
        self.session_with(profile, false)
    }

    /// A session; with `accept_insecure_certs`, one that accepts the site's local CA (the
    /// WebDriver capability, as if the user had trusted it).
    pub(crate) fn session_with(&self, profile: &Path, accept_insecure_certs: bool) -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": accept_insecure_certs,
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=900,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let response: Value = json_of(
            self.agent
                .post(&format!("{}/session", self.base))
                .send_string(&capabilities.to_string())
                .unwrap(),
        );
        let id = response["value"]["sessionId"].as_str().unwrap();
        Browser {
            agent: self.agent.clone(),
            base: format!("{}/session/{id}", self.base),
        }
    }
}

pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
    }
}

impl Browser {
    pub(crate) fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .send_string(&body.to_string());
        match response {
            Ok(r) => json_of(r)["value"].clone(),
            Err(ureq::Error::Status(code, r)) => panic!(
                "webdriver {path}: {code} {}",
                r.into_string().unwrap_or_default()
            ),
            Err(e) => panic!("webdriver {path}: {e}"),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Value {
        json_of(
            self.agent
                .get(&format!("{}{path}", self.base))
                .call()
                .unwrap(),
        )["value"]
            .clone()
    }

    pub(crate) fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    pub(crate) fn url(&self) -> String {
        self.get("/url").as_str().unwrap().to_owned()
    }

    pub(crate) fn run(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    pub(crate) fn text(&self, selector: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            json!(selector)
        );
        self.run(&script).as_str().unwrap_or_default().to_owned()
    }

    /// The login widget's state (`data-status` on its `data-sqrl-login` element).
    pub(crate) fn status(&self) -> String {
        self.run("const w = document.querySelector('[data-sqrl-login]'); return w ? (w.dataset.status || '') : '';")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The detail of the widget's status (`data-detail`), empty when there is none.
    pub(crate) fn detail(&self) -> String {
        self.run("const w = document.querySelector('[data-sqrl-login]'); return w ? (w.dataset.detail || '') : '';")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn click(&self, selector: &str) {
        self.run(&format!(
            "document.querySelector({}).click(); return null;",
            json!(selector)
        ));
    }

    /// Whether the element matching `selector` is shown (exists and is not hidden).
    pub(crate) fn shown(&self, selector: &str) -> bool {
        let script = format!(
            "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0;",
            json!(selector)
        );
        self.run(&script).as_bool().unwrap_or(false)
    }

    /// A final state: the dead code and its links are gone, a new code is offered.
    pub(crate) fn assert_ended(&self, state: &str) {
        for part in [".sqrl-qr", ".sqrl-link", ".sqrl-url", ".sqrl-countdown"] {
            assert!(!self.shown(part), "{part} still shown when {state}");
        }
        assert!(
            self.shown(".sqrl-new-code"),
            "no new-code button when {state}"
        );
    }

    pub(crate) fn screenshot(&self) -> Vec<u8> {
        let data = self.get("/screenshot");
        sqrl_proto::b64::decode_lenient(data.as_str().unwrap()).unwrap()
    }

    /// Waits for a condition; fails with `what` when it never holds.
    pub(crate) fn wait(&self, what: &str, timeout: Duration, condition: impl Fn(&Browser) -> bool) {
        if wait_until(timeout, || condition(self)) {
            return;
        }
        panic!(
            "timed out waiting for: {what} (url {}, status {:?}, page {:?})",
            self.url(),
            self.status(),
            self.text("body")
        );
    }

    pub(crate) fn wait_status(&self, status: &str) {
        self.wait(
            &format!("page status {status}"),
            Duration::from_secs(20),
            |b| b.status() == status,
        );
    }

    /// Opens the login page and reads its QR code from a screenshot.
    pub(crate) fn login_page(&self, base: &str) -> String {
        self.goto(&format!("{base}/"));
        self.wait_status("new");
        // Let the QR image paint: the page says nothing when it has, so a pause is the point.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(300));
        read_qr(&self.screenshot())
    }
}

pub(crate) fn read_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).unwrap().to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code on the page");
    grids[0].decode().unwrap().1
}

/// chromedriver. The browser tests are compiled as ignored where the build found no Chromium
/// (`cfg(sqrl_browser)`, see `build.rs`), so reaching this without one is a failure.
pub(crate) fn start_driver() -> Driver {
    Driver::start().unwrap_or_else(|| {
        panic!(
            "chromedriver not found; install Debian's chromium and chromium-driver (.ci/run does)"
        )
    })
}

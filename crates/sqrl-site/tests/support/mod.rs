//! Shared by the serving tests: the `sqrl-site` process, a browser with a cookie jar, and a
//! login by the real client.
#![allow(
    // A test helper module: `pub` is for the tests that include it, not an API.
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::transport::{self, HttpTransport};
use sqrl_proto::{Button, SqrlUrl};

pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0";

pub use sqrl_testkit::{temp_dir, SiteProcess};

/// A rustls client configuration trusting exactly the CA in `ca_pem`.
pub fn tls_trusting(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A browser: ureq with a cookie jar.
pub struct Browser {
    pub agent: ureq::Agent,
    pub base: String,
    pub cookies: Vec<(String, String)>,
    /// The `Set-Cookie` values it received.
    pub set_cookies: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub hsts: Option<String>,
}

impl Browser {
    pub fn new(base: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let mut agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(Duration::from_secs(20));
        if let Some(tls) = tls {
            agent = agent.tls_config(tls);
        }
        Self {
            agent: agent.build(),
            base: base.to_owned(),
            cookies: Vec::new(),
            set_cookies: Vec::new(),
        }
    }

    pub fn try_send(&mut self, method: &str, path: &str) -> Result<Reply, Box<ureq::Error>> {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let response = match self
            .agent
            .request(method, &url)
            .set("Cookie", &cookie)
            .set("User-Agent", UA)
            .call()
        {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(Box::new(e)),
        };
        for set in response.all("set-cookie") {
            self.set_cookies.push(set.to_owned());
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Ok(Reply {
            status: response.status(),
            location: response.header("location").map(str::to_owned),
            hsts: response
                .header("strict-transport-security")
                .map(str::to_owned),
            body: response.into_string().unwrap(),
        })
    }

    pub fn send(&mut self, method: &str, path: &str) -> Reply {
        self.try_send(method, path)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A new login code: its `sqrl://` URL.
    pub fn new_code(&mut self) -> String {
        let reply = self.send("POST", "/sqrl/new");
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
            .body
            .split("\"url\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    }
}

/// A new identity's keys.
pub fn new_keys() -> Keys {
    let iuk = Iuk::generate(&mut OsRng);
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

/// The phone's side of a login: the client answers the code at `url`.
pub fn answer(url: &str, keys: &Keys, transport: &HttpTransport) -> Result<(), sqrl_client::Error> {
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    transport::run(exchange, first, transport, |_| {
        Decision::Button(Button::First)
    })
    .map(|_| ())
}

/// A whole login: a code, the client's answer, the redemption; the account page then loads.
pub fn log_in(browser: &mut Browser, keys: &Keys, transport: &HttpTransport) {
    let url = browser.new_code();
    answer(&url, keys, transport).unwrap();
    let reply = browser.send("POST", "/sqrl/redeem");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = browser.send("GET", "/account");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

//! The `sqrl` command logs in to `sqrl-site` over real HTTPS: the site makes its local CA
//! (`--tls-self-signed`), the command trusts it with `--ca-cert` (and `SQRL_CA_CERT`), and
//! refuses the site without it. No browser needed: the "browser" is ureq trusting the CA.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use sqrl_testkit::{binary, temp_dir, SiteProcess};

const PASSWORD: &str = "correct horse battery staple";

fn sqrl(identity: &Path, args: &[&str], env: &[(&str, &Path)], answer: &str) -> Output {
    let mut command = Command::new(binary("sqrl"));
    command
        .args(args)
        .env("SQRL_IDENTITY", identity)
        .env("SQRL_PASSWORD", PASSWORD)
        .env_remove("SQRL_CA_CERT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(answer.as_bytes());
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A browser trusting exactly the site's CA: gets a code, later redeems it.
struct Browser {
    agent: ureq::Agent,
    base: String,
    cookie: String,
}

impl Browser {
    fn new(base: &str, ca: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            agent: ureq::AgentBuilder::new()
                .tls_config(Arc::new(tls))
                .redirects(0)
                .timeout(Duration::from_secs(20))
                .build(),
            base: base.to_owned(),
            cookie: String::new(),
        }
    }

    fn post(&mut self, path: &str) -> (u16, String) {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie)
            .call()
            .unwrap();
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
        let (status, body) = self.post("/sqrl/new");
        assert_eq!(status, 200);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["url"].as_str().unwrap().to_owned()
    }
}

#[test]
fn the_sqrl_command_logs_in_over_https_with_ca_cert() {
    let dir = temp_dir("e2e-https");
    let tls = dir.join("tls");
    let site = SiteProcess::start(&dir, &["--tls-self-signed", tls.to_str().unwrap()]);
    let base = site.base.clone();
    assert!(base.starts_with("https://"), "{base}");
    let ca = tls.join("ca.pem");

    let identity = dir.join("phone.sqrl");
    let made = Command::new(binary("sqrl"))
        .args(["identity", "new", "--enscrypt-iterations", "1"])
        .env("SQRL_IDENTITY", &identity)
        .env("SQRL_NEW_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let mut browser = Browser::new(&base, &ca);

    // Without the CA, the command refuses the site's certificate (exit 4: network).
    let url = browser.new_code();
    let refused = sqrl(&identity, &["login", &url], &[], "y\n");
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(
        stderr.contains("certificate") || stderr.contains("tls"),
        "{stderr}"
    );

    // With --ca-cert it logs in (a new account: it asks first), and the browser redeems.
    let ca_arg = ca.to_str().unwrap();
    let done = sqrl(&identity, &["login", &url, "--ca-cert", ca_arg], &[], "y\n");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(browser.post("/sqrl/redeem").0, 200);

    // SQRL_CA_CERT does the same (a known account: the site's question, first button).
    let mut second = Browser::new(&base, &ca);
    let url = second.new_code();
    let done = sqrl(&identity, &["login", &url], &[("SQRL_CA_CERT", &ca)], "1\n");
    assert!(done.status.success(), "{done:?}");
    assert_eq!(second.post("/sqrl/redeem").0, 200);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

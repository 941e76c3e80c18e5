//! `sqrl-site` over HTTPS with its own local CA (`--tls-self-signed`): a browser and the real
//! client that trust the CA log in over TLS; plain HTTP only redirects; responses carry HSTS
//! and Secure cookies; a client without the CA refuses the site; the CA survives restarts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::TcpListener;

use sqrl_client::transport::HttpTransport;
use support::{answer, log_in, new_keys, temp_dir, tls_trusting, Browser, SiteProcess};

#[test]
fn logs_in_over_https_with_the_local_ca() {
    let dir = temp_dir("https-login");
    let tls = dir.join("tls");
    let site = SiteProcess::start(
        &dir,
        &[
            "--tls-self-signed",
            tls.to_str().unwrap(),
            "--http-redirect-bind",
            "127.0.0.1:0",
        ],
    );
    assert!(site.base.starts_with("https://127.0.0.1:"), "{}", site.base);
    let ca = tls.join("ca.pem");
    assert!(
        site.printed
            .contains(&format!("--ca-cert {}", ca.display()))
            && site.printed.contains("SQRL_CA_CERT")
            && site.printed.contains("phone")
            && site.printed.contains("browser"),
        "says how to trust the CA: {}",
        site.printed
    );
    #[cfg(unix)]
    for secret in ["key.pem", "ca-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tls.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }

    let mut browser = Browser::new(&site.base, Some(tls_trusting(&ca)));
    let page = browser.send("GET", "/");
    assert_eq!(page.status, 200);
    assert_eq!(page.hsts.as_deref(), Some("max-age=31536000"));
    let transport = HttpTransport::default().with_ca_cert_file(&ca).unwrap();
    log_in(&mut browser, &new_keys(), &transport);
    assert!(
        browser
            .set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-sqrl_session=") && c.contains("; Secure")),
        "the session cookie is Secure: {:?}",
        browser.set_cookies
    );
    assert!(browser.set_cookies.iter().all(|c| c.contains("; Secure")));

    // Plain HTTP only sends the browser to the same path over HTTPS.
    let redirect = site.redirect.clone().unwrap();
    let mut plain = Browser::new(&redirect, None);
    let reply = plain.send("GET", "/account?tab=sessions");
    assert_eq!(reply.status, 301);
    assert_eq!(
        reply.location,
        Some(format!("{}/account?tab=sessions", site.base))
    );
    assert_eq!(plain.send("POST", "/sqrl?nut=x").status, 301);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_client_without_the_ca_refuses_the_site() {
    let dir = temp_dir("https-untrusted");
    let tls = dir.join("tls");
    let site = SiteProcess::start(&dir, &["--tls-self-signed", tls.to_str().unwrap()]);
    let mut browser = Browser::new(&site.base, Some(tls_trusting(&tls.join("ca.pem"))));
    let url = browser.new_code();

    let error = answer(&url, &new_keys(), &HttpTransport::default()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("TLS") || text.to_lowercase().contains("certificate"),
        "a TLS error: {text}"
    );
    // Nor does a browser that does not trust it get a page.
    let mut stranger = Browser::new(&site.base, None);
    assert!(stranger.try_send("GET", "/").is_err());
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_local_ca_is_kept_across_restarts_and_hosts() {
    let dir = temp_dir("https-reuse");
    let tls = dir.join("tls");
    let tls_arg = tls.to_str().unwrap().to_owned();
    let site = SiteProcess::start(&dir, &["--tls-self-signed", &tls_arg]);
    let first_ca = std::fs::read(tls.join("ca.pem")).unwrap();
    let first_cert = std::fs::read(tls.join("cert.pem")).unwrap();
    assert!(site
        .printed
        .contains("made a new local certificate authority"));
    drop(site);

    // Same host: the same CA and certificate.
    let site = SiteProcess::start(&dir, &["--tls-self-signed", &tls_arg]);
    assert!(site
        .printed
        .contains("using the local certificate authority"));
    assert_eq!(std::fs::read(tls.join("ca.pem")).unwrap(), first_ca);
    assert_eq!(std::fs::read(tls.join("cert.pem")).unwrap(), first_cert);
    drop(site);

    // Another host: a new certificate from the same CA, which a client trusting the first
    // ca.pem accepts.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let origin = format!("https://localhost:{port}");
    let saved_ca = dir.join("first-ca.pem");
    std::fs::write(&saved_ca, &first_ca).unwrap();
    let site = SiteProcess::start(
        &dir,
        &[
            "--tls-self-signed",
            &tls_arg,
            "--bind",
            &bind,
            "--origin",
            &origin,
        ],
    );
    assert_eq!(std::fs::read(tls.join("ca.pem")).unwrap(), first_ca);
    assert_ne!(std::fs::read(tls.join("cert.pem")).unwrap(), first_cert);
    let mut browser = Browser::new(&origin, Some(tls_trusting(&saved_ca)));
    let transport = HttpTransport::default()
        .with_ca_cert_file(&saved_ca)
        .unwrap();
    log_in(&mut browser, &new_keys(), &transport);
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_needs_an_https_origin() {
    let dir = temp_dir("https-origin");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sqrl-site"))
        .args(["--bind", "127.0.0.1:0", "--origin", "http://127.0.0.1:1"])
        .arg("--database")
        .arg(dir.join("site.sqlite"))
        .arg("--tls-self-signed")
        .arg(dir.join("tls"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("origin must be https://"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

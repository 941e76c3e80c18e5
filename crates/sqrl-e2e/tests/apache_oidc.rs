//! Apache with Debian's `mod_auth_openidc` (a relying party nobody on this project wrote)
//! protects a directory with `sqrl-site` as its OpenID Connect provider: a browser is sent to
//! the SQRL login, the `sqrl` command logs in, Apache serves the page with `REMOTE_USER` set
//! to the pairwise subject, and Apache's logout ends both sessions through the provider's
//! end-session endpoint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod chrome;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqrl_testkit::{binary, free_port, temp_dir, Process, SiteProcess};
use support::{new_identity, phone_answers, sqrl_login, wait_for_port, Browser};

const MODULES: &str = "/usr/lib/apache2/modules";

fn apache(dir: &Path, port: u16, provider: &str, client_id: &str, secret: &str) -> Process {
    let docs = dir.join("htdocs/private");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("index.shtml"),
        "<p>user=<!--#echo var=\"REMOTE_USER\" -->;</p>\n",
    )
    .unwrap();
    let d = dir.display();
    let conf = format!(
        "ServerRoot {d}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule include_module {MODULES}/mod_include.so
LoadModule dir_module {MODULES}/mod_dir.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so
DocumentRoot {d}/htdocs
<Directory {d}/htdocs>
  Options +Includes
  SetOutputFilter INCLUDES
  DirectoryIndex index.shtml
  Require all granted
</Directory>
OIDCProviderMetadataURL {provider}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/private/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope openid
OIDCPKCEMethod S256
OIDCRemoteUserClaim sub
OIDCDefaultLoggedOutURL http://127.0.0.1:{port}/loggedout
<Location /private>
  AuthType openid-connect
  Require valid-user
</Location>
",
        passphrase = "a-test-passphrase-for-cookies"
    );
    let path = dir.join("httpd.conf");
    std::fs::write(&path, conf).unwrap();
    // The workers run as www-data: let them read the documents.
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(dir).status();
    let startup = std::fs::File::create(dir.join("startup.log")).unwrap();
    let child = Command::new("/usr/sbin/apache2")
        .arg("-f")
        .arg(&path)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(startup)
        .spawn()
        .unwrap();
    let process = Process(child);
    wait_for_port(port, "apache2", &dir.join("startup.log"));
    process
}

fn apache_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}

/// Follows redirects within `limit` steps, stopping at the first page; returns its answer
/// and where it is.
fn follow(browser: &mut Browser, mut url: String, limit: usize) -> (support::Answer, String) {
    for _ in 0..limit {
        let answer = browser.call("GET", &url, &[]);
        match (&answer.location, answer.status) {
            (Some(next), 301..=303 | 307 | 308) => {
                url = if next.starts_with('/') {
                    let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                    format!("{origin}{next}")
                } else {
                    next.clone()
                };
            }
            _ => return (answer, url),
        }
    }
    panic!("more than {limit} redirects from {url}");
}

/// The site, a client for Apache on a free port, and Apache itself.
fn setup(name: &str) -> (std::path::PathBuf, SiteProcess, u16, Process) {
    let dir = temp_dir(name);
    let site = SiteProcess::start(&dir, &["--ask", "off"]);
    let port = free_port();
    let registered = Command::new(binary("sqrl-site"))
        .arg("--database")
        .arg(dir.join("site.sqlite"))
        .args(["client", "add", "--name", "Team wiki"])
        .arg("--redirect-uri")
        .arg(format!("http://127.0.0.1:{port}/private/redirect_uri"))
        .arg("--post-logout-redirect-uri")
        .arg(format!("http://127.0.0.1:{port}/loggedout"))
        .output()
        .unwrap();
    assert!(registered.status.success(), "{registered:?}");
    let printed = String::from_utf8(registered.stdout).unwrap();
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let apache_dir = dir.join("apache");
    let apache = apache(
        &apache_dir,
        port,
        &site.base,
        &field("client_id"),
        &field("client_secret"),
    );
    (dir, site, port, apache)
}

#[test]
#[cfg_attr(
    not(sqrl_apache_oidc),
    ignore = "skipped: apache2 and libapache2-mod-auth-openidc are not installed"
)]
fn apache_mod_auth_openidc_logs_in_with_sqrl_and_logs_out_of_both() {
    let (dir, site, port, _apache) = setup("e2e-apache");
    let identity = new_identity(&dir);
    let mut browser = Browser::new();

    // Apache sends the browser to the provider's login page, naming the application.
    let (page, at) = follow(&mut browser, format!("http://127.0.0.1:{port}/private/"), 5);
    assert_eq!(
        page.status,
        200,
        "{at}: {}\n{}",
        page.body,
        apache_log(&dir.join("apache"))
    );
    assert!(
        at.starts_with(&format!("{}/oidc/authorize?", site.base)),
        "{at}"
    );
    assert!(page.body.contains("Log in to Team wiki"), "{}", page.body);

    // The SQRL login, the consent page, and back through Apache's redirect URI.
    let resume = sqrl_login(&mut browser, &site.base, &identity);
    let (consent, _) = follow(&mut browser, format!("{}{resume}", site.base), 3);
    assert!(
        consent.body.contains("name=\"decision\""),
        "{}",
        consent.body
    );
    let req = consent
        .body
        .split("name=\"req\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let allowed = browser.call_form(
        &format!("{}/oidc/consent", site.base),
        &[("req", &req), ("decision", "allow")],
        &[("Origin", &site.base)],
    );
    assert_eq!(allowed.status, 303, "{}", allowed.body);
    let back = allowed.location.unwrap();
    assert!(
        back.starts_with(&format!(
            "http://127.0.0.1:{port}/private/redirect_uri?code="
        )),
        "{back}"
    );
    let (protected, at) = follow(&mut browser, back, 5);
    assert_eq!(
        protected.status,
        200,
        "{at}: {}\n{}",
        protected.body,
        apache_log(&dir.join("apache"))
    );
    let user = protected
        .body
        .split("user=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        user.len(),
        43,
        "REMOTE_USER is the pairwise sub: {}",
        protected.body
    );

    // Logout at Apache ends the provider's session too, and returns to Apache.
    let logout = format!(
        "http://127.0.0.1:{port}/private/redirect_uri?logout=http%3A%2F%2F127.0.0.1%3A{port}%2Floggedout"
    );
    let (_, at) = follow(&mut browser, logout, 5);
    assert_eq!(
        at,
        format!("http://127.0.0.1:{port}/loggedout"),
        "{}",
        apache_log(&dir.join("apache"))
    );
    let (again, at) = follow(&mut browser, format!("http://127.0.0.1:{port}/private/"), 5);
    assert!(
        at.starts_with(&format!("{}/oidc/authorize?", site.base)),
        "{at}"
    );
    assert!(
        again.body.contains("data-sqrl-login"),
        "logged out of the provider too"
    );
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same in headless Chromium, as a person does it: the widget on the provider's login
/// page, the consent button, the page behind Apache, Apache's logout.
#[test]
#[cfg_attr(
    not(all(sqrl_apache_oidc, sqrl_browser)),
    ignore = "skipped: apache2 with mod_auth_openidc, or chromium and chromedriver, are not installed"
)]
fn apache_mod_auth_openidc_in_chromium_logs_in_with_sqrl_and_logs_out() {
    let (dir, site, port, _apache) = setup("e2e-apache-chromium");
    let identity = new_identity(&dir);
    let driver = chrome::start_driver();
    let profile = dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let browser = driver.session(&profile);
    let private = format!("http://127.0.0.1:{port}/private/");

    // Apache sends the browser to the provider; its page names the app and shows a code.
    browser.goto(&private);
    browser.wait_status("new");
    assert!(browser
        .url()
        .starts_with(&format!("{}/oidc/authorize?", site.base)));
    assert!(
        browser.text("h1").contains("Team wiki"),
        "{}",
        browser.text("h1")
    );
    // Its code names the app (`app=` is base64url of "Team wiki"), in the link and in the QR
    // image, so the phone's question can say "Log in to Team wiki via ...".
    let url = browser.text(".sqrl-url");
    assert!(url.contains("&app=VGVhbSB3aWtp"), "{url}");
    browser.wait("the QR image", Duration::from_secs(10), |b| {
        b.run("const i = document.querySelector('.sqrl-qr'); return i.complete && i.naturalWidth > 0;")
            .as_bool()
            == Some(true)
    });
    assert_eq!(chrome::read_qr(&browser.screenshot()), url);

    // The phone logs in; the widget redeems and comes back to the provider: consent.
    phone_answers(&browser.text(".sqrl-url"), &identity);
    browser.wait("the consent page", Duration::from_secs(20), |b| {
        b.shown("button[value=allow]")
    });
    browser.click("button[value=allow]");

    // The code goes back through Apache, which serves the page to the SQRL user.
    browser.wait("the page behind Apache", Duration::from_secs(20), |b| {
        b.text("body").contains("user=")
    });
    assert_eq!(browser.url(), private);
    let body = browser.text("body");
    let user = body
        .split("user=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert_eq!(user.len(), 43, "REMOTE_USER is the pairwise sub: {body}");

    // Apache's logout ends the provider's session too: the next visit meets the login page.
    browser.goto(&format!(
        "http://127.0.0.1:{port}/private/redirect_uri?logout=http%3A%2F%2F127.0.0.1%3A{port}%2Floggedout"
    ));
    browser.wait(
        "back at Apache after logout",
        Duration::from_secs(20),
        |b| b.url().ends_with("/loggedout"),
    );
    browser.goto(&private);
    browser.wait_status("new");
    assert!(browser
        .url()
        .starts_with(&format!("{}/oidc/authorize?", site.base)));
    drop(browser);
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}

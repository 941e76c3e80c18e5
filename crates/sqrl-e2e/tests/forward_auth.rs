//! Forward-auth in front of an app with no login of its own, through real reverse proxies
//! (Debian's nginx with `auth_request`, Caddy with `forward_auth`): unauthenticated requests
//! are sent to the SQRL login, a login (the `sqrl` command) lets the browser through with
//! `Remote-User` set by the proxy, a `Remote-User` the client sends never reaches the app,
//! and a session ended at the site is refused at the next request.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use sqrl_testkit::{free_port, temp_dir, Process, SiteProcess};
use support::{new_identity, sqrl_login, wait_for_port, Browser};

/// The app behind the proxy: answers every request with the request's headers, one per line,
/// lower-cased.
fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                let body = format!("upstream saw:\n{head}");
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn nginx(dir: &Path, port: u16, site: u16, upstream: u16) -> Process {
    for sub in ["tmp", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  server {{
    listen 127.0.0.1:{port};
    location = /_sqrl_check {{
      internal;
      proxy_pass http://127.0.0.1:{site}/auth/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length \"\";
    }}
    location / {{
      auth_request /_sqrl_check;
      auth_request_set $sqrl_user $upstream_http_remote_user;
      auth_request_set $sqrl_name $upstream_http_remote_name;
      proxy_set_header Remote-User $sqrl_user;
      proxy_set_header Remote-Name $sqrl_name;
      error_page 401 = @login;
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location @login {{
      return 302 http://127.0.0.1:{site}/auth/login?rd=$scheme://$http_host$request_uri;
    }}
  }}
}}
"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    wait_for_port(port, "nginx", &dir.join("logs/error.log"));
    process
}

fn caddy(dir: &Path, port: u16, site: u16, upstream: u16) -> Process {
    let conf = format!(
        "{{
  admin off
  auto_https off
  storage file_system {d}/data
}}
http://127.0.0.1:{port} {{
  forward_auth 127.0.0.1:{site} {{
    uri /auth/forward
    copy_headers Remote-User Remote-Name
  }}
  reverse_proxy 127.0.0.1:{upstream}
}}
",
        d = dir.display()
    );
    let path = dir.join("Caddyfile");
    std::fs::write(&path, conf).unwrap();
    let log = std::fs::File::create(dir.join("caddy.log")).unwrap();
    let child = Command::new("/usr/bin/caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let process = Process(child);
    wait_for_port(port, "caddy", &dir.join("caddy.log"));
    process
}

/// One proxy in front of the echo app: the whole story, from the unauthenticated request to
/// the refused request after logout.
fn protects(proxy_base: &str, site: &SiteProcess, identity: &Path) {
    let base = &site.base;
    let mut browser = Browser::new();
    let page = format!("{proxy_base}/private/page?x=1");

    // 1. Not logged in: sent to the login page, with the way back.
    let first = browser.call("GET", &page, &[]);
    assert_eq!(first.status, 302, "{}", first.body);
    let login = first.location.unwrap();
    let expected = format!("{base}/auth/login?rd=");
    assert!(login.starts_with(&expected), "{login}");
    assert!(
        login.contains("%2Fprivate%2Fpage%3Fx%3D1") || login.contains("/private/page?x=1"),
        "{login}"
    );

    // 2. The login page, the SQRL login, and back to the app.
    let shown = browser.call("GET", &login, &[]);
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("data-sqrl-login"), "{}", shown.body);
    let back = sqrl_login(&mut browser, base, identity);
    assert!(back.starts_with("/auth/return?rd="), "{back}");
    let returned = browser.call("GET", &format!("{base}{back}"), &[]);
    assert_eq!(returned.status, 303);
    assert_eq!(returned.location.as_deref(), Some(page.as_str()));

    // 3. Through, with the proxy's Remote-User; the client's own never reaches the app.
    let through = browser.call("GET", &page, &[("Remote-User", "admin")]);
    assert_eq!(through.status, 200, "{}", through.body);
    let user = through
        .body
        .lines()
        .find_map(|l| l.strip_prefix("remote-user: "))
        .unwrap_or_else(|| panic!("no remote-user: {}", through.body))
        .trim()
        .to_owned();
    assert_eq!(user.len(), 32, "the account id: {user}");
    assert!(
        !through.body.contains("remote-user: admin"),
        "{}",
        through.body
    );

    // 4. A session ended at the site is refused at the next request.
    let ended = browser.call("POST", &format!("{base}/auth/logout"), &[("Origin", base)]);
    assert_eq!(ended.status, 200, "{}", ended.body);
    let after = browser.call("GET", &page, &[]);
    assert_eq!(after.status, 302, "{}", after.body);
}

#[test]
#[cfg_attr(
    not(sqrl_proxies),
    ignore = "skipped: nginx and caddy are not installed"
)]
fn nginx_and_caddy_protect_an_app_with_sqrl_forward_auth() {
    let dir = temp_dir("e2e-forward-auth");
    let site = SiteProcess::start(
        &dir,
        &["--ask", "off", "--forward-auth-domain", "127.0.0.1"],
    );
    let site_port = site.addr().port();
    let upstream = echo_upstream();
    let identity = new_identity(&dir);

    let nginx_dir = dir.join("nginx");
    let nginx_port = free_port();
    let _nginx = nginx(&nginx_dir, nginx_port, site_port, upstream);
    protects(&format!("http://127.0.0.1:{nginx_port}"), &site, &identity);

    let caddy_dir = dir.join("caddy");
    std::fs::create_dir_all(&caddy_dir).unwrap();
    let caddy_port = free_port();
    let _caddy = caddy(&caddy_dir, caddy_port, site_port, upstream);
    protects(&format!("http://127.0.0.1:{caddy_port}"), &site, &identity);
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn forward_auth_checks_answer_only_the_configured_proxies() {
    let dir = temp_dir("e2e-forward-auth-proxies");
    // Only 192.0.2.1 is a proxy: this test's loopback connection is not.
    let site = SiteProcess::start(
        &dir,
        &[
            "--forward-auth-domain",
            "example.com",
            "--forward-auth-proxy",
            "192.0.2.1",
        ],
    );
    let mut browser = Browser::new();
    for path in ["/auth/check", "/auth/forward"] {
        let answer = browser.call("GET", &format!("{}{path}", site.base), &[]);
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
    }
    // Never an open redirect: a return URL off the configured domains gets a page.
    for rd in [
        "https://evil.example/",
        "https://example.com.evil.example/",
        "javascript:alert(1)",
    ] {
        let url = format!(
            "{}/auth/login?rd={}",
            site.base,
            rd.replace(':', "%3A").replace('/', "%2F")
        );
        let answer = browser.call("GET", &url, &[]);
        assert_eq!(answer.status, 400, "{rd}");
        assert!(answer.location.is_none());
    }
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}

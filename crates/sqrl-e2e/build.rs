//! Says whether Chromium and chromedriver, Python's Authlib, nginx, Caddy and Apache's
//! mod_auth_openidc are installed, for the browser, OpenID Connect and forward-auth tests
//! (see `build/prereqs.rs`).
include!("../../build/prereqs.rs");

fn main() {
    browser();
    python_authlib();
    proxies();
    apache_oidc();
}

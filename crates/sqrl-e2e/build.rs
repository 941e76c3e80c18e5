//! Says whether Chromium and chromedriver, Python's Authlib, nginx and Caddy are installed,
//! for the browser, OpenID Connect and forward-auth tests (see `build/prereqs.rs`).
include!("../../build/prereqs.rs");

fn main() {
    browser();
    python_authlib();
    proxies();
}

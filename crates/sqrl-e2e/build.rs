//! Says whether Chromium and chromedriver, and Python's Authlib, are installed, for the
//! browser and OpenID Connect tests (see `build/prereqs.rs`).
include!("../../build/prereqs.rs");

fn main() {
    browser();
    python_authlib();
}

//! Says whether Chromium and chromedriver are installed, for the browser tests (see
//! `build/prereqs.rs`).
include!("../../build/prereqs.rs");

fn main() {
    browser();
}

//! End-to-end tests of the whole product, in `tests/`: `sqrl-site` in headless Chromium
//! (Debian's `chromium` and `chromium-driver`), logged into with the `sqrl` command. Where the
//! build finds no Chromium the browser tests are compiled as ignored, so `cargo test` counts
//! them as skipped with the reason (`build.rs`); `.ci/run` installs it.
//!
//! The helpers the tests share (processes, binaries, the running site) are in `sqrl-testkit`.

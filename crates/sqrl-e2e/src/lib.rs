//! End-to-end tests of the whole product, in `tests/`: `sqrl-site` in headless Chromium
//! (Debian's `chromium` and `chromium-driver`), logged into with the `sqrl` command. Where the
//! build finds no Chromium the browser tests are compiled as ignored, so `cargo test` counts
//! them as skipped with the reason (`build.rs`); `.ci/run` installs it.
//!
//! The helpers below are shared by the test files (this crate is test support, never
//! published: it may panic with a message where a test cannot go on).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Child;

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `target/<profile>/`, where cargo put the workspace's binaries.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// The newest modification time of the files under `dir`.
pub fn newest(dir: &Path) -> std::time::SystemTime {
    let mut latest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry.metadata().unwrap().modified().unwrap()
        };
        latest = latest.max(time);
    }
    latest
}

/// A free TCP port on loopback (free when asked: bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A workspace package's example (`target/<profile>/examples/<name>`), refusing a missing or
/// stale one as [`binary`] does.
pub fn example(package: &str, name: &str) -> PathBuf {
    let path = bin_dir().join("examples").join(name);
    let hint = format!(
        "build it first: cargo build -p {package} --examples (cargo test --workspace does)"
    );
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", path.display()));
    let package_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(package);
    let sources = newest(&package_dir.join("src")).max(newest(&package_dir.join("examples")));
    assert!(
        built >= sources,
        "{} is older than its sources: {hint}",
        path.display()
    );
    path
}

/// A workspace binary, refusing a missing or stale one (`cargo test -p sqrl-e2e` alone does
/// not rebuild other packages' binaries; `cargo test --workspace` does).
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    let package = if name == "sqrl" { "sqrl-cli" } else { name };
    let hint = format!("build it first: cargo build -p {package} (cargo test --workspace does)");
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", path.display()));
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../")
        .join(package)
        .join("src");
    assert!(
        built >= newest(&sources),
        "{} is older than its sources: {hint}",
        path.display()
    );
    path
}

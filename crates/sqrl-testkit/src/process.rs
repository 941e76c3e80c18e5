//! The workspace's built programs, run as child processes by the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on loopback (free when asked: bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A fresh, empty directory for one test: `name`, the process id and a count keep tests,
/// runs and calls apart.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sqrl-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// `target/<profile>/`, where cargo put the workspace's binaries (the running test is in
/// its `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// The newest modification time of the files under `dir` (the epoch for a missing one).
fn newest(dir: &Path) -> SystemTime {
    let mut latest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(latest)
        };
        latest = latest.max(time);
    }
    latest
}

/// `path`, built from `package`'s `sources` (directories under `crates/<package>/`), or a
/// panic that says how to build it when it is missing or older than them.
fn fresh(path: PathBuf, package: &str, sources: &[&str], build: &str) -> PathBuf {
    let hint =
        format!("build it first: cargo build -p {package}{build} (cargo test --workspace does)");
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", path.display()));
    let package_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(package);
    let newest_source = sources
        .iter()
        .map(|dir| newest(&package_dir.join(dir)))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        built >= newest_source,
        "{} is older than its sources: {hint}",
        path.display()
    );
    path
}

/// A workspace binary (`sqrl`, `sqrl-site`, …), refusing a missing or stale one: `cargo test
/// -p X` alone does not rebuild other packages' binaries; `cargo test --workspace` does.
pub fn binary(name: &str) -> PathBuf {
    let package = if name == "sqrl" { "sqrl-cli" } else { name };
    fresh(bin_dir().join(name), package, &["src"], "")
}

/// A workspace package's example (`target/<profile>/examples/<name>`), refusing a missing or
/// stale one as [`binary`] does.
pub fn example(package: &str, name: &str) -> PathBuf {
    let path = bin_dir().join("examples").join(name);
    fresh(path, package, &["src", "examples"], " --examples")
}

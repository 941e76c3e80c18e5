//! The bindings in their own languages: the workspace's `uniffi-bindgen` generates Kotlin,
//! Swift and Python from the built `libsqrl_ffi.so`, exactly as the README says, and
//!
//! - Python (CPython) replays the community vectors and logs in to a running `sqrl-site`
//!   over HTTPS with `urllib` (`tests/python/test_bindings.py`);
//! - Kotlin on the JVM logs in to `sqrl-site` over HTTPS with `java.net.http`, through every
//!   action (`tests/kotlin/Login.kt`), compiled with one `kotlinc` call;
//! - Swift cannot be compiled here: its bindings are generated and checked.
//!
//! A missing interpreter, compiler or JNA makes those tests ignored ("skipped: …"), and
//! under `CI=true` fails the build (see `build.rs`). The library and the generator come from
//! `cargo test --workspace` (or `cargo build -p sqrl-ffi -p uniffi-bindgen`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqrl_testkit::{bin_dir, binary, temp_dir, SiteProcess};

/// The library built for this test run, with the `vectors` feature (the dev-dependency turns
/// it on): cargo leaves it in `deps/`, beside this test.
fn library() -> PathBuf {
    let path = bin_dir().join("deps").join("libsqrl_ffi.so");
    assert!(
        path.is_file(),
        "{} is missing: cargo test -p sqrl-ffi builds it",
        path.display()
    );
    path
}

fn source(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(relative)
}

fn shown(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The README's command: bindings for `language` from the library, into `out`, with the
/// library copied beside them (where Python's and JNA's loaders look).
fn generate(out: &Path, language: &str) {
    let output = Command::new(binary("uniffi-bindgen"))
        .args([
            "generate",
            "--no-format",
            "--language",
            language,
            "--library",
        ])
        .arg(library())
        .arg("--out-dir")
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", shown(&output));
    std::fs::copy(library(), out.join("libsqrl_ffi.so")).unwrap();
}

#[test]
fn swift_bindings_are_generated_from_the_library() {
    let dir = temp_dir("ffi-swift");
    generate(&dir, "swift");
    let swift = std::fs::read_to_string(dir.join("sqrl_ffi.swift")).unwrap();
    for api in [
        "public func createIdentity(",
        "open class SqrlExchange",
        "public protocol ProgressListener",
        "enum SqrlError: Swift.Error",
        "func receive(status: UInt16, body: String)",
    ] {
        assert!(swift.contains(api), "{api} is not in the Swift bindings");
    }
    // The C header and module map an Xcode project needs beside the static library.
    let header = std::fs::read_to_string(dir.join("sqrl_ffiFFI.h")).unwrap();
    assert!(header.contains("uniffi_sqrl_ffi_fn_func_create_identity"));
    assert!(dir.join("sqrl_ffiFFI.modulemap").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn python(dir: &Path, mode: &str, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("SQRL_PYTHON"));
    command
        .arg(source("python/test_bindings.py"))
        .arg(mode)
        .env("PYTHONPATH", dir)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn vectors_dir() -> PathBuf {
    match std::env::var_os("SQRL_SHARED_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sqrl/vectors"),
    }
    .join("sqrldev")
}

#[test]
#[cfg_attr(
    not(all(sqrl_python, sqrl_vectors)),
    ignore = "skipped: python3 or ../shared/sqrl/vectors missing"
)]
fn python_replays_the_community_vectors() {
    let dir = temp_dir("ffi-python-vectors");
    generate(&dir, "python");
    let output = python(&dir, "vectors", &[("SQRL_VECTORS", &vectors_dir())]);
    assert!(output.status.success(), "{}", shown(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Every file was replayed, each with its full row count.
    for line in [
        "enscrypt 80",
        "identity 80",
        "identity-lock 14",
        "ins 48",
        "base56 120",
        "base56-full 128",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{}", shown(&output));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `sqrl-site` over HTTPS with its own CA, in `dir`; returns it and the CA's PEM file.
fn https_site(dir: &Path) -> (SiteProcess, PathBuf) {
    let tls = dir.join("tls");
    let site = SiteProcess::start(dir, &["--tls-self-signed", tls.to_str().unwrap()]);
    assert!(site.base.starts_with("https://"), "{}", site.base);
    (site, tls.join("ca.pem"))
}

#[test]
#[cfg_attr(not(sqrl_python), ignore = "skipped: python3 missing")]
fn python_logs_in_to_sqrl_site_with_urllib() {
    let dir = temp_dir("ffi-python-login");
    let bindings = dir.join("bindings");
    generate(&bindings, "python");
    let (site, ca) = https_site(&dir);
    let base = PathBuf::from(&site.base);
    let output = python(
        &bindings,
        "login",
        &[("SQRL_SITE", &base), ("SQRL_CA", &ca)],
    );
    assert!(output.status.success(), "{}", shown(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("login ok"));
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The Kotlin login of the README's "Build a phone app", which the Kotlin test compiles and
/// runs so that it cannot drift from the bindings.
fn readme_kotlin() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = readme.split("## Build a phone app").nth(1).unwrap();
    let block = section.split("```kotlin\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_owned()
}

#[test]
#[cfg_attr(
    not(sqrl_kotlin),
    ignore = "skipped: kotlinc (npm kotlin-compiler), java or jna.jar (libjna-java) missing"
)]
fn kotlin_logs_in_over_https_with_java_net_http() {
    let dir = temp_dir("ffi-kotlin");
    let bindings = dir.join("bindings");
    generate(&bindings, "kotlin");
    let jna = env!("SQRL_JNA");
    let jar = dir.join("login.jar");
    let readme = dir.join("ReadmeLogin.kt");
    std::fs::write(&readme, readme_kotlin()).unwrap();
    // One compiler run for the bindings and the program.
    let compiled = Command::new(env!("SQRL_KOTLINC"))
        .arg(bindings.join("uniffi/sqrl_ffi/sqrl_ffi.kt"))
        .arg(source("kotlin/Login.kt"))
        .arg(&readme)
        .args(["-nowarn", "-include-runtime", "-classpath", jna, "-d"])
        .arg(&jar)
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", shown(&compiled));
    let (site, ca) = https_site(&dir);
    let output = Command::new(env!("SQRL_JAVA"))
        .arg(format!("-Djna.library.path={}", bindings.display()))
        .arg("-classpath")
        .arg(format!("{}:{jna}", jar.display()))
        .arg("LoginKt")
        .arg(&site.base)
        .arg(&ca)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", shown(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for step in [
        "new account",
        "known login",
        "question answered",
        "question declined",
        "cancelled",
        "cps",
        "disabled",
        "enabled",
        "rekeyed",
        "all ok",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{}", shown(&output));
    }
    drop(site);
    std::fs::remove_dir_all(&dir).unwrap();
}

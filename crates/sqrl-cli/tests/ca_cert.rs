//! `--ca-cert PATH` / `SQRL_CA_CERT`: the `sqrl` command logs in over HTTPS to a loopback site
//! whose certificate a throwaway CA signed only when told to trust that CA. The site is the
//! sqrl-client test server behind the test HTTPS server that reads each request once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../sqrl-client/tests/common/mini_server.rs"]
mod mini_server;
#[path = "../../sqrl-client/tests/common/one_read_server.rs"]
mod one_read_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use mini_server::MiniServer;
use one_read_server::{serve, TestCa};

const PASSWORD: &str = "correct horse battery";

fn sqrl(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sqrl"));
    command
        .args(args)
        .env("SQRL_IDENTITY", dir.join("identity.sqrl"))
        .env("SQRL_PASSWORD", PASSWORD)
        .env("SQRL_NEW_PASSWORD", PASSWORD)
        .env_remove("SQRL_CA_CERT")
        .env_remove("SQRL_RESCUE_CODE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// A fresh directory per test (the tests of this file run in parallel).
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-cli-ca-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn ca_cert_flag_and_env_let_login_reach_a_private_ca_site() {
    let dir = temp_dir("flag");
    let made = sqrl(
        &dir,
        &["identity", "new", "--enscrypt-iterations", "2"],
        &[],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let ca = TestCa::new("sqrl-rs CLI test CA");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let ca_path = ca_file.to_str().unwrap();
    let server = Arc::new(Mutex::new(MiniServer::new("placeholder")));
    let shared = Arc::clone(&server);
    let (port, _) = serve(Some(ca.server_config(false)), move |target, body| {
        shared.lock().unwrap().handle(target, body)
    });
    server.lock().unwrap().host = format!("127.0.0.1:{port}");
    let url = || server.lock().unwrap().issue_url();

    // Without the CA the certificate is refused: a network failure, exit code 4.
    let refused = sqrl(&dir, &["login", "--yes", &url()], &[]);
    assert_eq!(
        refused.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(server.lock().unwrap().log.is_empty());

    // With --ca-cert, and with SQRL_CA_CERT.
    let flag = sqrl(&dir, &["login", "--yes", "--ca-cert", ca_path, &url()], &[]);
    assert!(
        flag.status.success(),
        "{}",
        String::from_utf8_lossy(&flag.stderr)
    );
    let env = sqrl(
        &dir,
        &["login", "--yes", &url()],
        &[("SQRL_CA_CERT", ca_path)],
    );
    assert!(
        env.status.success(),
        "{}",
        String::from_utf8_lossy(&env.stderr)
    );
    assert_eq!(
        server.lock().unwrap().log,
        ["query 4", "ident 5", "query 5", "ident 5"]
    );

    // A CA file that cannot be used is bad input, named in the message, before any request.
    let missing = dir.join("missing.pem");
    let bad = sqrl(
        &dir,
        &[
            "login",
            "--yes",
            "--ca-cert",
            missing.to_str().unwrap(),
            &url(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("missing.pem"), "{stderr}");
    assert_eq!(server.lock().unwrap().log.len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Before, the hint on a certificate from an unknown issuer pointed at
/// `--danger-loopback-http` (plain HTTP) instead of `--ca-cert`.
#[test]
fn unknown_issuer_hint_points_at_ca_cert_not_danger_loopback_http() {
    let dir = temp_dir("hint");
    let made = sqrl(
        &dir,
        &["identity", "new", "--enscrypt-iterations", "2"],
        &[],
    );
    assert!(made.status.success());
    let ca = TestCa::new("sqrl-rs CLI test CA");
    let server = Arc::new(Mutex::new(MiniServer::new("placeholder")));
    let shared = Arc::clone(&server);
    let (port, _) = serve(Some(ca.server_config(false)), move |target, body| {
        shared.lock().unwrap().handle(target, body)
    });
    server.lock().unwrap().host = format!("127.0.0.1:{port}");
    let url = server.lock().unwrap().issue_url();
    let refused = sqrl(&dir, &["login", "--yes", &url], &[]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{message}");
    assert!(message.contains("--ca-cert"), "{message}");
    assert!(!message.contains("--danger-loopback-http"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! A running `sqrl-site`, as the site's own tests, the several-instances test and the
//! end-to-end tests start it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::process::binary;
use crate::wait::wait_until;

/// A running `sqrl-site`, killed when dropped.
#[derive(Debug)]
pub struct SiteProcess {
    child: Child,
    /// `http(s)://127.0.0.1:port`, where it listens.
    pub base: String,
    /// Its plain-HTTP redirect listener, with `--http-redirect-bind`.
    pub redirect: Option<String>,
    /// Its metrics URL (`http://…/metrics`), with `--metrics-bind`.
    pub metrics: Option<String>,
    /// What it printed on standard output until it was ready.
    pub printed: String,
    /// Its directory (database, TLS files).
    pub dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Drop for SiteProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl SiteProcess {
    /// Starts the built `sqrl-site` with `args`, on a free loopback port unless they say
    /// `--bind`, on `dir/site.sqlite` unless they say `--database`; returns once it printed
    /// where it listens (and, as asked, its redirect listener and its CA's notes).
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    /// [`start`](Self::start) with environment variables (`RUST_LOG`, say).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary("sqrl-site"));
        if !args.contains(&"--bind") {
            command.args(["--bind", "127.0.0.1:0"]);
        }
        if !args.contains(&"--database") {
            command.arg("--database").arg(dir.join("site.sqlite"));
        }
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buffer) {
                if let (Ok(mut text), Some(read)) = (sink.lock(), buffer.get(..n)) {
                    text.push_str(&String::from_utf8_lossy(read));
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let wants_redirect = args.contains(&"--http-redirect-bind");
        let wants_notes = args.contains(&"--tls-self-signed");
        let wants_metrics = args.contains(&"--metrics-bind");
        let mut base = None;
        let mut redirect = None;
        let mut metrics = None;
        let mut printed = String::new();
        while base.is_none()
            || (wants_redirect && redirect.is_none())
            || (wants_metrics && metrics.is_none())
            || (wants_notes && !printed.contains("a browser:"))
        {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
                let log = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("sqrl-site printed no address: {printed}\n{log}");
            };
            let url = |prefix: &str| {
                line.split_whitespace()
                    .find(|w| w.starts_with(prefix))
                    .map(str::to_owned)
            };
            if line.starts_with("sqrl-site listening on ") {
                base = url("http");
            } else if line.starts_with("sqrl-site redirecting ") {
                redirect = url("http://");
            } else if line.starts_with("sqrl-site metrics on ") {
                metrics = url("http://");
            }
            printed.push_str(&line);
            printed.push('\n');
        }
        // Keep draining what it prints.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Self {
            child,
            base: base.unwrap(),
            redirect,
            metrics,
            printed,
            dir: dir.to_owned(),
            stderr,
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.split("://").nth(1).unwrap().parse().unwrap()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills it at once (SIGKILL: no draining, as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends it SIGTERM (what systemd, Docker and Kubernetes send to stop a service), with
    /// the `kill` command.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits up to `limit` for it to exit; its exit status, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut exit = None;
        wait_until(limit, || {
            exit = self.child.try_wait().unwrap();
            exit.is_some()
        });
        exit
    }

    /// What it has logged (standard error) so far.
    pub fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits up to `limit` for its log to contain `text`; the log then.
    pub fn wait_for_log(&self, text: &str, limit: Duration) -> String {
        let mut log = String::new();
        wait_until(limit, || {
            log = self.log();
            log.contains(text)
        });
        log
    }
}

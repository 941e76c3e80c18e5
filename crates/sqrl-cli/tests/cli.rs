//! The `sqrl` binary against a small SQRL server on loopback, written for the test (the
//! sqrl-client test server behind a minimal HTTP/1.1 loop; no code from the server crate):
//! a new and a known identity, re-key with pidk/urs, disable → enable with the rescue code,
//! ask/btn, CPS, a QR code read from a PNG, remove; and the exit codes of failures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../sqrl-client/tests/common/mini_server.rs"]
mod mini_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mini_server::MiniServer;
use sqrl_proto::{Ask, Button, RequestBody, ServerParams, Tif};
use sqrl_testkit::wait_until;

type Shared = Arc<Mutex<MiniServer>>;

/// Serves `server` over HTTP/1.1 on a free loopback port; one request per connection.
fn serve(respond: impl Fn(&str, &str) -> (u16, String) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let (status, reply) = respond(&target, &String::from_utf8_lossy(&body));
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    port
}

fn start() -> (Shared, u16) {
    start_gated(Arc::new(AtomicBool::new(true)))
}

/// Like [`start`], but every request waits (up to 20 s) until `open` is set: the test decides
/// when the client gets its answer.
fn start_gated(open: Arc<AtomicBool>) -> (Shared, u16) {
    let server = Arc::new(Mutex::new(MiniServer::new("placeholder")));
    let shared = Arc::clone(&server);
    let port = serve(move |target, body| {
        wait_until(std::time::Duration::from_secs(20), || {
            open.load(Ordering::SeqCst)
        });
        (200, handle(&shared, target, body))
    });
    server.lock().unwrap().host = format!("127.0.0.1:{port}");
    (server, port)
}

/// The mini server, answering an `ident` with the second button (the "Cancel" of a login
/// question) the way the project's server does: the command fails and nobody is logged in.
fn handle(shared: &Shared, target: &str, body: &str) -> String {
    let declined = RequestBody::parse(body.as_bytes())
        .ok()
        .and_then(|b| b.client().ok())
        .is_some_and(|c| c.command == sqrl_proto::Command::Ident && c.btn == Some(Button::Second));
    let mut server = shared.lock().unwrap();
    let (accounts, superseded) = (server.accounts.clone(), server.superseded.clone());
    let reply = server.handle(target, body);
    if !declined {
        return reply;
    }
    // Nothing changes; the log says what happened.
    server.accounts = accounts;
    server.superseded = superseded;
    if let Some(last) = server.log.last_mut() {
        *last = "ident declined".into();
    }
    let mut params = ServerParams::decode(&reply).unwrap();
    params.tif |= Tif::COMMAND_FAILED;
    params.encode().unwrap()
}

/// The login question the project's server asks.
fn login_question() -> Ask {
    Ask::new("Log in to 127.0.0.1 in Firefox on Linux from 127.0.0.1?")
        .with_button("Log in", None)
        .unwrap()
        .with_button("Cancel", None)
        .unwrap()
}

fn temp_dir() -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sqrl-cli-test-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Client {
    identity: PathBuf,
    password: String,
    rescue_code: String,
}

impl Client {
    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sqrl"));
        command
            .args(args)
            .arg("--danger-loopback-http")
            .env("SQRL_IDENTITY", &self.identity)
            .env("SQRL_PASSWORD", &self.password)
            .env("SQRL_RESCUE_CODE", &self.rescue_code)
            .env_remove("SQRL_NEW_PASSWORD");
        for (k, v) in extra_env {
            command.env(k, v);
        }
        command.output().unwrap()
    }

    /// Runs with `input` piped to standard input (as a script answers the questions).
    fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_sqrl"))
            .args(args)
            .arg("--danger-loopback-http")
            .env("SQRL_IDENTITY", &self.identity)
            .env("SQRL_PASSWORD", &self.password)
            .env("SQRL_RESCUE_CODE", &self.rescue_code)
            .env_remove("SQRL_NEW_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], extra_env: &[(&str, &str)]) -> String {
        let out = self.run(args, extra_env);
        assert!(
            out.status.success(),
            "sqrl {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "sqrl {args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("sqrl: ")).collect();
        assert_eq!(errors.len(), 1, "one error sentence: {stderr}");
        assert_eq!(stderr.lines().last(), errors.first().copied(), "{stderr}");
        errors[0].to_owned()
    }

    fn create(dir: &Path) -> Self {
        let mut client = Client {
            identity: dir.join("identity.sqrl"),
            password: "correct horse battery".into(),
            rescue_code: String::new(),
        };
        let out = client.ok(
            &["identity", "new", "--enscrypt-iterations", "2"],
            &[("SQRL_NEW_PASSWORD", "correct horse battery")],
        );
        client.rescue_code = rescue_code_in(&out);
        client
    }
}

fn rescue_code_in(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Rescue code: "))
        .expect("rescue code printed");
    line.trim_start_matches("Rescue code: ").to_owned()
}

/// Draws `text` as a QR code PNG (6 pixels a module, 4-module quiet zone).
fn qr_png(text: &str, path: &Path) {
    let code = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).unwrap();
    let (size, scale, quiet) = (code.size() as u32, 6, 4);
    let side = (size + 2 * quiet) * scale;
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (
            (x / scale) as i64 - i64::from(quiet),
            (y / scale) as i64 - i64::from(quiet),
        );
        let inside = (0..i64::from(size)).contains(&mx) && (0..i64::from(size)).contains(&my);
        let dark = inside && code.get_module(mx as i32, my as i32);
        image::Luma([if dark { 0 } else { 255 }])
    });
    image.save(path).unwrap();
}

fn login_url(server: &Shared) -> String {
    server.lock().unwrap().issue_url()
}

#[test]
fn new_known_rekey_disable_enable_ask_cps_qr_remove() {
    let (server, _) = start();
    let dir = temp_dir();
    let mut client = Client::create(&dir);
    assert_eq!(client.rescue_code.len(), 29);

    // New identity, then known.
    client.ok(&["login", "--yes", &login_url(&server)], &[]);
    client.ok(&["login", "--yes", &login_url(&server)], &[]);
    {
        let s = server.lock().unwrap();
        assert_eq!(s.log, ["query 4", "ident 5", "query 5", "ident 5"]);
        assert_eq!(s.accounts.values().next().unwrap().logins, 2);
    }

    // Re-key: the site learns the new identity through pidk/pids/urs.
    let out = client.ok(
        &["identity", "rekey", "--enscrypt-iterations", "2"],
        &[("SQRL_NEW_PASSWORD", "correct horse battery")],
    );
    let new_code = rescue_code_in(&out);
    assert_ne!(new_code, client.rescue_code);
    client.rescue_code = new_code;
    server.lock().unwrap().log.clear();
    client.ok(&["login", "--yes", &login_url(&server)], &[]);
    {
        let s = server.lock().unwrap();
        assert_eq!(s.log, ["query 6", "ident 5"]);
        assert_eq!(s.superseded.len(), 1);
        assert_eq!(s.accounts.len(), 1);
    }

    // Disable, then login is refused; enable needs the (new) rescue code.
    client.ok(&["disable", "--yes", &login_url(&server)], &[]);
    let message = client.fails(&["login", "--yes", &login_url(&server)], 5);
    assert!(message.contains("disabled"), "{message}");
    client.ok(&["enable", "--yes", &login_url(&server)], &[]);
    client.ok(&["login", "--yes", &login_url(&server)], &[]);

    // ask/btn
    server.lock().unwrap().ask = Some(
        Ask::new("Log in from Firefox on Linux?")
            .with_button("Yes", None)
            .unwrap()
            .with_button("No", None)
            .unwrap(),
    );
    let out = client.run(
        &["login", "--yes", "--button", "1", &login_url(&server)],
        &[],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Log in from Firefox on Linux?"));
    assert_eq!(
        server.lock().unwrap().buttons.last(),
        Some(&Some(Button::First))
    );
    // The second button is this site's "No": the site declines, and that is a cancellation.
    client.fails(&["login", "--yes", "--button", "2", &login_url(&server)], 6);
    assert_eq!(
        server.lock().unwrap().buttons.last(),
        Some(&Some(Button::Second))
    );
    server.lock().unwrap().ask = None;

    // CPS prints the address that opens the session.
    let stdout = client.ok(&["login", "--yes", "--cps", &login_url(&server)], &[]);
    let token = server.lock().unwrap().cps_tokens.last().cloned().unwrap();
    assert!(
        stdout.trim().ends_with(&format!("/cps?token={token}")),
        "{stdout}"
    );

    // A QR code read from a picture.
    let url = login_url(&server);
    let png = dir.join("qr.png");
    qr_png(&url, &png);
    server.lock().unwrap().log.clear();
    client.ok(&["login", "--yes", "--qr", png.to_str().unwrap()], &[]);
    assert_eq!(server.lock().unwrap().log, ["query 5", "ident 5"]);

    // Remove with the rescue code: the site forgets the identity.
    client.ok(&["remove", "--yes", &login_url(&server)], &[]);
    assert!(server.lock().unwrap().accounts.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn failures_have_one_sentence_and_an_exit_code() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    let wrong = Client {
        identity: client.identity.clone(),
        password: "wrong password".into(),
        rescue_code: String::new(),
    };
    wrong.fails(&["login", "--yes", &login_url(&server)], 3);
    client.fails(&["login", "--yes", "https://example.com/"], 7);
    client.fails(&["login", "--yes", "--qr", "/nonexistent.png"], 7);
    // Enable without a rescue code in the environment and no terminal.
    let no_code = Client {
        rescue_code: "1234".into(),
        ..Client {
            identity: client.identity.clone(),
            password: client.password.clone(),
            rescue_code: String::new(),
        }
    };
    no_code.fails(&["enable", "--yes", &login_url(&server)], 3);
    // Nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    client.fails(
        &[
            "login",
            "--yes",
            &format!("sqrl://127.0.0.1:{closed}/sqrl?nut=x"),
        ],
        4,
    );
    // A web server that is not a SQRL server.
    let html = serve(|_, _| (404, "<html>not here</html>".into()));
    client.fails(
        &[
            "login",
            "--yes",
            &format!("sqrl://127.0.0.1:{html}/sqrl?nut=x"),
        ],
        4,
    );
    let garbage = serve(|_, _| (200, "<html>hello</html>".into()));
    client.fails(
        &[
            "login",
            "--yes",
            &format!("sqrl://127.0.0.1:{garbage}/sqrl?nut=x"),
        ],
        4,
    );
    let huge = serve(|_, _| (200, "A".repeat(100_000)));
    let message = client.fails(
        &[
            "login",
            "--yes",
            &format!("sqrl://127.0.0.1:{huge}/sqrl?nut=x"),
        ],
        4,
    );
    assert!(message.contains("too large"), "{message}");
    // Without --yes and without a terminal, the prompt cancels.
    client.fails(&["login", &login_url(&server)], 6);
    assert!(server.lock().unwrap().accounts.is_empty());
    // Plain HTTP is refused without the danger flag.
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(["login", "--yes", &login_url(&server)])
        .env("SQRL_IDENTITY", &client.identity)
        .env("SQRL_PASSWORD", &client.password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Before, a site answering `tif=80` (a client failure, without `0x40`) got "New account
/// created… Logged in" and exit 0, and `disable` said "disabled", while nothing happened.
#[test]
fn tif_0x80_without_0x40_is_not_a_success() {
    let server = Arc::new(Mutex::new(MiniServer::new("placeholder")));
    let shared = Arc::clone(&server);
    let port = serve(move |target, body| {
        let acts = RequestBody::parse(body.as_bytes())
            .ok()
            .and_then(|b| b.client().ok())
            .is_some_and(|c| c.command != sqrl_proto::Command::Query);
        let reply = shared.lock().unwrap().handle(target, body);
        if !acts {
            return (200, reply);
        }
        let mut params = ServerParams::decode(&reply).unwrap();
        params.tif = Tif::CLIENT_FAILURE;
        (200, params.encode().unwrap())
    });
    server.lock().unwrap().host = format!("127.0.0.1:{port}");
    let dir = temp_dir();
    let client = Client::create(&dir);
    for command in ["login", "disable"] {
        let out = client.run(&[command, "--yes", &login_url(&server)], &[]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(5), "{command}: {all}");
        assert!(!all.contains("Logged in"), "{command}: {all}");
        assert!(!all.contains("New account"), "{command}: {all}");
        assert!(error_line(&out).contains("could not accept"), "{all}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Before, under `--danger-loopback-http` a path-only `url=` became `https://127.0.0.1:…`
/// while the site was reached over `http://`: the browser was sent where nothing listens.
#[test]
fn a_path_only_url_follows_the_request_scheme_under_danger_loopback_http() {
    let (server, port) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    server.lock().unwrap().url_override = Some("/account?welcome=1".into());
    let stdout = client.ok(&["login", "--yes", "--cps", &login_url(&server)], &[]);
    assert_eq!(
        stdout.trim(),
        format!("http://127.0.0.1:{port}/account?welcome=1")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn export_and_import_round_trip() {
    let dir = temp_dir();
    let client = Client::create(&dir);
    let text = client.ok(&["identity", "export"], &[]);
    assert!(text.starts_with("SQRLDATA"));
    let textual = client.ok(&["identity", "export", "--format", "textual"], &[]);
    assert_eq!(textual.trim().lines().count(), 6);
    let paper = dir.join("paper.txt");
    std::fs::write(&paper, &textual).unwrap();
    // Import the printed form into a new file: needs the rescue code and a new password.
    let restored = Client {
        identity: dir.join("restored.sqrl"),
        password: "another password".into(),
        rescue_code: client.rescue_code.clone(),
    };
    restored.ok(
        &[
            "identity",
            "import",
            paper.to_str().unwrap(),
            "--enscrypt-iterations",
            "1",
        ],
        &[("SQRL_NEW_PASSWORD", "another password")],
    );
    let site = "sqrl://example.com/sqrl?nut=x";
    let a = client.ok(&["identity", "show", "--site", site], &[]);
    let b = restored.ok(&["identity", "show", "--site", site], &[]);
    let idk = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("idk:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(idk(&a), idk(&b));
    // A typo in the printed form names its line.
    // Lines are 24 characters plus a newline: byte 26 is the second character of line 2.
    // A line's check character catches a changed character 55 times in 56, so a typo that
    // happens to pass it is tried again with another character (the flake this pins).
    let mut messages = Vec::new();
    for replacement in [b'2', b'3', b'4'] {
        let mut typo = textual.clone().into_bytes();
        if typo[26] == replacement {
            continue;
        }
        typo[26] = replacement;
        std::fs::write(&paper, typo).unwrap();
        let message = restored.fails(
            &["identity", "import", "--force", paper.to_str().unwrap()],
            3,
        );
        if message.contains("line 2") {
            messages.clear();
            break;
        }
        messages.push(message);
    }
    assert!(messages.is_empty(), "no typo named line 2: {messages:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn verbose_output_carries_no_secrets() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    let out = client.run(&["-vv", "login", "--yes", &login_url(&server)], &[]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sqrl request"), "tracing is on: {stderr}");
    let digits: String = client
        .rescue_code
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    for secret in [
        client.password.as_str(),
        client.rescue_code.as_str(),
        digits.as_str(),
    ] {
        assert!(!stderr.contains(secret), "secret in output: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_for_every_command() {
    for command in COMMANDS {
        let out = help(command);
        assert!(out.status.success(), "{command:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{command:?}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sqrl"));
}

/// Every `sqrl` command, as the words that name it (the top level has none).
const COMMANDS: &[&[&str]] = &[
    &[],
    &["identity"],
    &["identity", "new"],
    &["identity", "import"],
    &["identity", "export"],
    &["identity", "show"],
    &["identity", "rekey"],
    &["identity", "change-password"],
    &["login"],
    &["disable"],
    &["enable"],
    &["remove"],
    &["cps"],
    &["check"],
    &["completions"],
];

/// `sqrl <command> --help`.
fn help(command: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(command)
        .arg("--help")
        .output()
        .unwrap()
}

/// The subcommands `sqrl <command> --help` lists under "Commands:" (without `help`).
fn listed_subcommands(command: &[&str]) -> Vec<String> {
    let out = help(command);
    let text = String::from_utf8_lossy(&out.stdout);
    let Some((_, listed)) = text.split_once("Commands:\n") else {
        return Vec::new();
    };
    listed
        .lines()
        .take_while(|line| !line.trim().is_empty())
        // A name starts two columns in; a wrapped description further.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_command_list_is_every_command_the_binary_has() {
    let mut found: Vec<Vec<String>> = vec![Vec::new()];
    let mut next = 0;
    while let Some(command) = found.get(next).cloned() {
        next += 1;
        let words: Vec<&str> = command.iter().map(String::as_str).collect();
        for name in listed_subcommands(&words) {
            let mut child = command.clone();
            child.push(name);
            found.push(child);
        }
    }
    let mut listed: Vec<Vec<String>> = COMMANDS
        .iter()
        .map(|c| c.iter().map(|w| (*w).to_owned()).collect())
        .collect();
    found.sort();
    listed.sort();
    assert_eq!(found, listed, "COMMANDS and the binary's help disagree");
}

/// Status, lower-cased headers and body of a raw HTTP response.
type RawResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// A raw HTTP GET on loopback; `None` when the server closes without answering.
fn raw_get(port: u16, path: &str, origin: Option<&str>) -> Option<RawResponse> {
    use std::net::TcpStream;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{origin}\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    if raw.is_empty() {
        return None;
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(a, b)| (a.to_ascii_lowercase(), b.to_owned()))
        .collect();
    Some((status, headers, raw[split + 4..].to_vec()))
}

#[test]
fn cps_serves_the_localhost_protocol() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args([
            "cps",
            "--once",
            "--yes",
            "--danger-loopback-http",
            "--port",
            &port.to_string(),
        ])
        .env("SQRL_IDENTITY", &client.identity)
        .env("SQRL_PASSWORD", &client.password)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait until it listens
    let mut probe = None;
    wait_until(std::time::Duration::from_secs(5), || {
        probe = raw_get(port, "/1700000000.gif", None);
        probe.is_some()
    });
    let (status, headers, body) = probe.expect("sqrl cps answers the GIF probe");
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "image/gif"));
    assert_eq!(&body[..6], b"GIF89a");
    // A script (any request with an Origin header) gets no answer at all.
    let url = login_url(&server);
    let link = format!(
        "{url}&can={}",
        sqrl_proto::b64::encode("https://example.com/login")
    );
    let encoded = sqrl_proto::b64::encode(&link);
    assert!(raw_get(port, &format!("/{encoded}"), Some("https://evil.example")).is_none());
    assert!(
        server.lock().unwrap().log.is_empty(),
        "nothing was sent to the site"
    );
    // A link the client refuses says why (before: only "That is not a SQRL login link").
    let refused = sqrl_proto::b64::encode(format!(
        "{url}&can={}",
        sqrl_proto::b64::encode("javascript:alert(1)")
    ));
    let (status, _, body) = raw_get(port, &format!("/{refused}"), None).unwrap();
    assert_eq!(status, 200);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("invalid can= cancel URL"), "{body}");
    // The page's navigation: a CPS login, then a redirect to the site's session link.
    let (status, headers, _) = raw_get(port, &format!("/{encoded}"), None).unwrap();
    assert_eq!(status, 302);
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .unwrap()
        .1
        .clone();
    let token = server.lock().unwrap().cps_tokens.last().cloned().unwrap();
    assert!(
        location.ends_with(&format!("/cps?token={token}")),
        "{location}"
    );
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The one `sqrl: ` line of a failed run's stderr.
fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("sqrl: ")).collect();
    assert_eq!(errors.len(), 1, "one error sentence: {stderr}");
    errors[0].to_owned()
}

#[test]
fn choosing_the_sites_cancel_button_is_a_cancellation_not_a_refusal() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    server.lock().unwrap().ask = Some(login_question());
    let out = client.run_with_input(&["login", &login_url(&server)], "2\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[2] Cancel"), "{stderr}");
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    let message = error_line(&out);
    assert!(
        message.contains("Login cancelled; the site was told"),
        "{message}"
    );
    assert!(!message.contains("tif"), "{message}");
    assert!(!message.contains("refused"), "{message}");
    assert_eq!(server.lock().unwrap().log, ["query 4", "ident declined"]);
    assert!(server.lock().unwrap().accounts.is_empty());
    // Cancelling at our own prompt (a new user: the site asks nothing) tells the site with
    // one query carrying btn=2, and signs nothing that acts. Before, nothing was sent and the
    // site's login page waited until the code expired.
    server.lock().unwrap().ask = None;
    server.lock().unwrap().log.clear();
    let out = client.run_with_input(&["login", &login_url(&server)], "no\n");
    assert_eq!(out.status.code(), Some(6));
    let message = error_line(&out);
    assert!(
        message.contains("Login cancelled; the site was told"),
        "{message}"
    );
    let s = server.lock().unwrap();
    assert_eq!(s.log, ["query 4", "query 4"]);
    assert_eq!(s.query_buttons.last(), Some(&Some(Button::Second)));
    assert!(s.accounts.is_empty());
    drop(s);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn errors_say_what_happened_and_what_to_do_not_the_protocol() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    // An expired or truncated code: the server answers "transient error" twice.
    server.lock().unwrap().transient = 2;
    let message = client.fails(&["login", "--yes", &login_url(&server)], 5);
    assert!(message.contains("reload the login page"), "{message}");
    assert!(!message.contains("transient"), "{message}");
    assert!(!message.contains("tif"), "{message}");
    // A link cut short before its nut.
    let message = client.fails(&["login", "--yes", "sqrl://example.com/sqrl"], 7);
    assert!(message.contains("incomplete"), "{message}");
    assert!(message.contains("copy the whole link"), "{message}");
    // The site does not know this identity.
    let message = client.fails(&["disable", "--yes", &login_url(&server)], 5);
    assert!(message.contains("does not know your identity"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_link_is_reported_before_the_password_is_asked() {
    let dir = temp_dir();
    let client = Client::create(&dir);
    // No password in the environment and no terminal: asking for it would fail with exit 3.
    for link in [
        "sqrl://example.com/sqrl",
        "https://example.com/",
        "sqrl://exa mple",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
            .args(["login", "--yes", link])
            .env("SQRL_IDENTITY", &client.identity)
            .env_remove("SQRL_PASSWORD")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(7), "{link}: {out:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn not_a_sqrl_url_is_said_once() {
    let dir = temp_dir();
    let client = Client::create(&dir);
    for (link, expected) in [
        ("https://example.com/login", "web address"),
        ("example.com", "starts with sqrl://"),
    ] {
        let message = client.fails(&["login", "--yes", link], 7);
        assert!(message.contains(expected), "{message}");
        assert_eq!(
            message.to_lowercase().matches("not a sqrl").count(),
            1,
            "said once: {message}"
        );
        assert!(
            !message.contains("not a SQRL URL: not a SQRL URL"),
            "{message}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn disable_and_remove_ask_about_their_own_action_not_the_sites_login_question() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    client.ok(&["login", "--yes", &login_url(&server)], &[]);
    server.lock().unwrap().ask = Some(login_question());

    // remove, answered "no": nothing changes.
    let out = client.run_with_input(&["remove", &login_url(&server)], "n\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("Remove your identity from 127.0.0.1?"),
        "{stderr}"
    );
    assert!(!stderr.contains("[1] Log in"), "{stderr}");
    assert!(error_line(&out).contains("nothing was changed"), "{stderr}");
    assert_eq!(server.lock().unwrap().accounts.len(), 1);

    // disable, answered "y": disabled.
    let out = client.run_with_input(&["disable", &login_url(&server)], "y\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Disable SQRL login for your identity at 127.0.0.1?"),
        "{stderr}"
    );
    assert!(!stderr.contains("[1] Log in"), "{stderr}");
    assert!(!stderr.contains("[2] Cancel"), "{stderr}");
    assert!(server.lock().unwrap().accounts.values().all(|a| a.disabled));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_loopback_site_over_plain_http_hints_at_the_danger_flag() {
    let (server, _) = start();
    let dir = temp_dir();
    let client = Client::create(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(["login", "--yes", &login_url(&server)])
        .env("SQRL_IDENTITY", &client.identity)
        .env("SQRL_PASSWORD", &client.password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let message = error_line(&out);
    assert!(message.contains("--danger-loopback-http"), "{message}");
    // ... and --help lists the flag, marked as dangerous.
    let help = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let line = help
        .lines()
        .skip_while(|l| !l.contains("--danger-loopback-http"))
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(line.contains("DANGEROUS"), "{help}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn identity_show_site_accepts_a_host_or_address_without_a_nut() {
    let dir = temp_dir();
    let client = Client::create(&dir);
    let idk = |site: &str| {
        client
            .ok(&["identity", "show", "--site", site], &[])
            .lines()
            .find(|l| l.starts_with("idk:"))
            .unwrap()
            .to_owned()
    };
    let reference = idk("sqrl://example.com/sqrl?nut=abc");
    for site in [
        "example.com",
        "EXAMPLE.com",
        "https://example.com/login",
        "sqrl://example.com/sqrl",
    ] {
        assert_eq!(idk(site), reference, "{site}");
    }
    // x= still chooses a different key.
    assert_ne!(idk("sqrl://example.com/app/sqrl?x=4"), reference);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cps_fails_fast_when_its_port_is_taken() {
    let dir = temp_dir();
    let client = Client::create(&dir);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    // No password in the environment and no terminal: the port must fail first.
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(["cps", "--port", &port])
        .env("SQRL_IDENTITY", &client.identity)
        .env_remove("SQRL_PASSWORD")
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let message = error_line(&out);
    assert!(message.contains("already in use"), "{message}");
    assert!(message.contains("another `sqrl cps`"), "{message}");
    drop(taken);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn completions_help_says_where_to_install_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .args(["completions", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "bash-completion/completions/sqrl",
        "_sqrl",
        "fish/completions/sqrl.fish",
        "$PROFILE",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}

/// Every `--flag` and `SQRL_` variable in the README's sections about the `sqrl` command.
fn readme_sqrl_words() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let mut text = String::new();
    for section in readme.split("\n## ").skip(1) {
        let title = section.lines().next().unwrap_or_default();
        if title.contains("`sqrl` command") || title.contains("Logging in to the local site") {
            for line in section.lines() {
                // cargo's own flags are not the command's: only what follows ` -- ` counts.
                let line = match line.contains("cargo ") {
                    true => line.rsplit_once(" -- ").map_or("", |(_, args)| args),
                    false => line,
                };
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(text.contains("sqrl login"), "README sections found");
    let mut words: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| (w.starts_with("--") && w.len() > 2) || (w.starts_with("SQRL_") && w.len() > 5))
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// The help of every `sqrl` command, concatenated.
fn all_help() -> String {
    let mut text = String::new();
    for command in COMMANDS {
        text.push_str(&String::from_utf8_lossy(&help(command).stdout));
    }
    text
}

#[test]
fn readme_and_help_agree_on_flags_and_environment_variables() {
    let words = readme_sqrl_words();
    assert!(words.iter().any(|w| w == "SQRL_PASSWORD"), "{words:?}");
    let help = all_help();
    for word in &words {
        assert!(
            help.contains(word.as_str()),
            "README names {word}; no --help does"
        );
    }
    // The other way: each global flag and environment variable of `sqrl --help` is in the
    // README.
    let out = Command::new(env!("CARGO_BIN_EXE_sqrl"))
        .arg("--help")
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&out.stdout);
    let mut named: Vec<&str> = top
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| (w.starts_with("--") && w.len() > 2) || w.starts_with("SQRL_"))
        .filter(|w| !matches!(*w, "--help" | "--version" | "--verbose"))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.contains(&"--identity"), "{top}");
    for word in named {
        assert!(
            words.iter().any(|w| w == word),
            "sqrl --help names {word}; the README does not"
        );
    }
}

#[cfg(unix)]
mod terminal {
    //! The same binary at a terminal: a pseudo-terminal from `rexpect` stands in for a person.

    use super::*;
    use rexpect::process::WaitStatus;
    use rexpect::session::PtySession;

    /// `sqrl args` at a terminal; no secret in the environment.
    fn at_terminal(client: &Client, args: &[&str]) -> PtySession {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sqrl"));
        command
            .args(args)
            .arg("--danger-loopback-http")
            .env("SQRL_IDENTITY", &client.identity)
            .env("TERM", "dumb")
            .env_remove("SQRL_PASSWORD")
            .env_remove("SQRL_NEW_PASSWORD")
            .env_remove("SQRL_RESCUE_CODE");
        rexpect::session::spawn_command(command, Some(20_000)).unwrap()
    }

    /// Waits for the end and returns the exit code and the rest of the output.
    fn finish(mut session: PtySession) -> (i32, String) {
        let rest = session.exp_eof().unwrap_or_default();
        match session.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => (code, rest),
            other => panic!("sqrl did not exit: {other:?}"),
        }
    }

    #[test]
    fn keys_typed_ahead_do_not_answer_the_login_question() {
        let open = Arc::new(AtomicBool::new(false));
        let (server, _) = start_gated(Arc::clone(&open));
        let dir = temp_dir();
        let client = Client::create(&dir);
        server.lock().unwrap().ask = Some(login_question());
        let mut sqrl = at_terminal(&client, &["login", &login_url(&server)]);
        sqrl.exp_string("Password: ").unwrap();
        sqrl.send_line(&client.password).unwrap();
        // Typed while the password is stretched and the site answers: before the question.
        sqrl.send_line("1").unwrap();
        // The keys must sit typed ahead while the client waits for the site: a pause is the
        // point (the client says nothing while it waits).
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(std::time::Duration::from_millis(300));
        open.store(true, Ordering::SeqCst);
        sqrl.exp_string("[1] Log in").unwrap();
        sqrl.exp_string("Choose 1-2").unwrap();
        // The question is on the screen now; the answer typed after it counts.
        sqrl.send_line("x").unwrap();
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 6, "{rest}");
        let s = server.lock().unwrap();
        assert!(s.buttons.is_empty(), "nothing was approved");
        // Only the query that tells the site the user cancelled followed.
        assert_eq!(s.log, ["query 4", "query 4"]);
        assert_eq!(s.query_buttons, [None, Some(Button::Second)]);
        assert!(s.accounts.is_empty());
        drop(s);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_wrong_password_is_asked_again_at_a_terminal() {
        let dir = temp_dir();
        let client = Client::create(&dir);
        let show = ["identity", "show", "--site", "example.com"];
        let mut sqrl = at_terminal(&client, &show);
        sqrl.exp_string("Password: ").unwrap();
        sqrl.send_line("not the password").unwrap();
        sqrl.exp_string("Wrong password; try again (2 left)")
            .unwrap();
        sqrl.exp_string("Password: ").unwrap();
        sqrl.send_line(&client.password).unwrap();
        sqrl.exp_string("idk:").unwrap();
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 0, "{rest}");
        // Three wrong ones end it.
        let mut sqrl = at_terminal(&client, &show);
        for _ in 0..3 {
            sqrl.exp_string("Password: ").unwrap();
            sqrl.send_line("still not it").unwrap();
        }
        sqrl.exp_string("sqrl: Wrong password.").unwrap();
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 3, "{rest}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_wrong_rescue_code_is_asked_again_at_a_terminal() {
        let (server, _) = start();
        let dir = temp_dir();
        let client = Client::create(&dir);
        client.ok(&["login", "--yes", &login_url(&server)], &[]);
        client.ok(&["disable", "--yes", &login_url(&server)], &[]);
        let mut sqrl = at_terminal(&client, &["enable", "--yes", &login_url(&server)]);
        sqrl.exp_string("Password: ").unwrap();
        sqrl.send_line(&client.password).unwrap();
        sqrl.exp_string("Rescue code (24 digits): ").unwrap();
        sqrl.send_line("1234").unwrap();
        sqrl.exp_string("A rescue code is 24 digits").unwrap();
        sqrl.exp_string("Rescue code (24 digits): ").unwrap();
        sqrl.send_line("0000-0000-0000-0000-0000-0000").unwrap();
        sqrl.exp_string("does not open this identity; try again")
            .unwrap();
        sqrl.exp_string("Rescue code (24 digits): ").unwrap();
        sqrl.send_line(&client.rescue_code).unwrap();
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 0, "{rest}");
        assert!(server
            .lock()
            .unwrap()
            .accounts
            .values()
            .all(|a| !a.disabled));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn binary_export_is_not_written_to_a_terminal() {
        let dir = temp_dir();
        let client = Client::create(&dir);
        let sqrl = at_terminal(&client, &["identity", "export", "--format", "binary"]);
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 7, "{rest}");
        assert!(rest.contains("--output"), "{rest}");
        assert!(!rest.contains("sqrldata"), "nothing binary written: {rest}");
        // With --output it is written.
        let file = dir.join("identity.bin");
        let sqrl = at_terminal(
            &client,
            &[
                "identity",
                "export",
                "--format",
                "binary",
                "--output",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(finish(sqrl).0, 0);
        assert!(std::fs::read(&file).unwrap().starts_with(b"sqrldata"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_rescue_code_is_confirmed_before_the_identity_is_saved() {
        let dir = temp_dir();
        let client = Client {
            identity: dir.join("new.sqrl"),
            password: "correct horse battery".into(),
            rescue_code: String::new(),
        };
        let mut sqrl = at_terminal(&client, &["identity", "new", "--enscrypt-iterations", "1"]);
        sqrl.exp_string("New password: ").unwrap();
        sqrl.send_line(&client.password).unwrap();
        sqrl.exp_string("Repeat it: ").unwrap();
        sqrl.send_line(&client.password).unwrap();
        sqrl.exp_string("Rescue code: ").unwrap();
        let code = sqrl.read_line().unwrap();
        let last = code.trim().rsplit('-').next().unwrap().to_owned();
        assert_eq!(last.len(), 4, "{code}");
        sqrl.exp_string("type the last group").unwrap();
        assert!(
            !client.identity.exists(),
            "not saved before the code is confirmed"
        );
        let wrong = if last == "0000" { "1111" } else { "0000" };
        sqrl.send_line(wrong).unwrap();
        sqrl.exp_string("That is not the last group").unwrap();
        sqrl.exp_string("type the last group").unwrap();
        sqrl.send_line(&last).unwrap();
        sqrl.exp_string("Created").unwrap();
        let (code, rest) = finish(sqrl);
        assert_eq!(code, 0, "{rest}");
        assert!(client.identity.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

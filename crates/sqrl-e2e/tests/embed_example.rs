//! The embedding example (`crates/sqrl-axum/examples/embed.rs`) as a user runs it: started as
//! its own process on loopback, its home page shows the widget, the `sqrl` command logs in to a
//! code the page asked for, the browser's redemption gives a session the home page knows, and
//! logging out ends it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sqrl_testkit::{binary, example, free_port, temp_dir, Process};

const PASSWORD: &str = "correct horse battery staple";

/// `name=value` of the first `Set-Cookie` header naming `name`.
fn cookie(response: &ureq::Response, name: &str) -> String {
    response
        .all("set-cookie")
        .into_iter()
        .filter_map(|c| c.split(';').next())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

#[test]
fn the_embedding_example_logs_in_with_the_sqrl_command() {
    let dir = temp_dir("e2e-embed");
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(example("sqrl-axum", "embed"))
        .arg(&address)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _app = Process(child);
    let base = format!("http://{address}");
    assert_eq!(line.trim(), format!("listening on {base}"));
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build();

    // A visitor sees the widget; the widget asks for a code.
    let home = agent.get(&base).call().unwrap().into_string().unwrap();
    assert!(home.contains("data-sqrl-login"), "{home}");
    assert!(home.contains("/sqrl/widget.js"), "{home}");
    let new = agent.post(&format!("{base}/sqrl/new")).call().unwrap();
    let flow = cookie(&new, "sqrl_flow");
    let code: Value = serde_json::from_str(&new.into_string().unwrap()).unwrap();
    let url = code["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("sqrl://{address}/sqrl?nut=")),
        "{url}"
    );

    // The phone: a new identity, which logs in (a new account at this site) without asking.
    let identity = dir.join("phone.sqrl");
    let sqrl = |args: &[&str]| {
        let out = Command::new(binary("sqrl"))
            .args(args)
            .env("SQRL_IDENTITY", &identity)
            .env("SQRL_PASSWORD", PASSWORD)
            .env("SQRL_NEW_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "sqrl {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    sqrl(&["identity", "new", "--enscrypt-iterations", "1"]);
    sqrl(&["login", "--danger-loopback-http", "--yes", &url]);

    // The browser redeems the confirmed login (the widget does once it hears of it).
    let redeemed = agent
        .post(&format!("{base}/sqrl/redeem"))
        .set("cookie", &flow)
        .call()
        .unwrap();
    let session = cookie(&redeemed, "sqrl_session");
    let home = agent.get(&base).set("cookie", &session).call().unwrap();
    let home = home.into_string().unwrap();
    assert!(home.contains("Signed in as "), "{home}");

    // Logging out ends the session: the same cookie is a visitor again.
    let out = agent
        .post(&format!("{base}/sqrl/logout"))
        .set("cookie", &session)
        .call()
        .unwrap();
    assert_eq!(out.status(), 303, "logout redirects home");
    let home = agent.get(&base).set("cookie", &session).call().unwrap();
    assert!(home.into_string().unwrap().contains("data-sqrl-login"));
    let _ = std::fs::remove_dir_all(&dir);
}

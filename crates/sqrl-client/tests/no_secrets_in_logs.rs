//! Secrets never reach logs or `Debug` output: every tracing event at TRACE level during
//! identity creation, unlock, re-key and full exchanges (new association, re-key with `urs`,
//! enable with the rescue code) is captured and scanned for every secret in hex, base64url and
//! raw form, and so is the `Debug` output of every value that holds one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::mini_server::MiniServer;
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Step};
use sqrl_client::keys::Rlk;
use sqrl_client::{Identity, Password, Stretch};
use sqrl_proto::{b64, SqrlUrl};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn drive(server: &mut MiniServer, keys: &Keys, action: Action, debug: &mut String) {
    let url = SqrlUrl::parse(&server.issue_url()).unwrap();
    let (mut exchange, mut request) = Exchange::start(
        url,
        action,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    loop {
        let path = &request.url[request.url.find("/sqrl").unwrap()..];
        let reply = server.handle(path, &request.body);
        let mut step = exchange.receive(&reply).unwrap();
        debug.push_str(&format!("{exchange:?}\n{step:?}\n"));
        if let Step::Confirm(_) = step {
            step = exchange.decide(Decision::Approve).unwrap();
        }
        match step {
            Step::Send(next) => request = next,
            Step::Done(_) => return,
            Step::Confirm(_) => unreachable!(),
        }
    }
}

#[test]
fn secrets_never_reach_logs_or_debug() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut debug = String::new();
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("capture works");
        let password = Password::new("a very secret passphrase");
        let fast = Stretch::Iterations(1);
        let (identity, code) = Identity::create(&password, fast, &mut OsRng, &mut |_| {}).unwrap();
        let mut server = MiniServer::new("example.com");

        let unlocked = identity.unlock(&password, &mut |_| {}).unwrap();
        let keys = Keys::from_unlocked(&unlocked);
        drive(&mut server, &keys, Action::Login, &mut debug);

        let (rekeyed, new_code) = identity
            .rekey(&code, &password, fast, &mut OsRng, &mut |_| {})
            .unwrap();
        let unlocked2 = rekeyed.unlock(&password, &mut |_| {}).unwrap();
        let iuk2 = rekeyed.recover(&new_code, &mut |_| {}).unwrap();
        let keys2 = Keys::from_unlocked(&unlocked2).with_unlock_key(iuk2.clone());
        drive(&mut server, &keys2, Action::Login, &mut debug);
        drive(&mut server, &keys2, Action::Disable, &mut debug);
        drive(&mut server, &keys2, Action::Enable, &mut debug);
        debug.push_str(&format!("{identity:?}\n{unlocked:?}\n{unlocked2:?}\n{keys2:?}\n{code:?}\n{new_code:?}\n{password:?}\n"));

        let iuk1 = identity.recover(&code, &mut |_| {}).unwrap();
        for unlocked in [&unlocked, &unlocked2] {
            secrets.push(unlocked.imk.expose().to_vec());
            secrets.push(unlocked.ilk.expose().to_vec());
            secrets.push(unlocked.imk.site_seed("example.com", "").expose().to_vec());
        }
        secrets.push(iuk1.expose().to_vec());
        secrets.push(iuk2.expose().to_vec());
        secrets.push(b"a very secret passphrase".to_vec());
        secrets.push(code.digits().as_bytes().to_vec());
        secrets.push(new_code.digits().as_bytes().to_vec());
        secrets.push(code.grouped().into_bytes());
    });

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("capture works") && logs.contains("sqrl reply"),
        "{logs}"
    );
    for haystack in [&logs, &debug] {
        for secret in &secrets {
            let forms = [
                String::from_utf8_lossy(secret).into_owned(),
                hex::encode(secret),
                hex::encode_upper(secret),
                b64::encode(secret),
                format!("{:?}", secret),
            ];
            for form in forms.iter().filter(|f| f.len() >= 8) {
                assert!(
                    !haystack.contains(form.as_str()),
                    "a secret ({form}) appears in:\n{haystack}"
                );
            }
        }
    }
}

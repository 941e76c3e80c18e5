//! A load tool against a running site: N concurrent clients log in again and again for a while
//! (new code → query → ident → browser redeem, over real HTTP), and it prints logins per second
//! with latency percentiles — beside `verify_strict` per second measured in the same run, on
//! the same machine, as the baseline.
//!
//! ```text
//! cargo run --release -p sqrl-site -- --bind 127.0.0.1:8080 --codes-per-minute 1000000 &
//! cargo run --release -p sqrl-axum --example load -- http://127.0.0.1:8080 4 10
//! ```
//! Arguments: base URL (loopback only), concurrent clients, seconds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::transport::HttpTransport;
use sqrl_proto::{Button, SqrlUrl};

fn verify_strict_per_second() -> f64 {
    let key = SigningKey::from_bytes(&[3; 32]);
    let message = [7u8; 400];
    let signature = key.sign(&message);
    let verifying = key.verifying_key();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        verifying.verify_strict(&message, &signature).unwrap();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

/// One whole login as a browser and a phone; returns its duration.
fn login(
    base: &str,
    keys: &Keys,
    transport: &HttpTransport,
    agent: &ureq::Agent,
) -> Result<Duration, String> {
    let start = Instant::now();
    let response = agent
        .post(&format!("{base}/sqrl/new"))
        .call()
        .map_err(|e| e.to_string())?;
    let cookie = response
        .header("set-cookie")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let body = response.into_string().map_err(|e| e.to_string())?;
    let url = body
        .split("\"url\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or("no url")?;
    let url = SqrlUrl::parse(url).map_err(|e| e.to_string())?;
    let (exchange, first) = Exchange::start(
        url,
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .map_err(|e| e.to_string())?;
    exchange
        .drive(
            first,
            |request| transport.post(request),
            |_| Decision::Button(Button::First),
        )
        .map_err(|e| e.to_string())?;
    agent
        .post(&format!("{base}/sqrl/redeem"))
        .set("Cookie", &cookie)
        .call()
        .map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let host = base
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or_default();
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "the load tool only targets loopback"
    );

    let baseline_before = verify_strict_per_second();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let base = base.clone();
            std::thread::spawn(move || {
                let iuk = Iuk::generate(&mut OsRng);
                let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
                let transport = HttpTransport::default().danger_allow_loopback_http();
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut times = Vec::new();
                let (mut errors, mut in_a_row) = (0u32, 0u32);
                while Instant::now() < deadline && in_a_row < 100 {
                    match login(&base, &keys, &transport, &agent) {
                        Ok(t) => {
                            times.push(t);
                            in_a_row = 0;
                        }
                        Err(e) => {
                            errors += 1;
                            in_a_row += 1;
                            if errors <= 3 {
                                eprintln!("login failed: {e}");
                            }
                        }
                    }
                }
                (times, errors)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (t, e) = worker.join().unwrap();
        times.extend(t);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let baseline_after = verify_strict_per_second();
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let logins_per_second = times.len() as f64 / elapsed;
    let baseline = (baseline_before + baseline_after) / 2.0;
    println!(
        "{clients} clients, {seconds} s against {base}: {} logins, {errors} errors",
        times.len()
    );
    println!("logins/s            {logins_per_second:>10.1}");
    println!(
        "latency p50 / p99   {:>10.1?} / {:.1?}",
        pct(0.5),
        pct(0.99)
    );
    println!("verify_strict/s     {baseline:>10.0}  (one core, same run: {baseline_before:.0} before, {baseline_after:.0} after)");
    println!("ratio               {:>10.1}  verify_strict-equivalents per login (whole machine: site, clients, browser side)", baseline / logins_per_second);
}

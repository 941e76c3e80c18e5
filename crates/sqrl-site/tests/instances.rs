//! Two `sqrl-site` processes behind one public origin, on one throwaway PostgreSQL cluster and
//! one throwaway Redis (each on a free loopback port): the browser gets its code from B and
//! watches B's status stream while the phone's query and ident go to A; B's page hears
//! "confirmed" at once and redeems; the session works on A; the ident replayed to B is
//! refused; one address's code limit is shared by A and B; A killed with SIGKILL right after
//! an ident loses nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Request};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_proto::{Button, ServerParams, SqrlUrl};
use sqrl_testkit::{temp_dir, Postgres, Redis, SiteProcess};

/// The public origin every instance serves (loopback, so plain HTTP is allowed).
const ORIGIN: &str = "http://127.0.0.1:8999";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0";

/// One instance of the site on the shared PostgreSQL and Redis.
fn start(pg: &Postgres, redis: &Redis) -> SiteProcess {
    let dir = temp_dir("instances");
    let (database, redis) = (pg.url(), redis.url());
    SiteProcess::start(
        &dir,
        &[
            "--origin",
            ORIGIN,
            "--database",
            &database,
            "--redis",
            &redis,
            "--codes-per-minute",
            "8",
        ],
    )
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(20))
        .build()
}

fn status_and_body(result: Result<ureq::Response, ureq::Error>) -> (u16, String, Vec<String>) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let cookies = response
        .all("set-cookie")
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect();
    (response.status(), response.into_string().unwrap(), cookies)
}

/// A browser's login code from `instance`: the `sqrl://` URL and the flow cookie.
fn new_code(instance: &SiteProcess) -> Result<(String, String), u16> {
    let (status, body, cookies) = status_and_body(
        agent()
            .post(&format!("{}/sqrl/new", instance.base))
            .set("User-Agent", UA)
            .call(),
    );
    if status != 200 {
        return Err(status);
    }
    let url = body
        .split("\"url\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let cookie = cookies
        .into_iter()
        .find(|c| c.starts_with("sqrl_flow="))
        .unwrap();
    Ok((url, cookie))
}

/// Watches the status stream on `instance` in a thread: each status with when it arrived.
fn watch(instance: &SiteProcess, cookie: &str) -> mpsc::Receiver<(String, Instant)> {
    let (tx, rx) = mpsc::channel();
    let response = agent()
        .get(&format!("{}/sqrl/events", instance.base))
        .set("Cookie", cookie)
        .call()
        .unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(response.into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ") {
                let status = data
                    .split("\"status\":\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or_default()
                    .to_owned();
                if tx.send((status, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<(String, Instant)>, status: &str) -> Instant {
    loop {
        let (got, at) = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no {status:?} on the page's stream within 5 s"));
        if got == status {
            return at;
        }
    }
}

/// The phone sends every request to `instance`, whatever host the URL names (the load
/// balancer's job); returns the outcome, the last request's body and when its reply came.
fn phone(
    instance: &SiteProcess,
    url: &str,
    keys: &Keys,
) -> (sqrl_client::exchange::Outcome, Request, Instant) {
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .unwrap();
    let mut last = None;
    let send = |request: &Request| {
        let path = request.url.split_once("/sqrl").unwrap().1;
        let reply = agent()
            .post(&format!("{}/sqrl{path}", instance.base))
            .send_string(&request.body)
            .unwrap()
            .into_string()
            .unwrap();
        last = Some((request.clone(), Instant::now()));
        Ok(reply)
    };
    let outcome = exchange
        .drive(first, send, |_| Decision::Button(Button::First))
        .unwrap();
    let (request, at) = last.unwrap();
    (outcome, request, at)
}

fn redeem(instance: &SiteProcess, cookie: &str) -> String {
    let (status, body, cookies) = status_and_body(
        agent()
            .post(&format!("{}/sqrl/redeem", instance.base))
            .set("Cookie", cookie)
            .set("User-Agent", UA)
            .call(),
    );
    assert_eq!(status, 200, "{body}");
    cookies
        .into_iter()
        .find(|c| c.starts_with("sqrl_session="))
        .unwrap()
}

#[test]
fn two_instances_share_one_site() {
    let pg = Postgres::start().unwrap();
    let redis = Redis::start().unwrap();
    let mut a = start(&pg, &redis);
    let b = start(&pg, &redis);
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let idk = iuk.imk().site_key("127.0.0.1", "").public_key().encode();

    // The page is on B; the phone talks to A.
    let (url, flow_cookie) = new_code(&b).unwrap();
    assert!(url.starts_with("sqrl://127.0.0.1:8999/sqrl?nut="), "{url}");
    let events = watch(&b, &flow_cookie);
    wait_for(&events, "new");
    let (outcome, ident, replied) = phone(&a, &url, &keys);
    assert!(outcome.new_association);
    let confirmed = wait_for(&events, "confirmed");
    println!(
        "ident reply on A → \"confirmed\" on B's stream: {:?}",
        confirmed.saturating_duration_since(replied)
    );
    let session = redeem(&b, &flow_cookie);

    // The session made on B works on A.
    let (status, page, _) = status_and_body(
        agent()
            .get(&format!("{}/account", a.base))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(status, 200);
    assert!(page.contains(&idk), "A shows the account B logged in");

    // The ident replayed to B is refused: its nut was used on A.
    let replayed = agent()
        .post(&format!(
            "{}/sqrl?{}",
            b.base,
            ident.url.split_once('?').unwrap().1
        ))
        .send_string(&ident.body)
        .unwrap()
        .into_string()
        .unwrap();
    let tif = ServerParams::decode(&replayed).unwrap().tif;
    assert_eq!(tif.bits() & 0x60, 0x60, "replay refused as stale: {tif:?}");

    // A killed right after an ident loses nothing: B's page still completes.
    let (url, flow_cookie) = new_code(&b).unwrap();
    let events = watch(&b, &flow_cookie);
    let (outcome, _, _) = phone(&a, &url, &keys);
    a.kill();
    assert!(!outcome.new_association);
    wait_for(&events, "confirmed");
    let session = redeem(&b, &flow_cookie);
    let (status, page, _) = status_and_body(
        agent()
            .get(&format!("{}/account", b.base))
            .set("Cookie", &session)
            .call(),
    );
    assert_eq!(status, 200);
    assert!(page.contains(&idk));

    // One address's code limit (8 a minute) is shared: B alone has had 2 codes so far and A
    // is gone, so a new A and B together give 6 more, then refuse.
    let a = start(&pg, &redis);
    let mut granted = 2;
    let mut refused_on = None;
    for i in 0..12 {
        let instance = if i % 2 == 0 { &a } else { &b };
        match new_code(instance) {
            Ok(_) => granted += 1,
            Err(status) => {
                assert_eq!(status, 429);
                refused_on = Some(i);
                break;
            }
        }
    }
    assert!(refused_on.is_some(), "the shared limit bites");
    assert!(
        (8..=9).contains(&granted),
        "8 codes a minute across both instances (one may refill): {granted}"
    );
}

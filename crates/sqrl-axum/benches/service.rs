//! Server-side cost of a login, beside raw `verify_strict` in the same run.
//!
//! Measured: the SQRL endpoint's work for one query + one ident (signatures, nut, echo check,
//! store commit) with the in-memory store, with SQLite alone (WAL, synchronous=FULL, on disk) and
//! with the site's default (flows in memory, accounts in SQLite);
//! the pure decision alone (`Endpoint::receive` + `decide` on a snapshot: the sans-IO core's
//! cost); minting a login code; rendering its QR code as SVG and PNG; a forward-auth check
//! (`GET /auth/check` through the router, with a session cookie) on the memory store and on
//! SQLite. Client-side signing
//! happens outside the timed sections. Printed as a ratio table after criterion's report.
//!
//! `cargo bench -p sqrl-axum --bench service`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use ed25519_dalek::{Signer, SigningKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use sqrl_axum::forward_auth::{ForwardAuth, ForwardAuthSettings};
use sqrl_axum::SqrlHttp;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Exchange, Keys, Step};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_proto::SqrlUrl;
use sqrl_server::{
    AccountId, Config, Endpoint, Incoming, MemoryStore, Session, Snapshot, SplitStore, SqrlServer,
    Store, UnixTime,
};
use sqrl_server_sqlite::SqliteStore;
use std::sync::Arc;

/// The benchmark's clock.
const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

const IP: &str = "192.0.2.10";

fn server() -> Endpoint {
    Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32])
}

/// One login; returns the time spent inside the server's `handle` calls.
fn login(rt: &tokio::runtime::Runtime, service: &SqrlServer, keys: &Keys) -> Duration {
    let ip: IpAddr = IP.parse().unwrap();
    let now = NOW;
    let flow = service
        .server()
        .start_flow(ip, "Firefox/128.0", now, &mut OsRng);
    let url = SqrlUrl::parse(&flow.url).unwrap();
    let (mut exchange, mut request) = Exchange::start(
        url,
        Action::Login,
        keys,
        ClientConfig::default(),
        Rlk::from_bytes([4; 32]),
    )
    .unwrap();
    let mut spent = Duration::ZERO;
    loop {
        let query = request.url.split_once('?').unwrap().1.to_owned();
        let start = Instant::now();
        let reply = rt.block_on(service.handle(
            &Incoming {
                query: &query,
                body: request.body.as_bytes(),
                client_ip: ip,
                now,
            },
            &mut OsRng,
        ));
        spent += start.elapsed();
        match exchange.receive(&reply.body).unwrap() {
            Step::Send(next) => request = next,
            Step::Confirm(_) => match exchange
                .decide(Decision::Button(sqrl_proto::Button::First))
                .unwrap()
            {
                Step::Send(next) => request = next,
                other => panic!("{other:?}"),
            },
            Step::Done(_) => return spent,
        }
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    memory: SqrlServer,
    sqlite: SqrlServer,
    split: SqrlServer,
    keys: Keys,
    first_query: (String, String),
    raw: SigningKey,
    message: Vec<u8>,
    /// Forward-auth's check route, with a signed-in cookie: on the memory store, on SQLite.
    checks: Vec<(axum::Router, String)>,
    _dir: std::path::PathBuf,
}

/// The forward-auth check route over `store`, and the cookie of a session in it.
fn check_route(rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> (axum::Router, String) {
    let http = SqrlHttp::builder(SqrlServer::new(server(), store.clone())).build();
    let id = "a-forward-auth-session-id-for-the-benchmark";
    rt.block_on(store.create_session(&Session {
        id_hash: Sha256::digest(id.as_bytes()).into(),
        account: AccountId([9; 16]),
        created_at: NOW.as_secs(),
        ip: IP.into(),
        browser: "Firefox on Linux (forward-auth)".into(),
    }))
    .unwrap();
    let settings = ForwardAuthSettings {
        domains: vec!["example.com".into()],
        ..ForwardAuthSettings::default()
    };
    let router = ForwardAuth::new(http, settings).router();
    (router, format!("__Secure-sqrl_forward_auth={id}"))
}

/// One `GET /auth/check` from the proxy; asserts it is answered 200.
fn check(rt: &tokio::runtime::Runtime, router: &axum::Router, cookie: &str) {
    let mut request = axum::http::Request::get("/auth/check")
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let mut service = router.clone();
    let response = rt
        .block_on(tower_service::Service::call(&mut service, request))
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("sqrl-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let memory = SqrlServer::in_memory(server()).with_scan_rule(sqrl_server::Rule {
        name: "scans",
        burst: u32::MAX,
        per_second: 1e9,
    });
    let sqlite = SqrlServer::new(
        server(),
        Arc::new(SqliteStore::open(dir.join("bench.sqlite")).unwrap()),
    )
    .with_scan_rule(sqrl_server::Rule {
        name: "scans",
        burst: u32::MAX,
        per_second: 1e9,
    });
    // The site's default: flows in memory, accounts in SQLite.
    let split = SqrlServer::new(
        server(),
        Arc::new(SplitStore {
            flows: MemoryStore::new(),
            accounts: SqliteStore::open(dir.join("split.sqlite")).unwrap(),
        }),
    )
    .with_scan_rule(sqrl_server::Rule {
        name: "scans",
        burst: u32::MAX,
        per_second: 1e9,
    });
    // The account exists: we measure the everyday login of a known user.
    login(&rt, &memory, &keys);
    login(&rt, &sqlite, &keys);
    login(&rt, &split, &keys);
    // A first query, signed once, for the pure decision.
    let flow = memory
        .server()
        .start_flow(IP.parse().unwrap(), "Firefox/128.0", NOW, &mut OsRng);
    let (_, request) = Exchange::start(
        SqrlUrl::parse(&flow.url).unwrap(),
        Action::Login,
        &keys,
        ClientConfig::default(),
        Rlk::from_bytes([4; 32]),
    )
    .unwrap();
    let first_query = (
        request.url.split_once('?').unwrap().1.to_owned(),
        request.body.clone(),
    );
    let checks = vec![
        check_route(&rt, Arc::new(MemoryStore::new())),
        check_route(
            &rt,
            Arc::new(SqliteStore::open(dir.join("sessions.sqlite")).unwrap()),
        ),
    ];
    Fixture {
        checks,
        rt,
        memory,
        sqlite,
        split,
        keys,
        first_query,
        raw: SigningKey::from_bytes(&[3; 32]),
        message: vec![7; 400],
        _dir: dir,
    }
}

fn timed<'a>(op: impl Fn() + 'a) -> Box<dyn Fn() -> Duration + 'a> {
    Box::new(move || {
        let start = Instant::now();
        op();
        start.elapsed()
    })
}

/// Operations measured as "time per call".
/// A named operation that returns the time it spent.
type Operation<'a> = (&'static str, Box<dyn Fn() -> Duration + 'a>);

fn operations(f: &Fixture) -> Vec<Operation<'_>> {
    let signature = f.raw.sign(&f.message);
    let key = f.raw.verifying_key();
    let ip: IpAddr = IP.parse().unwrap();
    let svg_url = f.memory.server().start_flow(ip, "", NOW, &mut OsRng).url;
    let png_url = svg_url.clone();
    vec![
        (
            "raw ed25519-dalek verify_strict",
            timed(move || {
                key.verify_strict(black_box(&f.message), &signature)
                    .unwrap()
            }),
        ),
        (
            "query: receive + decide (no IO)",
            timed(move || {
                let (query, body) = &f.first_query;
                let pending = f
                    .memory
                    .server()
                    .receive(&Incoming {
                        query,
                        body: body.as_bytes(),
                        client_ip: ip,
                        now: NOW,
                    })
                    .unwrap();
                black_box(
                    f.memory
                        .server()
                        .decide(pending, Snapshot::default(), &mut OsRng),
                );
            }),
        ),
        (
            "query + ident, server side, memory store",
            Box::new(|| login(&f.rt, &f.memory, &f.keys)),
        ),
        (
            "query + ident, server side, SQLite on disk",
            Box::new(|| login(&f.rt, &f.sqlite, &f.keys)),
        ),
        (
            "query + ident, flows in memory, SQLite accounts",
            Box::new(|| login(&f.rt, &f.split, &f.keys)),
        ),
        (
            "mint a login code (sealed nut)",
            timed(move || {
                black_box(
                    f.memory
                        .server()
                        .start_flow(ip, "Firefox/128.0", NOW, &mut OsRng),
                );
            }),
        ),
        (
            "QR code as SVG (per login page view)",
            timed(move || {
                black_box(sqrl_axum::qr::svg(&svg_url).unwrap());
            }),
        ),
        (
            "forward-auth check, memory store",
            timed(move || check(&f.rt, &f.checks[0].0, &f.checks[0].1)),
        ),
        (
            "forward-auth check, SQLite sessions",
            timed(move || check(&f.rt, &f.checks[1].0, &f.checks[1].1)),
        ),
        (
            "QR code as PNG",
            timed(move || {
                black_box(sqrl_axum::qr::png(&png_url).unwrap());
            }),
        ),
    ]
}

fn criterion_benches(c: &mut Criterion) {
    let f = fixture();
    for (name, op) in operations(&f) {
        c.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| op()).sum())
        });
    }
}

fn ratio_table() {
    let f = fixture();
    let ops = operations(&f);
    let rounds = 11;
    let mut per_call: Vec<Vec<f64>> = vec![Vec::new(); ops.len()];
    for _ in 0..rounds {
        for (i, (_, op)) in ops.iter().enumerate() {
            let mut spent = Duration::ZERO;
            let mut n = 0u32;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(60) {
                spent += op();
                n += 1;
            }
            per_call[i].push(spent.as_secs_f64() / f64::from(n));
        }
    }
    let medians: Vec<f64> = per_call
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    println!("\nratio to raw verify_strict, same run, median of {rounds} interleaved rounds:");
    println!("{:<46} {:>10} {:>8}", "operation", "µs/call", "ratio");
    for ((name, _), t) in ops.iter().zip(&medians) {
        println!("{name:<46} {:>10.1} {:>8.2}", t * 1e6, t / medians[0]);
    }
}

criterion_group!(benches, criterion_benches);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio_table();
}

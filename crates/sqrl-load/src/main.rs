//! `sqrl-load`: load against a running `sqrl-site` on this machine, as whole browser visits.
//!
//! Each login is what a person's visit costs the site: the browser gets a code
//! (`POST /sqrl/new`) and watches its status stream (`GET /sqrl/events`); the phone signs
//! `query` and `ident` (the real client); the page hears "confirmed" and redeems
//! (`POST /sqrl/redeem`). Meanwhile `--idle-pages` browsers sit on their status streams
//! without logging in. Connections leave from many loopback source addresses, so the site's
//! per-address limits see many browsers.
//!
//! It prints, per concurrency: logins/s, login latency, the notify latency (ident reply →
//! "confirmed" on the page's stream), errors, and with `--server-pid` the server's CPU per
//! login and its memory per idle page, each beside raw `verify_strict` measured in the same
//! run. Only loopback targets are accepted.

mod http;
mod insitu;
mod plot;
mod visit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use rand_core::OsRng;
use sqrl_client::exchange::Keys;
use sqrl_client::keys::Iuk;

use http::{Connection, Events};
use visit::{empty_visit, login, new_code, oidc_login, page_view, Checker, OidcClient};

#[derive(Debug, Parser)]
#[command(
    name = "sqrl-load",
    about = "Load against a running sqrl-site on loopback"
)]
struct Args {
    /// The site's address (loopback only), e.g. 127.0.0.1:8080
    #[arg(long, default_value = "127.0.0.1:8080")]
    site: SocketAddr,
    /// Concurrent logins; a comma-separated list runs one phase each (a sweep)
    #[arg(long, default_value = "16", value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Seconds per phase
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Browsers that wait on their status stream without logging in; a comma-separated list
    /// (ascending) runs every concurrency phase at each count
    #[arg(long, default_value = "0", value_delimiter = ',')]
    idle_pages: Vec<usize>,
    /// Loopback source addresses to spread connections over (127.1.x.y): each login comes
    /// from the next one, as a new browser would, so per-address limits stay meaningful
    #[arg(long, default_value_t = 5000)]
    sources: usize,
    /// The site's process id, to read its CPU time and memory from /proc
    #[arg(long)]
    server_pid: Option<u32>,
    /// Draw SVG charts of the run into this directory
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Also run a floor phase at each concurrency: the same connections and requests as a
    /// login (3 connections, 5 requests) to `/health`, no SQRL work, to show what HTTP over
    /// loopback TCP alone costs the server
    #[arg(long)]
    floor: bool,
    /// Run only floor phases (no logins, no waiting pages): the target need only answer
    /// `GET /health`, e.g. the bare hyper server of `examples/bare_server.rs`, to see what HTTP
    /// over loopback costs without the site
    #[arg(long, conflicts_with_all = ["views", "floor", "plot"])]
    floor_only: bool,
    /// Also measure each login phase's CPU per login in situ: `perf` samples the server
    /// through the middle half of the phase, and a login's two signature checks divided by
    /// their share of the samples give its cost in signature checks, measured at the same
    /// moments as the work (needs `perf` and `--server-pid`)
    #[arg(long, requires = "server_pid")]
    perf: bool,
    /// Also run a page-view phase at each concurrency: a browser opens the login page's code
    /// and its QR image (`POST /sqrl/new`, `GET /sqrl/qr.svg` on one connection) and leaves
    #[arg(long)]
    views: bool,
    /// Seconds to wait after opening idle pages before measuring memory again (and counting
    /// the server's open descriptors), to see that it holds steady
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// Also run an OpenID Connect phase at each concurrency: authorization request, SQRL
    /// login, code, token, UserInfo. The client must be registered on the site with
    /// `client add --first-party --redirect-uri http://127.0.0.1:9/cb`
    #[arg(long, value_name = "CLIENT_ID", requires = "oidc_secret")]
    oidc_client: Option<String>,
    /// The secret of --oidc-client
    #[arg(long, value_name = "SECRET", requires = "oidc_client")]
    oidc_secret: Option<String>,
    /// Also run a forward-auth phase at each concurrency: each worker logs in once, then its
    /// proxy connection checks the session (`GET /auth/check`) as fast as it is answered (the
    /// site needs --forward-auth-domain 127.0.0.1)
    #[arg(long)]
    forward_auth: bool,
    /// Speak HTTPS (HTTP/1.1 over TLS, as most browsers' logins and phones do), trusting the
    /// CA certificate in this PEM file (`sqrl-site --tls-self-signed DIR` makes DIR/ca.pem).
    /// Connections share one client configuration, so they resume TLS sessions as browsers
    /// and phones do
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
    /// Print `verify_strict` calls per second on this thread's core and exit (the load runs
    /// itself under `taskset` with this to measure on the server's core)
    #[arg(long, hide = true)]
    measure_verify: bool,
}

/// One phase's figures.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) idle: usize,
    pub(crate) concurrency: usize,
    pub(crate) logins: usize,
    pub(crate) errors: usize,
    pub(crate) rate: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) notify50: Duration,
    pub(crate) notify99: Duration,
    /// Server CPU per login in `verify_strict` calls.
    pub(crate) cpu_vs: Option<f64>,
    /// `verify_strict` calls per second measured just before the phase: its ratios' unit.
    pub(crate) verify: f64,
}

/// How long each measurement of `verify_strict` runs.
const VERIFY_SECONDS: u64 = 1;

/// `verify_strict` calls per second on one core, now.
fn verify_strict_per_second() -> f64 {
    let key = SigningKey::from_bytes(&[3; 32]);
    let message = [7u8; 400];
    let signature = key.sign(&message);
    let verifying = key.verifying_key();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(VERIFY_SECONDS) {
        if verifying.verify_strict(&message, &signature).is_ok() {
            n = n.saturating_add(1);
        }
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

/// The one core the server is pinned to, if it is (`Cpus_allowed_list` in its status).
fn server_core(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    list.parse().ok()
}

/// Where the reference figure is measured.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// On the server's own core, by running this program there under `taskset` between
    /// phases (the server is idle then): the unit of the ratios is the core that did the work.
    ServerCore(u32),
    /// On the load's core (the server is not pinned to one core, or `taskset` is missing).
    Here,
}

impl Reference {
    fn choose(server_pid: Option<u32>) -> Self {
        let Some(core) = server_pid.and_then(server_core) else {
            return Self::Here;
        };
        let reference = Self::ServerCore(core);
        if reference.measure_there().is_some() {
            reference
        } else {
            Self::Here
        }
    }

    fn measure_there(self) -> Option<f64> {
        let Self::ServerCore(core) = self else {
            return None;
        };
        let exe = std::env::current_exe().ok()?;
        let out = std::process::Command::new("taskset")
            .arg("-c")
            .arg(core.to_string())
            .arg(exe)
            .arg("--measure-verify")
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    }

    /// `verify_strict` calls per second now, where this reference measures.
    fn measure(self) -> f64 {
        self.measure_there()
            .unwrap_or_else(verify_strict_per_second)
    }

    fn describe(self) -> String {
        match self {
            Self::ServerCore(core) => format!("on the server's core {core}"),
            Self::Here => "on the load's core (the server is not pinned to one)".into(),
        }
    }
}

/// The `n`-th loopback source address.
fn source(n: usize) -> IpAddr {
    let n = u32::try_from(n % 60_000).unwrap_or(0);
    IpAddr::V4(Ipv4Addr::new(
        127,
        1,
        u8::try_from(n / 250).unwrap_or(0),
        u8::try_from(n % 250 + 1).unwrap_or(1),
    ))
}

/// CPU seconds (user + system) and resident memory (KiB) of a process.
fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = rustix::param::clock_ticks_per_second() as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((ticks as f64 / per_second, rss))
}

/// Opens idle waiting pages `first..first + count`; they hold their streams until the
/// process ends.
async fn idle_pages(
    site: SocketAddr,
    first: usize,
    count: usize,
    sources: usize,
) -> Result<(), String> {
    let opened = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in first..first + count {
        let opened = Arc::clone(&opened);
        tasks.push(tokio::spawn(async move {
            let from = source(i % sources.max(1));
            let mut connection = Connection::open(from, site).await?;
            let (_, cookie) = new_code(&mut connection).await?;
            // The steady state of a waiting page: the site closes the connection the code
            // came on once it has been idle for the keep-alive timeout; close it now.
            drop(connection);
            let mut watching = Connection::open(from, site).await?;
            let mut events = Events::open(&mut watching, &cookie).await?;
            events.wait_for("new").await?;
            opened.fetch_add(1, Ordering::Relaxed);
            // Hold the stream: read whatever comes until it ends.
            while events.next().await?.is_some() {}
            Ok::<(), String>(())
        }));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Ordering::Relaxed) < count && Instant::now() < deadline {
        if let Some(failed) = tasks.iter().position(|t| t.is_finished()) {
            let task = tasks.swap_remove(failed);
            if let Ok(Err(e)) = task.await {
                return Err(format!("an idle page failed: {e}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open = opened.load(Ordering::Relaxed);
    if open < count {
        return Err(format!("only {open} of {count} idle pages opened"));
    }
    // Dropping the handles detaches the tasks: the pages wait until the process exits.
    drop(tasks);
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

/// What one iteration of a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    /// A whole login.
    Login,
    /// The floor: a login's connections and requests, to `/health`.
    Floor,
    /// A login page view: a code and its QR image.
    View,
    /// A whole OpenID Connect login.
    Oidc,
    /// A forward-auth check.
    Check,
}

async fn phase(
    args: &Args,
    idle: usize,
    concurrency: usize,
    reference: Reference,
    kind: Visit,
) -> Row {
    // Measured just before and just after the phase, on the core the server runs on, while
    // it is idle: the host's speed drifts during a run, and each phase is compared with the
    // mean of its own two moments.
    let verify_before = reference.measure();
    let before = args.server_pid.and_then(process_usage);
    let sampling = match (args.perf, args.server_pid, kind) {
        (true, Some(pid), Visit::Login) => {
            let quarter = Duration::from_secs(args.seconds) / 4;
            Some(tokio::task::spawn_blocking(move || {
                insitu::sample(pid, quarter, quarter * 2)
            }))
        }
        _ => None,
    };
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    let next_source = Arc::new(AtomicUsize::new(idle));
    let sources = args.sources.max(1);
    for _ in 0..concurrency {
        let site = args.site;
        let next_source = Arc::clone(&next_source);
        let from = move || source(next_source.fetch_add(1, Ordering::Relaxed) % sources);
        let client = match (&args.oidc_client, &args.oidc_secret) {
            (Some(id), Some(secret)) => Some(OidcClient {
                id: id.clone(),
                secret: secret.clone(),
            }),
            _ => None,
        };
        workers.push(tokio::spawn(async move {
            let iuk = Iuk::generate(&mut OsRng);
            let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
            let mut done = Vec::new();
            let mut errors = 0usize;
            // The first login creates the account; the measured ones are a known user's.
            if matches!(kind, Visit::Login | Visit::Oidc) {
                if let Err(e) = login(site, from(), &keys).await {
                    eprintln!("warm-up login failed: {e}");
                }
            }
            let mut checker = match kind {
                Visit::Check => Some(Checker::new(site, from(), &keys).await),
                _ => None,
            };
            while Instant::now() < deadline && errors < 100 {
                let visit = match kind {
                    Visit::Login => login(site, from(), &keys).await,
                    Visit::Floor => empty_visit(site, from()).await,
                    Visit::View => page_view(site, from()).await,
                    Visit::Oidc => match &client {
                        Some(client) => oidc_login(site, from(), &keys, client).await,
                        None => Err("no --oidc-client".into()),
                    },
                    Visit::Check => match &mut checker {
                        Some(Ok(checker)) => checker.check().await,
                        Some(Err(e)) => Err(e.clone()),
                        None => Err("no forward-auth session".into()),
                    },
                };
                match visit {
                    Ok(l) => done.push(l),
                    Err(e) => {
                        errors += 1;
                        if errors <= 2 {
                            eprintln!("login failed: {e}");
                        }
                    }
                }
            }
            (done, errors)
        }));
    }
    let mut logins = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((done, e)) = worker.await {
            logins.extend(done);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = args.server_pid.and_then(process_usage);
    let verify_after = reference.measure();
    let verify_per_second = (verify_before + verify_after) / 2.0;
    if (verify_after - verify_before).abs() > 0.1 * verify_per_second {
        println!(
            "  (the host's speed drifted during the next row: {verify_before:.0} → {verify_after:.0} verify_strict/s; its ratios use the mean)"
        );
    }
    let mut totals: Vec<Duration> = logins.iter().map(|l| l.total).collect();
    let mut notifies: Vec<Duration> = logins.iter().map(|l| l.notify).collect();
    totals.sort();
    notifies.sort();
    let rate = logins.len() as f64 / elapsed;
    let per_login = match (before, after) {
        (Some((a, _)), Some((b, _))) if !logins.is_empty() => Some((b - a) / logins.len() as f64),
        _ => None,
    };
    let cpu = match per_login {
        Some(seconds) => format!(
            "{:>8.3} ms  {:>7.1}  {verify_per_second:>6.0}",
            seconds * 1e3,
            seconds * verify_per_second
        ),
        None => format!("{:>11}  {:>7}  {verify_per_second:>6.0}", "-", "-"),
    };
    let row = Row {
        idle,
        concurrency,
        logins: logins.len(),
        errors,
        rate,
        p50: percentile(&totals, 0.5),
        p99: percentile(&totals, 0.99),
        notify50: percentile(&notifies, 0.5),
        notify99: percentile(&notifies, 0.99),
        cpu_vs: per_login.map(|s| s * verify_per_second),
        verify: verify_per_second,
    };
    println!(
        "{idle:>6} {concurrency:>5} {:>7} {:>6} {rate:>9.1} {:>8.4} {:>9.1?} {:>9.1?} {:>9.2?} {:>9.2?} {cpu}",
        row.logins,
        row.errors,
        rate / verify_per_second,
        row.p50,
        row.p99,
        row.notify50,
        row.notify99,
    );
    if let Some(sampling) = sampling {
        match sampling.await {
            Ok(Ok(found)) => match found.per_login() {
                Some(per_login) => println!(
                    "{:>6}   (in situ: signature checks are {:.1} % of the server's {} samples: a login costs {per_login:.1} checks)",
                    "perf", found.signature_percent, found.samples
                ),
                None => println!("{:>6}   (in situ: no samples in signature checks)", "perf"),
            },
            Ok(Err(e)) => println!("{:>6}   (in situ: {e})", "perf"),
            Err(e) => println!("{:>6}   (in situ: {e})", "perf"),
        }
    }
    match kind {
        Visit::Login => {}
        Visit::Floor => println!(
            "{:>6}   (the row above: /health only, a login's 3 connections and 5 requests per visit)",
            "floor"
        ),
        Visit::View => println!(
            "{:>6}   (the row above: page views, a code and its QR image on one connection)",
            "views"
        ),
        Visit::Oidc => println!(
            "{:>6}   (the row above: OpenID Connect logins: authorize, SQRL login, code, token, UserInfo)",
            "oidc"
        ),
        Visit::Check => println!(
            "{:>6}   (the row above: forward-auth checks, one GET /auth/check each on a kept-alive connection)",
            "check"
        ),
    }
    row
}

async fn run(args: Args) -> Result<(), String> {
    if !args.site.ip().is_loopback() {
        return Err("sqrl-load only targets loopback addresses".into());
    }
    let reference = Reference::choose(args.server_pid);
    println!(
        "verify_strict is measured {} for {VERIFY_SECONDS} s before and after each phase (column vs/s, their mean): each row's ratios use its own figure",
        reference.describe()
    );
    if args.floor_only {
        if args.idle_pages.iter().any(|&n| n > 0) {
            return Err("--floor-only runs no waiting pages".into());
        }
        print_header();
        for &concurrency in &args.concurrency {
            phase(&args, 0, concurrency, reference, Visit::Floor).await;
        }
        println!(
            "floor only: each visit is a login's 3 connections and 5 requests, all to /health; ×vs = server CPU per visit in verify_strict calls"
        );
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut open = 0;
    let mut idle_counts = args.idle_pages.clone();
    idle_counts.sort_unstable();
    for idle in idle_counts {
        if idle > open {
            // Memory per page: the server's RSS just before and after opening this batch.
            let before = args.server_pid.and_then(process_usage).map(|(_, rss)| rss);
            idle_pages(args.site, open, idle - open, args.sources).await?;
            let batch = idle - open;
            open = idle;
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let (Some(before), Some((_, after))) =
                (before, args.server_pid.and_then(process_usage))
            {
                let per_page = after.saturating_sub(before) as f64 / batch as f64;
                println!(
                    "idle waiting pages: {open} open; server RSS {before} → {after} KiB: {per_page:.1} KiB per waiting page (each holds its status stream)"
                );
                if args.settle > 0 {
                    tokio::time::sleep(Duration::from_secs(args.settle)).await;
                    if let Some((_, settled)) = args.server_pid.and_then(process_usage) {
                        let per_page = settled.saturating_sub(before) as f64 / batch as f64;
                        let fds = args
                            .server_pid
                            .and_then(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
                            .map_or(0, Iterator::count);
                        println!(
                            "after {} s: server RSS {before} → {settled} KiB: {per_page:.1} KiB per waiting page; the server holds {fds} file descriptors",
                            args.settle
                        );
                    }
                }
            }
        }
        print_header();
        for &concurrency in &args.concurrency {
            rows.push(phase(&args, idle, concurrency, reference, Visit::Login).await);
            // Not charted: printed beside the logins.
            if args.floor {
                phase(&args, idle, concurrency, reference, Visit::Floor).await;
            }
            if args.views {
                phase(&args, idle, concurrency, reference, Visit::View).await;
            }
            if args.oidc_client.is_some() {
                phase(&args, idle, concurrency, reference, Visit::Oidc).await;
            }
            if args.forward_auth {
                phase(&args, idle, concurrency, reference, Visit::Check).await;
            }
        }
    }
    println!(
        "×vs/s = logins/s ÷ verify_strict/s, ×vs = server CPU per login in verify_strict calls, vs/s = verify_strict/s measured around the row (mean of before and after)"
    );
    if let Some(dir) = &args.plot {
        let mut figures: Vec<f64> = rows.iter().map(|r| r.verify).collect();
        figures.sort_by(f64::total_cmp);
        let median = figures.get(figures.len() / 2).copied().unwrap_or(1.0);
        plot::all(dir, &rows, median)?;
        println!("charts written to {}", dir.display());
    }
    Ok(())
}

fn print_header() {
    println!(
        "{:>6} {:>5} {:>7} {:>6} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11}  {:>7}  {:>6}",
        "idle",
        "conc",
        "logins",
        "errors",
        "logins/s",
        "×vs/s",
        "p50",
        "p99",
        "notify50",
        "notify99",
        "cpu/login",
        "×vs",
        "vs/s"
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.measure_verify {
        println!("{}", verify_strict_per_second());
        return ExitCode::SUCCESS;
    }
    if let Some(ca) = &args.tls_ca {
        if let Err(e) = http::use_tls(ca) {
            eprintln!("sqrl-load: {e}");
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sqrl-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls = args.tls_ca.is_some();
    match runtime.block_on(run(args)) {
        Ok(()) => {
            if tls {
                let (full, resumed) = http::handshakes();
                println!("TLS handshakes: {full} full, {resumed} resumed");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sqrl-load: {e}");
            ExitCode::FAILURE
        }
    }
}

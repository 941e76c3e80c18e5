//! `sqrl-site`: a complete small website with SQRL login, on an embedded SQLite database.
//!
//! `cargo run --release -p sqrl-site` serves <http://127.0.0.1:8080> with `sqrl-site.sqlite`.

mod backends;
mod keys;
mod pages;
mod serve;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use clap::{Parser, ValueEnum};
use sqrl_axum::streams::StreamLimits;
use sqrl_axum::{HttpSettings, SqrlHttp};
use sqrl_server::{AskPolicy, Config, Endpoint, Lifetimes, Rule, SqrlServer};

/// How often finished login flows are forgotten.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "sqrl-site",
    version,
    about = "A website with SQRL login on an embedded database"
)]
struct Args {
    /// Address to listen on
    #[arg(long, env = "SQRL_SITE_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// The site's public origin, e.g. https://example.com (its host and port go into SQRL
    /// URLs) [default: http://<bind>]
    #[arg(long, env = "SQRL_SITE_ORIGIN")]
    origin: Option<String>,
    /// Where accounts, sessions and the site's keys live: a SQLite file (created if missing;
    /// nothing to install) or a postgres://user@host/db URL (several instances share it)
    #[arg(long, env = "SQRL_SITE_DATABASE", default_value = "sqrl-site.sqlite")]
    database: String,
    /// Keep login flows, live status events and rate limits in Redis (redis://host:port),
    /// so that several instances behind one origin act as one site
    #[arg(long, env = "SQRL_SITE_REDIS")]
    redis: Option<String>,
    /// Seconds a login code stays valid (10 to 900)
    #[arg(long, env = "SQRL_SITE_NUT_LIFETIME", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=backends::LONGEST_NUT_LIFETIME))]
    nut_lifetime: u64,
    /// Allow a plain-HTTP origin for a host that is not loopback (only behind a TLS proxy)
    #[arg(long)]
    allow_plain_http: bool,
    /// Reverse proxies of your own in front of the site: the client IP is the N-th
    /// X-Forwarded-For value from the right (what the farthest proxy saw); values left of it
    /// come from the client and are ignored. 0 ignores the header
    #[arg(
        long,
        env = "SQRL_SITE_TRUSTED_PROXIES",
        value_name = "N",
        default_value_t = 0
    )]
    trusted_proxies: usize,
    /// The same as --trusted-proxies 1 (one proxy of your own in front of the site)
    #[arg(long, conflicts_with = "trusted_proxies")]
    trust_forwarded_for: bool,
    /// Login codes each client (IPv4 address, IPv6 /64) may request per minute
    #[arg(long, env = "SQRL_SITE_CODES_PER_MINUTE", default_value_t = 60)]
    codes_per_minute: u32,
    /// Logins each client (IPv4 address, IPv6 /64) may start per minute (a phone's first
    /// query); raise both limits only for load tests
    #[arg(long, env = "SQRL_SITE_SCANS_PER_MINUTE", default_value_t = 30)]
    scans_per_minute: u32,
    /// Most login pages watching their status at once (each holds a connection); once 3/4
    /// of them are open, each client may hold only 2
    #[arg(long, env = "SQRL_SITE_MAX_STREAMS", value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_streams: u32,
    /// Ask the user on the phone to confirm each login, naming this browser: `offer` asks
    /// known users and accepts clients that do not implement questions; `require` asks
    /// everyone and refuses such clients; `off` never asks (see spec/server.md)
    #[arg(long, env = "SQRL_SITE_ASK", value_enum, default_value_t = Ask::Offer)]
    ask: Ask,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(
        long,
        env = "SQRL_SITE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(
        long,
        env = "SQRL_SITE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a local CA kept in DIR (made on first start:
    /// ca.pem to trust, ca-key.pem, cert.pem, key.pem); prints how to trust the CA
    #[arg(long, env = "SQRL_SITE_TLS_SELF_SIGNED", value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: Option<PathBuf>,
    /// With HTTPS, also listen here for plain HTTP that only redirects (301) to the https://
    /// origin
    #[arg(long, env = "SQRL_SITE_HTTP_REDIRECT_BIND", value_name = "ADDR")]
    http_redirect_bind: Option<SocketAddr>,
    /// Seconds a connection has to send each request head (from connecting, or from its
    /// previous response: idle keep-alive connections close then too)
    #[arg(long, env = "SQRL_SITE_HEADER_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds a request body has to arrive after its head
    #[arg(long, env = "SQRL_SITE_BODY_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    body_timeout: Duration,
    /// Seconds a write to a client may make no progress (a client that stops reading its
    /// responses) before the connection is closed
    #[arg(long, env = "SQRL_SITE_WRITE_TIMEOUT", value_name = "SECS", default_value = "30", value_parser = seconds)]
    write_timeout: Duration,
    /// Seconds a TLS handshake may take
    #[arg(long, env = "SQRL_SITE_HANDSHAKE_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    handshake_timeout: Duration,
    /// Most open connections; more are closed at once [default: from the file-descriptor
    /// limit, raised to its maximum: 7/8 of it less 64, at most 50 000]
    #[arg(long, env = "SQRL_SITE_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Most open connections from one client (an IPv4 address, an IPv6 /64); more are closed
    /// at once [default: a quarter of --max-connections, at most 256; with
    /// --trusted-proxies, the same as --max-connections, since every connection comes from
    /// the proxy]
    #[arg(long, env = "SQRL_SITE_MAX_CONNECTIONS_PER_CLIENT", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_client: Option<u32>,
}

/// A duration in seconds, decimals allowed (0.1 to 3600).
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&value) {
        return Err(format!("{value} is not between 0.1 and 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The listener limits from the flags.
fn limits(args: &Args, trusted_proxies: usize) -> serve::Limits {
    let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    // The descriptor limit is raised to the hard limit whether or not the cap is given.
    let fd_limit = serve::fd_limit();
    let max_connections = args
        .max_connections
        .map_or_else(|| serve::default_max_connections(fd_limit), to_usize);
    if max_connections > serve::connections_that_fit(fd_limit) && fd_limit.is_some() {
        tracing::warn!(
            max_connections,
            fd_limit,
            "--max-connections leaves few file descriptors for the database and the log: \
             when they run out, accepting waits until connections close"
        );
    }
    let max_per_client = match args.max_connections_per_client {
        Some(n) => to_usize(n).min(max_connections),
        None if trusted_proxies > 0 => max_connections,
        None => serve::default_max_per_client(max_connections),
    };
    serve::Limits {
        handshake_timeout: args.handshake_timeout,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        write_timeout: args.write_timeout,
        max_connections,
        max_per_client,
    }
}

/// A line on standard output (where the addresses go; whoever reads them may stop reading,
/// which is no reason to stop serving).
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The bare host of `host[:port]` (IPv6 without brackets).
fn bare_host(host_port: &str) -> &str {
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    }
}

/// The plain-HTTP side of an HTTPS site: every request is sent to the same path at the
/// https:// origin.
fn redirect_app(origin: String) -> axum::Router {
    axum::Router::new().fallback(move |uri: Uri| {
        let origin = origin.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let location = HeaderValue::from_str(&format!("{origin}{path}"))
                .or_else(|_| HeaderValue::from_str(&format!("{origin}/")))
                .unwrap_or(HeaderValue::from_static("/"));
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response()
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Ask {
    Offer,
    Require,
    Off,
}

impl From<Ask> for AskPolicy {
    fn from(ask: Ask) -> Self {
        match ask {
            Ask::Offer => AskPolicy::Offer,
            Ask::Require => AskPolicy::Require,
            Ask::Off => AskPolicy::Off,
        }
    }
}

/// Checks the origin and splits it into (secure, host[:port]).
fn parse_origin(origin: &str, allow_plain_http: bool) -> Result<(bool, String), String> {
    let (secure, rest) = if let Some(rest) = origin.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!(
            "--origin must start with https:// or http:// (got {origin})"
        ));
    };
    let host_port = rest.trim_end_matches('/');
    if host_port.is_empty() || host_port.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "--origin must be scheme://host[:port] only (got {origin})"
        ));
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => host_port.split(':').next().unwrap_or_default().to_owned(),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !secure && !loopback && !allow_plain_http {
        return Err(format!(
            "refusing plain HTTP for {host}: SQRL clients connect with HTTPS; use an https:// origin \
             (behind a TLS proxy) or pass --allow-plain-http"
        ));
    }
    // The SQRL URL must itself parse (IDNs, ports...).
    sqrl_proto::SqrlUrl::parse(&format!("sqrl://{host_port}/sqrl?nut=x"))
        .map_err(|e| format!("--origin host cannot be used in a SQRL URL: {e}"))?;
    Ok((secure, host_port.to_owned()))
}

/// Waits for the next whole second and returns it (Unix seconds). Codes carry their issue
/// time in seconds: a process whose flows live in memory refuses the codes of earlier
/// processes, and starting on a fresh second keeps a code from the last second of the
/// previous process from passing for one of this process.
async fn first_whole_second() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let wait = Duration::from_secs(1)
        .saturating_sub(Duration::from_nanos(u64::from(since_epoch.subsec_nanos())));
    tokio::time::sleep(wait).await;
    since_epoch.as_secs().saturating_add(1)
}

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let tls_on = args.tls_cert.is_some() || args.tls_self_signed.is_some();
    let scheme = if tls_on { "https" } else { "http" };
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let (secure, host) = parse_origin(&origin, args.allow_plain_http)?;
    let origin = origin.trim_end_matches('/').to_owned();
    if tls_on && !secure {
        return Err(format!(
            "with HTTPS the origin must be https:// too (got {origin})"
        ));
    }
    if args.http_redirect_bind.is_some() && !tls_on {
        return Err(
            "--http-redirect-bind needs HTTPS (--tls-cert and --tls-key, or --tls-self-signed)"
                .into(),
        );
    }
    let mut notes = Vec::new();
    let tls_config = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(tls::server_config(cert, key)?),
        (_, _, Some(dir)) => {
            let files = tls::local_ca(dir, bare_host(&host))?;
            notes.push(tls::trust_instructions(&files, &origin));
            Some(tls::server_config(&files.cert, &files.key)?)
        }
        _ => None,
    };
    let redirect_listener = match args.http_redirect_bind {
        Some(bind) => Some(
            tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?,
        ),
        None => None,
    };
    let lifetimes = Lifetimes {
        nut: args.nut_lifetime,
        ..Lifetimes::default()
    };
    let backends = backends::open(&args.database, args.redis.as_deref(), lifetimes).await?;
    let store = backends.store.clone();
    let keys = keys::load_or_create(&*store, backends.sqlite_path.as_deref()).await?;
    let mut config = Config::new(&host);
    config.origin = origin.clone();
    config.lifetimes = lifetimes;
    config.ask = args.ask.into();
    if backends.flows_in_memory {
        config.codes_not_before = first_whole_second().await;
    }
    let server = Endpoint::new(config, &keys.nut, &keys.browser);
    let trusted_proxies = if args.trust_forwarded_for {
        1
    } else {
        args.trusted_proxies
    };
    let settings = HttpSettings {
        secure_cookies: secure,
        after_login: "/account".into(),
        login_page: "/".into(),
        trusted_proxies,
        mint_rule: Rule {
            name: "codes",
            burst: args.codes_per_minute.max(1),
            per_second: f64::from(args.codes_per_minute) / 60.0,
        },
        streams: StreamLimits {
            total: usize::try_from(args.max_streams).unwrap_or(usize::MAX),
            ..StreamLimits::default()
        },
        ..HttpSettings::default()
    };
    let scans = Rule {
        name: "scans",
        burst: args.scans_per_minute.max(1),
        per_second: f64::from(args.scans_per_minute) / 60.0,
    };
    let sqrl = SqrlHttp::builder(backends.attach(SqrlServer::new(server, store).with_scan_rule(scans)))
        .settings(settings)
        .on_login(|event| {
            tracing::info!(account = %event.account, ip = %event.ip, browser = %event.browser, cps = event.via_cps, "login");
        })
        .build();

    // Housekeeping: forget the flows whose every phase has ended (a code's lifetime, the
    // redemption window and the clock skew after the code was issued).
    let cleaner = sqrl.clone();
    let retention = backends.flow_retention;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HOUSEKEEPING_EVERY).await;
            let before = cleaner.now().saturating_sub(retention);
            if let Err(e) = cleaner.sqrl().store().purge_flows(before).await {
                tracing::warn!(error = %e, "could not purge old login flows");
            }
        }
    });

    let app = pages::router(sqrl.clone(), origin.clone()).merge(sqrl.router());
    let limits = limits(&args, trusted_proxies);
    let caps = serve::Caps::new(limits.clone());
    say(&format!(
        "sqrl-site listening on {scheme}://{local}  (public origin {origin}, {})",
        backends.describe
    ));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let redirect = match redirect_listener {
        Some(listener) => {
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            say(&format!("sqrl-site redirecting http://{bound} to {origin}"));
            let site = serve::Site {
                app: redirect_app(origin.clone()),
                tls: None,
                caps: caps.clone(),
            };
            Some(tokio::spawn(serve::serve(listener, site, shutdown.clone())))
        }
        None => None,
    };
    for note in notes {
        say(&note);
    }
    tracing::info!(
        max_connections = limits.max_connections,
        max_connections_per_client = limits.max_per_client,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        body_timeout_s = limits.body_timeout.as_secs_f64(),
        "serving"
    );
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    let site = serve::Site {
        app,
        tls: tls_config.map(tokio_rustls::TlsAcceptor::from),
        caps,
    };
    serve::serve(listener, site, shutdown).await;
    if let Some(redirect) = redirect {
        let _ = redirect.await;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    // RUST_LOG picks what is logged (e.g. `RUST_LOG=debug`, `RUST_LOG=sqrl_server=debug`);
    // without it, info and above.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only: escape codes make a log file hard to read and grep.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sqrl-site: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The site runs as a task on the workers, not on this thread: the accept loop then wakes
    // no second thread for every connection.
    let site = runtime.block_on(async {
        tokio::spawn(run(args))
            .await
            .unwrap_or_else(|e| Err(format!("stopped: {e}")))
    });
    match site {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sqrl-site: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("http://127.0.0.1:8080", false),
            Ok((false, "127.0.0.1:8080".into()))
        );
        assert_eq!(
            parse_origin("https://example.com/", false),
            Ok((true, "example.com".into()))
        );
        assert!(parse_origin("http://example.com", false).is_err());
        assert!(parse_origin("http://example.com", true).is_ok());
        assert!(parse_origin("example.com", false).is_err());
        assert!(parse_origin("https://example.com/path", false).is_err());
        assert_eq!(
            parse_origin("http://[::1]:8080", false),
            Ok((false, "[::1]:8080".into()))
        );
    }

    /// Flows in a shared store are kept for the longest code lifetime any instance can be
    /// started with: an instance with a shorter one must not forget a used code that another
    /// instance would still take.
    #[test]
    fn shared_flows_outlive_every_code_lifetime_an_instance_may_accept() {
        assert!(Args::try_parse_from(["sqrl-site", "--nut-lifetime", "900"]).is_ok());
        assert!(Args::try_parse_from(["sqrl-site", "--nut-lifetime", "901"]).is_err());
        let short = Lifetimes {
            nut: 60,
            ..Lifetimes::default()
        };
        let longest = Lifetimes {
            nut: backends::LONGEST_NUT_LIFETIME,
            ..Lifetimes::default()
        };
        assert_eq!(
            backends::flow_retention(short, true),
            short.flow_retention()
        );
        assert_eq!(
            backends::flow_retention(short, false),
            longest.flow_retention()
        );
        assert_eq!(
            backends::flow_retention(longest, false),
            longest.flow_retention()
        );
    }
}

//! `sqrl-site`: a complete small website with SQRL login, on an embedded SQLite database.
//!
//! `cargo run --release -p sqrl-site` serves <http://127.0.0.1:8080> with `sqrl-site.sqlite`.

mod backends;
mod keys;
mod pages;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::{Parser, ValueEnum};
use sqrl_axum::{HttpSettings, SqrlHttp};
use sqrl_server::{AskPolicy, Config, Lifetimes, Rule, Server, SqrlServer};

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
    /// Seconds a login code stays valid
    #[arg(long, env = "SQRL_SITE_NUT_LIFETIME", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=3600))]
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
    /// Login codes each IP may request per minute
    #[arg(long, default_value_t = 60)]
    codes_per_minute: u32,
    /// Ask the user on the phone to confirm each login, naming this browser: `offer` asks
    /// known users and accepts clients that do not implement questions; `require` asks
    /// everyone and refuses such clients; `off` never asks (see spec/server.md)
    #[arg(long, env = "SQRL_SITE_ASK", value_enum, default_value_t = Ask::Offer)]
    ask: Ask,
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

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let (secure, host) = parse_origin(&origin, args.allow_plain_http)?;
    let origin = origin.trim_end_matches('/').to_owned();
    let backends = backends::open(&args.database, args.redis.as_deref(), args.nut_lifetime).await?;
    let store = backends.store.clone();
    let keys = keys::load_or_create(&*store, backends.sqlite_path.as_deref()).await?;
    let mut config = Config::new(&host);
    config.origin = origin.clone();
    config.lifetimes = Lifetimes {
        nut: args.nut_lifetime,
        ..Lifetimes::default()
    };
    config.ask = args.ask.into();
    let server = Server::new(config, &keys.nut, &keys.browser);
    let settings = HttpSettings {
        secure_cookies: secure,
        after_login: "/account".into(),
        login_page: "/".into(),
        trusted_proxies: if args.trust_forwarded_for {
            1
        } else {
            args.trusted_proxies
        },
        mint_rule: Rule {
            name: "codes",
            burst: args.codes_per_minute.max(1),
            per_second: f64::from(args.codes_per_minute) / 60.0,
        },
        ..HttpSettings::default()
    };
    let sqrl = SqrlHttp::builder(backends.attach(SqrlServer::new(server, store)))
        .settings(settings)
        .on_login(|event| {
            tracing::info!(account = %event.account, ip = %event.ip, browser = %event.browser, cps = event.via_cps, "login");
        })
        .build();

    // Housekeeping: forget flows older than a day.
    let cleaner = sqrl.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(600)).await;
            let before = cleaner.now().saturating_sub(86_400);
            if let Err(e) = cleaner.sqrl().store().purge_flows(before).await {
                tracing::warn!(error = %e, "could not purge old login flows");
            }
        }
    });

    let app = pages::router(sqrl.clone(), origin.clone()).merge(sqrl.router());
    println!(
        "sqrl-site listening on http://{local}  (public origin {origin}, {})",
        backends.describe
    );
    // Small writes (SSE events, replies) go out at once, not after a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
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
    match runtime.block_on(run(args)) {
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
}

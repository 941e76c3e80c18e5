//! The site's flags (and their environment variables), as clap parses them. They become a
//! checked [`SiteConfig`](crate::config::SiteConfig) before anything is opened.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sqrl_server::AskPolicy;

/// The longest `--nut-lifetime` the site accepts: 15 minutes. A code on screen for longer
/// is more exposure than any visit needs (the default is 5), and flows in a shared store are
/// kept for this long (see [`Lifetimes::shared_flow_retention`](sqrl_server::Lifetimes::shared_flow_retention)).
pub(crate) const LONGEST_NUT_LIFETIME: u64 = 900;

// These doc comments are the `--help` text, written for a terminal (bare URLs, `<bind>`).
#[allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]
#[derive(Debug, Parser)]
#[command(
    name = "sqrl-site",
    version,
    about = "A website with SQRL login on an embedded database"
)]
pub(crate) struct Args {
    /// Manage the OpenID Connect provider instead of serving
    #[command(subcommand)]
    pub(crate) command: Option<crate::clients::Command>,
    /// Address to listen on
    #[arg(long, env = "SQRL_SITE_BIND", default_value = "127.0.0.1:8080")]
    pub(crate) bind: SocketAddr,
    /// The site's public origin, e.g. https://example.com (its host and port go into SQRL
    /// URLs) [default: http://<bind>]
    #[arg(long, env = "SQRL_SITE_ORIGIN")]
    pub(crate) origin: Option<String>,
    /// Where accounts, sessions and the site's keys live: a SQLite file (created if missing;
    /// nothing to install) or a postgres://user@host/db URL (several instances share it)
    #[arg(
        long,
        env = "SQRL_SITE_DATABASE",
        default_value = "sqrl-site.sqlite",
        global = true
    )]
    pub(crate) database: String,
    /// Keep login flows, live status events and rate limits in Redis (redis://host:port),
    /// so that several instances behind one origin act as one site
    #[arg(long, env = "SQRL_SITE_REDIS")]
    pub(crate) redis: Option<String>,
    /// Seconds a login code stays valid (10 to 900)
    #[arg(long, env = "SQRL_SITE_NUT_LIFETIME", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=LONGEST_NUT_LIFETIME))]
    pub(crate) nut_lifetime: u64,
    /// Allow a plain-HTTP origin for a host that is not loopback (only behind a TLS proxy)
    #[arg(long)]
    pub(crate) allow_plain_http: bool,
    /// Reverse proxies of your own in front of the site: the client IP is the N-th
    /// X-Forwarded-For value from the right (what the farthest proxy saw); values left of it
    /// come from the client and are ignored. 0 ignores the header
    #[arg(
        long,
        env = "SQRL_SITE_TRUSTED_PROXIES",
        value_name = "N",
        default_value_t = 0
    )]
    pub(crate) trusted_proxies: usize,
    /// The same as --trusted-proxies 1 (one proxy of your own in front of the site)
    #[arg(long, conflicts_with = "trusted_proxies")]
    pub(crate) trust_forwarded_for: bool,
    /// Login codes each client (IPv4 address, IPv6 /64) may request per minute
    #[arg(long, env = "SQRL_SITE_CODES_PER_MINUTE", default_value_t = 60)]
    pub(crate) codes_per_minute: u32,
    /// Logins each client (IPv4 address, IPv6 /64) may start per minute (a phone's first
    /// query); raise both limits only for load tests
    #[arg(long, env = "SQRL_SITE_SCANS_PER_MINUTE", default_value_t = 30)]
    pub(crate) scans_per_minute: u32,
    /// Most login pages watching their status at once (each holds a connection); once 3/4
    /// of them are open, each client may hold only 2
    #[arg(long, env = "SQRL_SITE_MAX_STREAMS", value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_streams: u32,
    /// Ask the user on the phone to confirm each login, naming this browser: `offer` asks
    /// known users and accepts clients that do not implement questions; `require` asks
    /// everyone and refuses such clients; `off` never asks (see spec/server.md)
    #[arg(long, env = "SQRL_SITE_ASK", value_enum, default_value_t = Ask::Offer)]
    pub(crate) ask: Ask,
    /// Test a SQRL client: grade every request a client sends to this site against the
    /// protocol (line endings, padding, `ver`, `opt=`, signatures, re-key fields, `btn` after
    /// `ask`, CPS) and show the grades at /client-check (JSON: /client-check.json); logins
    /// still work (see docs/client-check.md)
    #[arg(long, env = "SQRL_SITE_CHECK_CLIENTS")]
    pub(crate) check_clients: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(
        long,
        env = "SQRL_SITE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(
        long,
        env = "SQRL_SITE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a local CA kept in DIR (made on first start:
    /// ca.pem to trust, ca-key.pem, cert.pem, key.pem); prints how to trust the CA
    #[arg(long, env = "SQRL_SITE_TLS_SELF_SIGNED", value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) tls_self_signed: Option<PathBuf>,
    /// With HTTPS, also listen here for plain HTTP that only redirects (301) to the https://
    /// origin
    #[arg(long, env = "SQRL_SITE_HTTP_REDIRECT_BIND", value_name = "ADDR")]
    pub(crate) http_redirect_bind: Option<SocketAddr>,
    /// Seconds a connection has to send each request head (from connecting, or from its
    /// previous response: idle keep-alive connections close then too)
    #[arg(long, env = "SQRL_SITE_HEADER_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) header_timeout: Duration,
    /// Seconds a request body has to arrive after its head
    #[arg(long, env = "SQRL_SITE_BODY_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) body_timeout: Duration,
    /// Seconds a write to a client may make no progress (a client that stops reading its
    /// responses) before the connection is closed
    #[arg(long, env = "SQRL_SITE_WRITE_TIMEOUT", value_name = "SECS", default_value = "30", value_parser = seconds)]
    pub(crate) write_timeout: Duration,
    /// Serve Prometheus metrics at http://<ADDR>/metrics on a listener of their own (bind
    /// it to a private interface or loopback: the public listener never serves them)
    #[arg(long, env = "SQRL_SITE_METRICS_BIND", value_name = "ADDR")]
    pub(crate) metrics_bind: Option<SocketAddr>,
    /// Seconds a stop (SIGTERM or Ctrl-C) waits for requests in flight to finish, after it
    /// stopped accepting connections and ended the status streams (their pages reconnect)
    #[arg(long, env = "SQRL_SITE_SHUTDOWN_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) shutdown_timeout: Duration,
    /// Seconds a TLS handshake may take
    #[arg(long, env = "SQRL_SITE_HANDSHAKE_TIMEOUT", value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) handshake_timeout: Duration,
    /// Most open connections; more are closed at once [default: from the file-descriptor
    /// limit, raised to its maximum: 7/8 of it less 64, at most 50 000]
    #[arg(long, env = "SQRL_SITE_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,
    /// Most open connections from one client (an IPv4 address, an IPv6 /64); more are closed
    /// at once [default: a quarter of --max-connections, at most 256; with
    /// --trusted-proxies, the same as --max-connections, since every connection comes from
    /// the proxy]
    #[arg(long, env = "SQRL_SITE_MAX_CONNECTIONS_PER_CLIENT", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections_per_client: Option<u32>,
    /// Forward-auth for apps behind your reverse proxy (nginx auth_request, Caddy
    /// forward_auth, Traefik): browsers may be sent back to hosts of DOMAIN (and hosts under
    /// it) after logging in. Repeat for several domains; enables /auth/check and /auth/forward
    #[arg(
        long = "forward-auth-domain",
        env = "SQRL_SITE_FORWARD_AUTH_DOMAINS",
        value_name = "DOMAIN",
        value_delimiter = ','
    )]
    pub(crate) forward_auth_domains: Vec<String>,
    /// Addresses or networks (CIDR) the reverse proxies connect from; only they get answers
    /// from /auth/check and /auth/forward [default: loopback]
    #[arg(
        long = "forward-auth-proxy",
        env = "SQRL_SITE_FORWARD_AUTH_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub(crate) forward_auth_proxies: Vec<sqrl_axum::forward_auth::Network>,
    /// Forward-auth's cookie for every host under DOMAIN, for apps on sibling hosts of the
    /// site (the site's own session cookie stays on its host)
    #[arg(long, env = "SQRL_SITE_COOKIE_DOMAIN", value_name = "DOMAIN")]
    pub(crate) cookie_domain: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Ask {
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

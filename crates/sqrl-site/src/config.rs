//! The site's configuration as a value: [`SiteConfig::from_args`] checks the flags and turns
//! them into the settings of every layer (origin, TLS, lifetimes, limits, the HTTP layer's
//! settings, the listener's limits, the backends) without opening anything, so that
//! [`run`](crate::run) only binds, opens and serves, and every rule here is unit-tested.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use sqrl_axum::forward_auth::ForwardAuthSettings;
use sqrl_axum::streams::StreamLimits;
use sqrl_axum::{HttpSettings, Origin, OriginError};
use sqrl_server::{AskPolicy, Lifetimes, Rule};

use crate::args::{Args, LONGEST_NUT_LIFETIME};
use crate::serve;

/// `--origin` checked by [`Origin::parse`], refused with the flag's own words.
/// A domain name as typed (`Example.COM.`, `bücher.example`): lower-case ASCII (IDNA), no
/// trailing dot; anything that is not a host name is refused (it goes into cookies and is
/// compared with hosts).
pub(crate) fn domain_name(text: &str) -> Result<String, String> {
    let ascii = idna::domain_to_ascii(text.trim().trim_end_matches('.'))
        .map_err(|_| format!("{text:?} is not a domain name"))?;
    let valid = !ascii.is_empty()
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(ascii)
    } else {
        Err(format!("{text:?} is not a domain name"))
    }
}

pub(crate) fn parse_origin(origin: &str, allow_plain_http: bool) -> Result<Origin, String> {
    Origin::parse(origin, allow_plain_http).map_err(|e| match e {
        OriginError::Scheme => format!("--origin must start with https:// or http:// (got {origin})"),
        OriginError::NotBare => format!("--origin must be scheme://host[:port] only (got {origin})"),
        OriginError::PlainHttp { host } => format!(
            "refusing plain HTTP for {host}: SQRL clients connect with HTTPS; use an https:// origin \
             (behind a TLS proxy) or pass --allow-plain-http"
        ),
        OriginError::Host(e) => format!("--origin host cannot be used in a SQRL URL: {e}"),
        other => format!("--origin: {other}"),
    })
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Plain HTTP (behind a TLS proxy, or on loopback).
    Off,
    /// A certificate chain and its key, from PEM files.
    Files {
        /// The chain.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
    },
    /// A certificate from a local CA kept in this directory (made on first start).
    SelfSigned(PathBuf),
}

impl TlsMode {
    /// The site serves HTTPS itself.
    pub(crate) fn is_on(&self) -> bool {
        !matches!(self, TlsMode::Off)
    }
}

/// The listener's limits as the flags give them; the defaults depend on the file-descriptor
/// limit, known only at start ([`ListenerFlags::limits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerFlags {
    /// `--handshake-timeout`.
    pub(crate) handshake_timeout: Duration,
    /// `--header-timeout`.
    pub(crate) header_timeout: Duration,
    /// `--body-timeout`.
    pub(crate) body_timeout: Duration,
    /// `--write-timeout`.
    pub(crate) write_timeout: Duration,
    /// `--max-connections`.
    pub(crate) max_connections: Option<usize>,
    /// `--max-connections-per-client`.
    pub(crate) max_per_client: Option<usize>,
    /// Connections come through proxies of the site's own (one client address for all).
    pub(crate) behind_proxies: bool,
}

impl ListenerFlags {
    /// The listener's limits under the file-descriptor limit `fd_limit`.
    pub(crate) fn limits(&self, fd_limit: Option<u64>) -> serve::Limits {
        let max_connections = self
            .max_connections
            .unwrap_or_else(|| serve::default_max_connections(fd_limit));
        let max_per_client = match self.max_per_client {
            Some(n) => n.min(max_connections),
            None if self.behind_proxies => max_connections,
            None => serve::default_max_per_client(max_connections),
        };
        serve::Limits {
            handshake_timeout: self.handshake_timeout,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            write_timeout: self.write_timeout,
            max_connections,
            max_per_client,
        }
    }
}

/// Where the origin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginSetting {
    /// `--origin`.
    Given(Origin),
    /// `http(s)://<the address bound>` (its port is known once bound).
    Bound {
        /// With HTTPS.
        secure: bool,
        /// `--allow-plain-http`.
        allow_plain_http: bool,
    },
}

impl OriginSetting {
    /// The origin, once the listener is bound to `local`.
    pub(crate) fn resolve(&self, local: SocketAddr) -> Result<Origin, String> {
        match self {
            OriginSetting::Given(origin) => Ok(origin.clone()),
            OriginSetting::Bound {
                secure,
                allow_plain_http,
            } => parse_origin(&format!("{}://{local}", scheme(*secure)), *allow_plain_http),
        }
    }
}

/// The backends' addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendUrls {
    /// `--database`: a SQLite file or a `postgres://` URL.
    pub(crate) database: String,
    /// `--redis`.
    pub(crate) redis: Option<String>,
}

/// Everything the site needs to know before it opens anything, checked.
#[derive(Debug, Clone)]
pub(crate) struct SiteConfig {
    /// Where to listen.
    pub(crate) bind: SocketAddr,
    /// The public origin.
    pub(crate) origin: OriginSetting,
    /// HTTPS, and with which certificate.
    pub(crate) tls: TlsMode,
    /// With HTTPS, a plain-HTTP listener that redirects to the origin.
    pub(crate) http_redirect_bind: Option<SocketAddr>,
    /// How long codes and redemptions last.
    pub(crate) lifetimes: Lifetimes,
    /// Whether the phone is asked to confirm a login.
    pub(crate) ask: AskPolicy,
    /// Flows one client opens (a phone's first query).
    pub(crate) scan_rule: Rule,
    /// The HTTP layer's settings.
    pub(crate) http: HttpSettings,
    /// Forward-auth, with `--forward-auth-domain`.
    pub(crate) forward_auth: Option<ForwardAuthSettings>,
    /// The listener's limits.
    pub(crate) listener: ListenerFlags,
    /// The backends.
    pub(crate) backends: BackendUrls,
    /// How long a stop waits for requests in flight.
    pub(crate) shutdown_timeout: Duration,
    /// Where the metrics listener binds, if anywhere.
    pub(crate) metrics_bind: Option<SocketAddr>,
    /// `--check-clients`: grade the requests of the clients that log in.
    pub(crate) check_clients: bool,
}

fn scheme(secure: bool) -> &'static str {
    if secure {
        "https"
    } else {
        "http"
    }
}

/// A limit of `n` a minute, with a burst of `n` (at least 1).
pub(crate) fn per_minute(name: &'static str, n: u32) -> Rule {
    Rule {
        name,
        burst: n.max(1),
        per_second: f64::from(n) / 60.0,
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl SiteConfig {
    /// Checks the flags and builds the configuration; the error is the message to print.
    pub(crate) fn from_args(args: Args) -> Result<Self, String> {
        let tls = match (args.tls_cert, args.tls_key, args.tls_self_signed) {
            (Some(cert), Some(key), _) => TlsMode::Files { cert, key },
            (_, _, Some(dir)) => TlsMode::SelfSigned(dir),
            _ => TlsMode::Off,
        };
        let origin = match &args.origin {
            Some(text) => {
                let origin = parse_origin(text, args.allow_plain_http)?;
                if tls.is_on() && !origin.secure {
                    return Err(format!(
                        "with HTTPS the origin must be https:// too (got {})",
                        origin.url
                    ));
                }
                OriginSetting::Given(origin)
            }
            None => {
                // The port is known once bound; the host decides whether the origin is
                // acceptable, so it is checked now.
                let host = match args.bind.ip() {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
                };
                parse_origin(
                    &format!("{}://{host}", scheme(tls.is_on())),
                    args.allow_plain_http,
                )?;
                OriginSetting::Bound {
                    secure: tls.is_on(),
                    allow_plain_http: args.allow_plain_http,
                }
            }
        };
        if args.http_redirect_bind.is_some() && !tls.is_on() {
            return Err(
                "--http-redirect-bind needs HTTPS (--tls-cert and --tls-key, or --tls-self-signed)"
                    .into(),
            );
        }
        if args.nut_lifetime > LONGEST_NUT_LIFETIME {
            return Err(format!(
                "--nut-lifetime must be at most {LONGEST_NUT_LIFETIME} seconds"
            ));
        }
        let secure = match &origin {
            OriginSetting::Given(origin) => origin.secure,
            OriginSetting::Bound { secure, .. } => *secure,
        };
        let trusted_proxies = if args.trust_forwarded_for {
            1
        } else {
            args.trusted_proxies
        };
        let forward_auth = if args.forward_auth_domains.is_empty() {
            if !args.forward_auth_proxies.is_empty() || args.cookie_domain.is_some() {
                return Err(
                    "--forward-auth-proxy and --cookie-domain need --forward-auth-domain".into(),
                );
            }
            None
        } else {
            let mut settings = ForwardAuthSettings {
                domains: args
                    .forward_auth_domains
                    .iter()
                    .map(|d| domain_name(d))
                    .collect::<Result<_, _>>()?,
                cookie_domain: args.cookie_domain.as_deref().map(domain_name).transpose()?,
                ..ForwardAuthSettings::default()
            };
            if !args.forward_auth_proxies.is_empty() {
                settings.proxies = args.forward_auth_proxies.clone();
            }
            Some(settings)
        };
        let http = HttpSettings {
            secure_cookies: secure,
            after_login: "/account".into(),
            login_page: "/".into(),
            trusted_proxies,
            mint_rule: per_minute("codes", args.codes_per_minute),
            streams: StreamLimits {
                total: to_usize(args.max_streams),
                ..StreamLimits::default()
            },
            ..HttpSettings::default()
        };
        Ok(Self {
            bind: args.bind,
            origin,
            tls,
            http_redirect_bind: args.http_redirect_bind,
            lifetimes: Lifetimes {
                nut: args.nut_lifetime,
                ..Lifetimes::default()
            },
            ask: args.ask.into(),
            scan_rule: per_minute("scans", args.scans_per_minute),
            http,
            forward_auth,
            listener: ListenerFlags {
                handshake_timeout: args.handshake_timeout,
                header_timeout: args.header_timeout,
                body_timeout: args.body_timeout,
                write_timeout: args.write_timeout,
                max_connections: args.max_connections.map(to_usize),
                max_per_client: args.max_connections_per_client.map(to_usize),
                behind_proxies: trusted_proxies > 0,
            },
            backends: BackendUrls {
                database: args.database,
                redis: args.redis,
            },
            shutdown_timeout: args.shutdown_timeout,
            metrics_bind: args.metrics_bind,
            check_clients: args.check_clients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(flags: &[&str]) -> Result<SiteConfig, String> {
        let args = Args::try_parse_from(std::iter::once("sqrl-site").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        SiteConfig::from_args(args)
    }

    #[test]
    fn origins() {
        let parse = |text, allow| parse_origin(text, allow).map(|o| (o.secure, o.host_port));
        assert_eq!(
            parse("http://127.0.0.1:8080", false),
            Ok((false, "127.0.0.1:8080".into()))
        );
        assert_eq!(
            parse("https://example.com/", false),
            Ok((true, "example.com".into()))
        );
        assert!(parse("http://example.com", false).is_err());
        assert!(parse("http://example.com", true).is_ok());
        assert!(parse("example.com", false).is_err());
        assert!(parse("https://example.com/path", false).is_err());
        assert_eq!(
            parse("http://[::1]:8080", false),
            Ok((false, "[::1]:8080".into()))
        );
        let v6 = parse_origin("https://[2001:db8::1]:8443/", false).unwrap();
        assert_eq!(v6.host, "2001:db8::1");
        assert_eq!(v6.url, "https://[2001:db8::1]:8443");
    }

    #[test]
    fn the_defaults_serve_plain_http_on_loopback() {
        let c = config(&[]).unwrap();
        assert_eq!(c.tls, TlsMode::Off);
        assert_eq!(
            c.origin
                .resolve("127.0.0.1:8080".parse().unwrap())
                .unwrap()
                .url,
            "http://127.0.0.1:8080"
        );
        assert!(!c.http.secure_cookies);
        assert_eq!(c.lifetimes, Lifetimes::default());
        assert_eq!(c.ask, AskPolicy::Offer);
        assert_eq!(c.http.mint_rule.burst, 60);
        assert_eq!(c.scan_rule.burst, 30);
        assert!((c.scan_rule.per_second - 0.5).abs() < 1e-9);
        assert_eq!(c.http.streams.total, 10_000);
        assert_eq!(c.backends.database, "sqrl-site.sqlite");
        assert_eq!(c.backends.redis, None);
    }

    /// The messages the site prints for bad flags (the integration tests read them too).
    #[test]
    fn bad_flags_are_refused_before_anything_is_opened() {
        let refused = |flags: &[&str], words: &str| {
            let message = config(flags).unwrap_err();
            assert!(message.contains(words), "{flags:?}: {message}");
        };
        refused(&["--origin", "http://example.com"], "refusing plain HTTP");
        refused(
            &["--bind", "0.0.0.0:8080"],
            "refusing plain HTTP for 0.0.0.0",
        );
        refused(
            &[
                "--tls-self-signed",
                "/tmp/x",
                "--origin",
                "http://localhost:1",
            ],
            "origin must be https://",
        );
        refused(
            &["--http-redirect-bind", "127.0.0.1:0"],
            "--http-redirect-bind needs HTTPS",
        );
        refused(
            &["--origin", "ftp://example.com"],
            "must start with https://",
        );
        assert!(config(&["--bind", "0.0.0.0:0", "--allow-plain-http"]).is_ok());
        assert!(config(&["--bind", "0.0.0.0:0", "--tls-self-signed", "/tmp/x"]).is_ok());
    }

    #[test]
    fn flags_become_the_layers_settings() {
        let c = config(&[
            "--origin",
            "https://example.com",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--trust-forwarded-for",
            "--codes-per-minute",
            "0",
            "--scans-per-minute",
            "120",
            "--max-streams",
            "5",
            "--nut-lifetime",
            "60",
            "--ask",
            "require",
            "--max-connections",
            "100",
            "--redis",
            "redis://127.0.0.1",
        ])
        .unwrap();
        assert_eq!(
            c.tls,
            TlsMode::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            }
        );
        assert!(c.http.secure_cookies);
        assert_eq!(c.http.trusted_proxies, 1);
        assert_eq!(c.http.mint_rule.burst, 1, "a burst of at least one");
        assert!(c.http.mint_rule.per_second.abs() < 1e-9);
        assert_eq!(c.scan_rule.burst, 120);
        assert_eq!(c.http.streams.total, 5);
        assert_eq!(c.lifetimes.nut, 60);
        assert_eq!(c.ask, AskPolicy::Require);
        assert_eq!(c.backends.redis.as_deref(), Some("redis://127.0.0.1"));
        // Behind a proxy every connection comes from it: no per-client cap below the total.
        let limits = c.listener.limits(Some(4096));
        assert_eq!((limits.max_connections, limits.max_per_client), (100, 100));
        let plain = config(&["--max-connections", "100"]).unwrap();
        assert_eq!(plain.listener.limits(None).max_per_client, 25);
        let capped = config(&[
            "--max-connections",
            "10",
            "--max-connections-per-client",
            "50",
        ])
        .unwrap();
        assert_eq!(capped.listener.limits(None).max_per_client, 10);
    }

    /// Flows in a shared store are kept for the longest code lifetime any instance can be
    /// started with: an instance with a shorter one must not forget a used code that another
    /// instance would still take.
    #[test]
    fn shared_flows_outlive_every_code_lifetime_an_instance_may_accept() {
        assert!(config(&["--nut-lifetime", "900"]).is_ok());
        assert!(config(&["--nut-lifetime", "901"]).is_err());
        let short = config(&["--nut-lifetime", "60"]).unwrap();
        let longest = Lifetimes {
            nut: LONGEST_NUT_LIFETIME,
            ..Lifetimes::default()
        };
        let mut server_config = sqrl_server::Config::new("127.0.0.1:8080");
        server_config.lifetimes = short.lifetimes;
        let server = sqrl_server::Endpoint::new(server_config, &[1; 32], &[2; 32]);
        let driver = sqrl_server::SqrlServer::in_memory(server);
        assert_eq!(driver.flow_retention(), short.lifetimes.flow_retention());
        let shared = driver.with_shared_flows(LONGEST_NUT_LIFETIME);
        assert_eq!(shared.flow_retention(), longest.flow_retention());
    }
}

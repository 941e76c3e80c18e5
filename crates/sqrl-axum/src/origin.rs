//! A site's public origin, checked once for every user of it (the ready site's `--origin`,
//! [`SqrlHttp::setup`](crate::SqrlHttp::setup)): `http(s)://host[:port]`, usable in a SQRL
//! URL, and plain HTTP only where no network can see it.

use std::net::IpAddr;

/// A checked public origin: `http(s)://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The origin without a trailing slash, e.g. `https://example.com`.
    pub url: String,
    /// `https://`: cookies get `Secure` (the session cookie `__Host-`).
    pub secure: bool,
    /// `host[:port]` as in the origin (IPv6 in brackets): what SQRL URLs carry.
    pub host_port: String,
    /// The host alone (IPv6 without brackets): what a certificate names.
    pub host: String,
}

/// Why an origin was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginError {
    /// Neither `https://` nor `http://`.
    Scheme,
    /// More than `scheme://host[:port]` (a path, query, fragment or user), or no host.
    NotBare,
    /// Plain HTTP for a host that is not loopback; SQRL clients connect with HTTPS.
    PlainHttp {
        /// The host.
        host: String,
    },
    /// The host and port cannot be used in a SQRL URL.
    Host(sqrl_proto::Error),
}

impl core::fmt::Display for OriginError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Scheme => f.write_str("an origin starts with https:// or http://"),
            Self::NotBare => f.write_str("an origin is scheme://host[:port] only"),
            Self::PlainHttp { host } => write!(
                f,
                "plain HTTP is for loopback hosts only, not {host}: SQRL clients connect with HTTPS"
            ),
            Self::Host(e) => write!(f, "the host cannot be used in a SQRL URL: {e}"),
        }
    }
}

impl std::error::Error for OriginError {}

impl Origin {
    /// Checks an origin: `http://` or `https://`, a host and at most a port, usable in a SQRL
    /// URL, and plain HTTP only for a loopback host (`localhost`, `127.0.0.0/8`, `::1`) unless
    /// `allow_plain_http` (a site behind a TLS proxy of its own).
    pub fn parse(origin: &str, allow_plain_http: bool) -> Result<Self, OriginError> {
        let (secure, rest) = if let Some(rest) = origin.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = origin.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(OriginError::Scheme);
        };
        let host_port = rest.trim_end_matches('/');
        let bare = |c: char| c.is_whitespace() || "/?#@".contains(c);
        if host_port.is_empty() || host_port.contains(bare) {
            return Err(OriginError::NotBare);
        }
        let (host, _) = sqrl_proto::split_authority(host_port).map_err(OriginError::Host)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !secure && !loopback && !allow_plain_http {
            return Err(OriginError::PlainHttp {
                host: host.to_owned(),
            });
        }
        // The SQRL URL must itself parse (IDNs, ports, IPv6 literals).
        sqrl_proto::SqrlUrl::parse(&format!("sqrl://{host_port}/sqrl?nut=x"))
            .map_err(OriginError::Host)?;
        Ok(Self {
            url: format!("{}://{host_port}", if secure { "https" } else { "http" }),
            secure,
            host_port: host_port.to_owned(),
            host: host.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(origin: &str) -> Result<(bool, String, String), OriginError> {
        Origin::parse(origin, false).map(|o| (o.secure, o.host_port, o.host))
    }

    #[test]
    fn origins_are_scheme_and_authority_only() {
        let ok = |secure, host_port: &str, host: &str| Ok((secure, host_port.into(), host.into()));
        assert_eq!(
            parts("https://example.com"),
            ok(true, "example.com", "example.com")
        );
        assert_eq!(
            parts("https://example.com/"),
            ok(true, "example.com", "example.com")
        );
        assert_eq!(
            parts("http://127.0.0.1:3000"),
            ok(false, "127.0.0.1:3000", "127.0.0.1")
        );
        assert_eq!(parts("http://[::1]:3000"), ok(false, "[::1]:3000", "::1"));
        assert_eq!(
            parts("http://localhost:3000"),
            ok(false, "localhost:3000", "localhost")
        );
        for bad in ["example.com", "ftp://example.com", "https://"] {
            assert!(parts(bad).is_err(), "{bad}");
        }
        for bad in [
            "https://example.com/login",
            "https://user@example.com",
            "https://example.com?x=1",
            "https://exa mple.com",
        ] {
            assert_eq!(parts(bad), Err(OriginError::NotBare), "{bad}");
        }
    }

    /// Before, `SqrlHttp::setup` took any `http://` origin (a production session cookie
    /// without `Secure`) and any port or bracket, with which every phone login then failed.
    #[test]
    fn setup_origins_refused_plain_http_off_loopback_and_bad_hosts() {
        assert_eq!(
            parts("http://example.com"),
            Err(OriginError::PlainHttp {
                host: "example.com".into()
            })
        );
        assert!(Origin::parse("http://example.com", true).is_ok());
        for bad in ["https://example.com:abc", "https://[::1", "https://[::1]x"] {
            assert!(matches!(parts(bad), Err(OriginError::Host(_))), "{bad}");
        }
    }
}

//! `sqrl://` URLs: parsing, the auth domain that keys the per-site identity, and the HTTPS
//! address a client posts to.
//!
//! The rules are in `spec/protocol.md` §2. In short: the scheme is `sqrl` (any case); userinfo
//! and port never reach the auth domain; the host is lower-cased and IDNs become punycode; the
//! port is kept for the connection; `x=N` appends the first N characters of the path (case
//! kept); the exact URL text is what the first query signs as `server=`.

use core::fmt;
use core::net::Ipv6Addr;

use crate::{b64, Error, Result};

/// Longest SQRL URL accepted (a QR code cannot carry much more).
pub const MAX_URL_LEN: usize = 2048;

/// A parsed `sqrl://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SqrlUrl {
    text: String,
    host: String,
    port: Option<u16>,
    path: String,
    query: String,
    nut: String,
    extension: usize,
    cancel: Option<String>,
    /// `can=` when it was a root-anchored path: resolved again if the scheme changes.
    cancel_path: Option<String>,
    /// The site is reached over plain HTTP (a loopback test site): root-anchored links
    /// resolve to `http://`.
    plain_http: bool,
    auth_domain: String,
}

impl fmt::Debug for SqrlUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqrlUrl")
            .field("text", &self.text)
            .field("auth_domain", &self.auth_domain)
            .finish()
    }
}

impl fmt::Display for SqrlUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl core::str::FromStr for SqrlUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Longest scheme named in an error.
const MAX_SCHEME_LEN: usize = 32;

/// The scheme of `text` when it starts like an absolute URL (`scheme://`, RFC 3986 scheme
/// characters, at most 32 of them); `None` otherwise.
pub(crate) fn scheme_of(text: &[u8]) -> Option<&str> {
    let end = text
        .windows(3)
        .take(MAX_SCHEME_LEN + 1)
        .position(|w| w == b"://")?;
    let scheme = text.get(..end)?;
    let first = scheme.first()?;
    let valid = first.is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then(|| core::str::from_utf8(scheme).ok()).flatten()
}

/// The error for text that is not a `sqrl://` URL: the scheme it has, if any.
pub(crate) fn scheme_error(text: &[u8]) -> Error {
    match scheme_of(text) {
        Some(scheme) => Error::UnsupportedScheme {
            scheme: scheme.to_owned(),
        },
        None => Error::UrlScheme,
    }
}

/// Characters allowed in the path and query: printable ASCII other than space and `#`.
fn check_ascii_part(part: &str, offset: usize) -> Result<()> {
    match part
        .bytes()
        .position(|b| !(b'!'..=b'~').contains(&b) || b == b'#')
    {
        Some(i) if part.as_bytes().get(i) == Some(&b'#') => Err(Error::UrlFragment),
        Some(i) => Err(Error::UrlCharacter {
            position: offset + i,
        }),
        None => Ok(()),
    }
}

fn normalise_host(host: &str) -> Result<String> {
    if host.is_empty() {
        return Err(Error::UrlHost {
            reason: "the host is empty",
        });
    }
    if let Some(inner) = host.strip_prefix('[') {
        let literal = inner.strip_suffix(']').ok_or(Error::UrlHost {
            reason: "unterminated IPv6 literal",
        })?;
        let address: Ipv6Addr = literal.parse().map_err(|_| Error::UrlHost {
            reason: "invalid IPv6 literal",
        })?;
        return Ok(format!("[{address}]"));
    }
    if host.contains(['%', '[', ']', '\\', '/', '@', ':']) {
        return Err(Error::UrlHost {
            reason: "character not allowed in a host name",
        });
    }
    let ascii = idna::domain_to_ascii(host).map_err(|_| Error::UrlHost {
        reason: "not a valid (internationalised) domain name",
    })?;
    if ascii.is_empty() || ascii.len() > 253 {
        return Err(Error::UrlHost {
            reason: "host name is empty or longer than 253 characters",
        });
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(Error::UrlHost {
                reason: "empty label (leading, doubled or trailing dot)",
            });
        }
        if label.len() > 63 {
            return Err(Error::UrlHost {
                reason: "label longer than 63 characters",
            });
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(Error::UrlHost {
                reason: "character not allowed in a host name",
            });
        }
    }
    Ok(ascii)
}

/// Splits an authority's `host[:port]` into the host and the port as written, if any. An IPv6
/// literal keeps its brackets: `[::1]:8080` gives `("[::1]", Some("8080"))`, where splitting
/// at the first colon would cut the address apart.
///
/// Userinfo (`user@`) is not removed, and neither part is checked beyond its shape: the
/// caller validates the host and parses the port. A `[` without its `]` is
/// [`Error::UrlHost`]; anything after the `]` other than `:port` is [`Error::UrlPort`].
pub fn split_authority(authority: &str) -> Result<(&str, Option<&str>)> {
    if !authority.starts_with('[') {
        return Ok(match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        });
    }
    let host = authority
        .split_inclusive(']')
        .next()
        .filter(|literal| literal.ends_with(']'))
        .ok_or(Error::UrlHost {
            reason: "unterminated IPv6 literal",
        })?;
    match authority.strip_prefix(host).unwrap_or_default() {
        "" => Ok((host, None)),
        after => after
            .strip_prefix(':')
            .map(|port| (host, Some(port)))
            .ok_or(Error::UrlPort),
    }
}

fn parse_port(text: &str) -> Result<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::UrlPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(Error::UrlPort),
        Ok(port) => Ok(port),
    }
}

/// Checks that `url` is an absolute `http://` or `https://` URL of printable ASCII.
pub(crate) fn check_absolute_http_url(url: &str) -> bool {
    let rest = strip_prefix_ignore_case(url, "https://")
        .or_else(|| strip_prefix_ignore_case(url, "http://"));
    match rest {
        Some(rest) => {
            !rest.is_empty()
                && !rest.starts_with('/')
                && url.bytes().all(|b| (b'!'..=b'~').contains(&b))
        }
        None => false,
    }
}

/// Checks a root-anchored path such as `qry=`: one leading `/`, printable ASCII, no `#`.
pub fn check_root_anchored(path: &str, name: &'static str) -> Result<()> {
    if !path.starts_with('/') || path.starts_with("//") || path.starts_with("/\\") {
        return Err(Error::NotRootAnchored { name });
    }
    if path.len() > MAX_URL_LEN
        || !path
            .bytes()
            .all(|b| (b'!'..=b'~').contains(&b) && b != b'#')
    {
        return Err(Error::InvalidValue {
            name,
            reason: "only printable ASCII without '#' is allowed",
        });
    }
    Ok(())
}

/// `scheme://host[:port]`.
fn origin_of(scheme: &str, host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

impl SqrlUrl {
    /// Parses a `sqrl://` URL. See the module documentation for the rules.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_URL_LEN {
            return Err(Error::TooLarge {
                what: "SQRL URL",
                limit: MAX_URL_LEN,
                found: text.len(),
            });
        }
        let rest = strip_prefix_ignore_case(text, "sqrl://")
            .ok_or_else(|| scheme_error(text.as_bytes()))?;
        let scheme_len = text.len() - rest.len();
        if let Some(position) = text.find(|c: char| c.is_control() || c.is_whitespace()) {
            return Err(Error::UrlCharacter { position });
        }

        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if tail.starts_with('#') {
            return Err(Error::UrlFragment);
        }
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, query),
            None => (tail, ""),
        };
        check_ascii_part(path, scheme_len + authority_end)?;
        check_ascii_part(query, scheme_len + authority_end + path.len() + 1)?;

        // Userinfo (anything up to the last '@') never reaches the domain or the connection.
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = split_authority(host_port)?;
        let port = port.map(parse_port).transpose()?;
        let host = normalise_host(host)?;

        let mut nut = None;
        let mut extension = None;
        let mut cancel = None;
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "nut" => &mut nut,
                "x" => &mut extension,
                "can" => &mut cancel,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                let name = match name {
                    "nut" => "nut",
                    "x" => "x",
                    _ => "can",
                };
                return Err(Error::UrlDuplicateParameter { name });
            }
        }
        let nut = match nut {
            Some(nut) if !nut.is_empty() => nut.to_owned(),
            _ => return Err(Error::UrlMissingNut),
        };
        let extension = match extension {
            None => 0,
            Some(x) => {
                if x.is_empty() || x.len() > 5 || !x.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::UrlExtension {
                        reason: "x must be a decimal number",
                    });
                }
                let n: usize = x.parse().map_err(|_| Error::UrlExtension {
                    reason: "x must be a decimal number",
                })?;
                // Counting never goes past the end of the path (the '?'): a larger x takes
                // the whole path (Operating Details' own table has x=16 for "/JIMBO").
                n.min(path.len())
            }
        };
        let mut cancel_path = None;
        let cancel = match cancel {
            // An empty `can=` names no page (GRC's `/nut.sqrl` writes one when the browser
            // sent no Referer): there is nothing to go back to, as without it.
            None | Some("") => None,
            Some(value) => {
                let bytes = b64::decode(value).map_err(|_| Error::UrlCancel {
                    reason: "not base64url",
                })?;
                let url = String::from_utf8(bytes).map_err(|_| Error::UrlCancel {
                    reason: "not UTF-8",
                })?;
                if check_absolute_http_url(&url) {
                    Some(url)
                } else if url.starts_with('/') {
                    // Root-anchored (`/sqrl`), as some servers send it: the page it names is
                    // on the site's own origin, as for a root-anchored `url=`.
                    check_root_anchored(&url, "can").map_err(|_| Error::UrlCancel {
                        reason: "a root-anchored path must be printable ASCII without '#'",
                    })?;
                    let resolved = format!("{}{url}", origin_of("https", &host, port));
                    cancel_path = Some(url);
                    Some(resolved)
                } else {
                    return Err(Error::UrlCancel {
                        reason: "neither an absolute http(s) URL nor a root-anchored path",
                    });
                }
            }
        };

        let mut auth_domain = host.clone();
        auth_domain.push_str(path.get(..extension).unwrap_or_default());
        Ok(Self {
            text: text.to_owned(),
            host,
            port,
            path: path.to_owned(),
            query: query.to_owned(),
            nut,
            extension,
            cancel,
            cancel_path,
            plain_http: false,
            auth_domain,
        })
    }

    /// The exact text that was parsed: what the first `query` signs as `server=`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The auth domain (site-key domain string): the HMAC message that selects the site key.
    pub fn auth_domain(&self) -> &str {
        &self.auth_domain
    }

    /// The host, lower-cased ASCII (punycode for IDNs; IPv6 literals in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, if the URL has one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path as written (empty for `sqrl://host?nut=...`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string as written, without `?`.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The nut.
    pub fn nut(&self) -> &str {
        &self.nut
    }

    /// The `x=` path extension length, 0 when absent.
    pub fn extension(&self) -> usize {
        self.extension
    }

    /// The decoded `can=` cancel URL, if any; a root-anchored one (`/sqrl`) resolved against
    /// [`origin`](Self::origin).
    pub fn cancel_url(&self) -> Option<&str> {
        self.cancel.as_deref()
    }

    /// `https://host[:port]`: scheme, host and port used for every request of the exchange.
    pub fn origin(&self) -> String {
        origin_of("https", &self.host, self.port)
    }

    /// Marks the site as reached over plain HTTP (a loopback test site, when the transport
    /// is allowed to): a root-anchored `url=` or `can=` then resolves to `http://`, the scheme
    /// the requests go over, instead of `https://`. Requests themselves are still addressed
    /// as [`request_url`](Self::request_url) gives them; the transport decides their scheme.
    pub fn with_plain_http_links(mut self) -> Self {
        self.plain_http = true;
        if let Some(path) = &self.cancel_path {
            self.cancel = Some(format!("{}{path}", self.link_origin()));
        }
        self
    }

    /// The origin root-anchored links resolve against: [`origin`](Self::origin), or its
    /// `http://` twin after [`with_plain_http_links`](Self::with_plain_http_links).
    fn link_origin(&self) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        origin_of(scheme, &self.host, self.port)
    }

    /// The first request's path and query: the URL's path (or `/`) and its full query string.
    pub fn path_and_query(&self) -> String {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        format!("{path}?{}", self.query)
    }

    /// The HTTPS URL the first `query` is posted to (userinfo dropped, port kept).
    pub fn request_url(&self) -> String {
        format!("{}{}", self.origin(), self.path_and_query())
    }

    /// The absolute address for a server's `url=` (where a CPS client sends the browser): an
    /// absolute `http(s)://` URL as is, or a root-anchored path (`/account`) resolved against
    /// [`origin`](Self::origin) (over `http://` after
    /// [`with_plain_http_links`](Self::with_plain_http_links)). Anything else is an error
    /// naming `url`.
    pub fn resolve_link(&self, url: &str) -> Result<String> {
        if check_absolute_http_url(url) {
            return Ok(url.to_owned());
        }
        if url.starts_with('/') {
            check_root_anchored(url, "url")?;
            return Ok(format!("{}{url}", self.link_origin()));
        }
        Err(Error::InvalidValue {
            name: "url",
            reason: "neither an absolute http(s) URL nor a root-anchored path",
        })
    }

    /// The HTTPS URL for a later request, from a server's root-anchored `qry=`.
    pub fn request_url_for(&self, qry: &str) -> Result<String> {
        check_root_anchored(qry, "qry")?;
        Ok(format!("{}{qry}", self.origin()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_authority_keeps_ipv6_brackets_and_the_port_text() {
        assert_eq!(split_authority("example.com"), Ok(("example.com", None)));
        assert_eq!(
            split_authority("example.com:8080"),
            Ok(("example.com", Some("8080")))
        );
        assert_eq!(split_authority("[::1]"), Ok(("[::1]", None)));
        assert_eq!(split_authority("[::1]:443"), Ok(("[::1]", Some("443"))));
        assert_eq!(split_authority("[fe80::1]:"), Ok(("[fe80::1]", Some(""))));
        assert_eq!(split_authority(""), Ok(("", None)));
    }

    #[test]
    fn split_authority_refuses_a_broken_ipv6_literal() {
        assert!(matches!(
            split_authority("[::1"),
            Err(Error::UrlHost { .. })
        ));
        assert_eq!(split_authority("[::1]8080"), Err(Error::UrlPort));
        assert_eq!(split_authority("[::1]x:1"), Err(Error::UrlPort));
    }

    fn domain(url: &str) -> String {
        SqrlUrl::parse(url).unwrap().auth_domain().to_owned()
    }

    /// Every row of the auth-domain table in the brief (Operating Details p.7).
    #[test]
    fn auth_domain_table() {
        assert_eq!(
            domain("sqrl://ExAmPlE.cOm/?nut=oOB4QOFJux5Z"),
            "example.com"
        );
        assert_eq!(
            domain("sqrl://example.com:44344/?nut=oOB4QOFJux5Z"),
            "example.com"
        );
        assert_eq!(
            domain("sqrl://jonny@example.com/?nut=oOB4QOFJux5Z"),
            "example.com"
        );
        assert_eq!(
            domain("sqrl://Jonny:Secret@example.com/?nut=oOB4QOFJux5Z"),
            "example.com"
        );
        assert_eq!(
            domain("sqrl://example.com/jimbo/?x=6&nut=oOB4QOFJux5Z"),
            "example.com/jimbo"
        );
        assert_eq!(
            domain("sqrl://EXAMPLE.COM/JIMBO?x=16&nut=oOB4QOFJux5Z"),
            "example.com/JIMBO"
        );
    }

    #[test]
    fn links_resolve_against_the_origin() {
        let url = SqrlUrl::parse("sqrl://u@Example.com:8443/sqrl?x=5&nut=a").unwrap();
        assert_eq!(
            url.resolve_link("/account?x=1").unwrap(),
            "https://example.com:8443/account?x=1"
        );
        assert_eq!(
            url.resolve_link("https://other.example/cps?t=1").unwrap(),
            "https://other.example/cps?t=1"
        );
        for bad in [
            "account",
            "//evil.example/",
            "javascript:alert(1)",
            "/a b",
            "",
        ] {
            assert!(url.resolve_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn grc_full_parsing_example() {
        let url = SqrlUrl::parse("sqrl://steve:badpass@SQRL.grc.com:8080/demo/cli.sqrl?x=5&nut=oOB4QOFJux5Z&can=aHR0cHM6Ly9zcXJsLmdyYy5jb20vYWNjb3VudC9jb25uZWN0ZWQtYWNjb3VudHMv").unwrap();
        assert_eq!(url.auth_domain(), "sqrl.grc.com/demo");
        assert_eq!(url.host(), "sqrl.grc.com");
        assert_eq!(url.port(), Some(8080));
        assert_eq!(url.nut(), "oOB4QOFJux5Z");
        assert_eq!(
            url.cancel_url(),
            Some("https://sqrl.grc.com/account/connected-accounts/")
        );
        assert_eq!(
            url.request_url(),
            "https://sqrl.grc.com:8080/demo/cli.sqrl?x=5&nut=oOB4QOFJux5Z&can=aHR0cHM6Ly9zcXJsLmdyYy5jb20vYWNjb3VudC9jb25uZWN0ZWQtYWNjb3VudHMv"
        );
    }

    /// Before, `can=` with no value (GRC's reference server sends one when the page that
    /// asked for the code sent no Referer) made the whole link "not a SQRL URL".
    #[test]
    fn an_empty_can_is_no_cancel_url_not_a_bad_link() {
        let url = SqrlUrl::parse("sqrl://localhost:18443/cli.sqrl?nut=gLfuETALveBI&can=").unwrap();
        assert_eq!(url.cancel_url(), None);
        assert_eq!(
            url.request_url(),
            "https://localhost:18443/cli.sqrl?nut=gLfuETALveBI&can="
        );
    }

    /// Before, `can=` holding base64url of `/sqrl` (a path only, as some servers send it)
    /// made the whole link unusable ("not an absolute http(s) URL").
    #[test]
    fn root_anchored_can_is_resolved_against_the_origin() {
        let url = SqrlUrl::parse(&format!(
            "sqrl://Example.com:8443/sqrl?nut=a&can={}",
            b64::encode("/sqrl")
        ))
        .unwrap();
        assert_eq!(url.cancel_url(), Some("https://example.com:8443/sqrl"));
        for bad in ["//evil.example/x", "/a#b", "sqrl", "/a b"] {
            let text = format!("sqrl://example.com/?nut=a&can={}", b64::encode(bad));
            assert!(
                matches!(SqrlUrl::parse(&text), Err(Error::UrlCancel { .. })),
                "{bad}"
            );
        }
    }

    /// Before, under `--danger-loopback-http` a path-only `url=` was resolved to `https://`
    /// while the requests went over `http://`: the browser was sent where nothing listens.
    #[test]
    fn path_only_links_follow_the_request_scheme_over_plain_http() {
        let text = format!(
            "sqrl://127.0.0.1:8080/sqrl?nut=a&can={}",
            b64::encode("/login")
        );
        let url = SqrlUrl::parse(&text).unwrap();
        assert_eq!(
            url.resolve_link("/cps?t=1").unwrap(),
            "https://127.0.0.1:8080/cps?t=1"
        );
        let url = url.with_plain_http_links();
        assert_eq!(
            url.resolve_link("/cps?t=1").unwrap(),
            "http://127.0.0.1:8080/cps?t=1"
        );
        assert_eq!(url.cancel_url(), Some("http://127.0.0.1:8080/login"));
        // An absolute link is the server's choice and stays as it is.
        assert_eq!(
            url.resolve_link("https://127.0.0.1:8080/x").unwrap(),
            "https://127.0.0.1:8080/x"
        );
        assert_eq!(url.request_url(), format!("https://{}", &text[7..]));
        assert_eq!(url.as_str(), text);
    }

    #[test]
    fn extension_is_clamped_to_the_path() {
        assert_eq!(domain("sqrl://example.com/ab?x=0&nut=a"), "example.com");
        assert_eq!(domain("sqrl://example.com/ab?x=99&nut=a"), "example.com/ab");
        assert_eq!(domain("sqrl://example.com?x=3&nut=a"), "example.com");
        assert_eq!(
            domain("sqrl://example.com/a/b/c?x=4&nut=a"),
            "example.com/a/b"
        );
    }

    #[test]
    fn missing_path_and_idn() {
        let url = SqrlUrl::parse("sqrl://mydomain.com?nut=ACSE123").unwrap();
        assert_eq!(url.auth_domain(), "mydomain.com");
        assert_eq!(url.request_url(), "https://mydomain.com/?nut=ACSE123");
        assert_eq!(
            domain("sqrl://Bücher.Example/sqrl?nut=a"),
            "xn--bcher-kva.example"
        );
        assert_eq!(domain("SQRL://[::1]:8080/?nut=a"), "[::1]");
    }

    #[test]
    fn rejects_with_reasons() {
        let err = |u: &str| SqrlUrl::parse(u).unwrap_err();
        assert_eq!(
            err("https://example.com/?nut=a"),
            Error::UnsupportedScheme {
                scheme: "https".into()
            }
        );
        assert_eq!(
            err("qrl://example.com/?nut=a"),
            Error::UnsupportedScheme {
                scheme: "qrl".into()
            }
        );
        assert_eq!(err("example.com/?nut=a"), Error::UrlScheme);
        assert_eq!(err("sqrl:/example.com/?nut=a"), Error::UrlScheme);
        assert_eq!(err("sqrl://example.com/"), Error::UrlMissingNut);
        assert_eq!(err("sqrl://example.com/?nut="), Error::UrlMissingNut);
        assert_eq!(
            err("sqrl://example.com/?nut=a&nut=b"),
            Error::UrlDuplicateParameter { name: "nut" }
        );
        assert_eq!(err("sqrl://example.com:0/?nut=a"), Error::UrlPort);
        assert_eq!(err("sqrl://example.com:99999/?nut=a"), Error::UrlPort);
        assert_eq!(err("sqrl://example.com:/?nut=a"), Error::UrlPort);
        assert!(matches!(err("sqrl:///?nut=a"), Error::UrlHost { .. }));
        assert!(matches!(err("sqrl://a..b/?nut=a"), Error::UrlHost { .. }));
        assert!(matches!(
            err("sqrl://ex%41mple.com/?nut=a"),
            Error::UrlHost { .. }
        ));
        assert_eq!(err("sqrl://example.com/?nut=a#frag"), Error::UrlFragment);
        assert!(matches!(
            err("sqrl://example.com/ a?nut=a"),
            Error::UrlCharacter { .. }
        ));
        assert!(matches!(
            err("sqrl://example.com/ab?x=&nut=a"),
            Error::UrlExtension { .. }
        ));
        assert!(matches!(
            err("sqrl://example.com/ab?x=123456&nut=a"),
            Error::UrlExtension { .. }
        ));
        assert!(matches!(
            err("sqrl://example.com/ab?x=-1&nut=a"),
            Error::UrlExtension { .. }
        ));
        assert!(matches!(
            err("sqrl://example.com/?nut=a&can=%%%"),
            Error::UrlCancel { .. }
        ));
        // base64url of "javascript:alert(1)"
        assert!(matches!(
            err("sqrl://example.com/?nut=a&can=amF2YXNjcmlwdDphbGVydCgxKQ"),
            Error::UrlCancel { .. }
        ));
        assert!(matches!(
            err(&format!("sqrl://e.com/?nut={}", "a".repeat(3000))),
            Error::TooLarge { .. }
        ));
    }

    #[test]
    fn qry_must_be_root_anchored() {
        let url = SqrlUrl::parse("sqrl://example.com:8443/sqrl?nut=a").unwrap();
        assert_eq!(
            url.request_url_for("/sqrl?nut=b").unwrap(),
            "https://example.com:8443/sqrl?nut=b"
        );
        for bad in [
            "sqrl?nut=b",
            "//evil.example/x",
            "https://evil.example/",
            "/a#b",
            "/a b",
        ] {
            assert!(url.request_url_for(bad).is_err(), "{bad}");
        }
    }
}

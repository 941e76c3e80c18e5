//! HTTPS for the exchange (ureq on rustls), and the loop that drives an [`Exchange`].
//!
//! Requests go to `https://` with the URL's port, with connect and overall timeouts and a cap
//! on the reply size. Plain HTTP is used only when explicitly allowed *and* the host is a
//! loopback address — for tests and local development.

use std::io::Read;
use std::time::Duration;

use crate::exchange::{Decision, Exchange, Outcome, Prompt, Request};
use crate::Error;

/// Largest reply accepted (a real reply is a few hundred bytes).
pub const MAX_REPLY: u64 = 16 * 1024;

/// The HTTPS transport.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    loopback_http: bool,
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(30))
    }
}

/// `true` for `localhost`, `127.0.0.0/8` and `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The host of an absolute URL (IPv6 literals keep their brackets).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    match authority.find(']') {
        Some(end) if authority.starts_with('[') => authority.get(..=end).unwrap_or(authority),
        _ => authority.split(':').next().unwrap_or_default(),
    }
}

impl HttpTransport {
    /// A transport with the given connect and overall timeouts.
    pub fn new(connect: Duration, overall: Duration) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(connect)
            .timeout(overall)
            .redirects(0)
            .user_agent("SQRL/1")
            .build();
        Self {
            agent,
            loopback_http: false,
        }
    }

    /// **Danger, tests only:** send to loopback hosts over plain HTTP instead of HTTPS. Other
    /// hosts are still HTTPS-only.
    pub fn danger_allow_loopback_http(mut self) -> Self {
        self.loopback_http = true;
        self
    }

    fn effective_url(&self, url: &str) -> Result<String, Error> {
        let host = host_of(url);
        match url.strip_prefix("https://") {
            Some(rest) if self.loopback_http && is_loopback_host(host) => {
                Ok(format!("http://{rest}"))
            }
            Some(_) => Ok(url.to_owned()),
            None => Err(Error::InsecureTransport(host.to_owned())),
        }
    }

    /// POSTs the request and returns the reply body text.
    pub fn post(&self, request: &Request) -> Result<String, Error> {
        let url = self.effective_url(&request.url)?;
        tracing::debug!(url = %url, "sqrl request");
        let response = match self
            .agent
            .post(&url)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&request.body)
        {
            Ok(response) => response,
            // Some servers answer failures with an error status but a SQRL reply body; the
            // exchange reads the TIF, so pass the body on when there is one.
            Err(ureq::Error::Status(code, response)) => {
                let body = read_limited(response)?;
                if body.trim().is_empty() {
                    return Err(Error::HttpStatus(code));
                }
                if sqrl_proto::ServerParams::decode(body.trim()).is_err() {
                    return Err(Error::HttpStatus(code));
                }
                return Ok(body);
            }
            Err(ureq::Error::Transport(t)) => return Err(Error::Network(t.to_string())),
        };
        read_limited(response)
    }
}

fn read_limited(response: ureq::Response) -> Result<String, Error> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_REPLY + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::Network(e.to_string()))?;
    if body.len() as u64 > MAX_REPLY {
        return Err(Error::ReplyTooLarge);
    }
    String::from_utf8(body).map_err(|_| Error::Proto(sqrl_proto::Error::NotUtf8 { what: "reply" }))
}

/// Runs an exchange to its end over `transport`, asking `decide` at the prompt.
pub fn run(
    exchange: Exchange<'_>,
    first: Request,
    transport: &HttpTransport,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, Error> {
    exchange.drive(first, |request| transport.post(request), decide)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "localhost.example",
            "[::2]",
            "128.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plain_http_only_for_loopback_and_only_when_allowed() {
        let strict = HttpTransport::default();
        let relaxed = HttpTransport::default().danger_allow_loopback_http();
        let local = "https://127.0.0.1:8080/sqrl?nut=a";
        assert_eq!(strict.effective_url(local).unwrap(), local);
        assert_eq!(
            relaxed.effective_url(local).unwrap(),
            "http://127.0.0.1:8080/sqrl?nut=a"
        );
        assert_eq!(
            relaxed.effective_url("https://[::1]:8080/s").unwrap(),
            "http://[::1]:8080/s"
        );
        let remote = "https://example.com/sqrl?nut=a";
        assert_eq!(relaxed.effective_url(remote).unwrap(), remote);
        assert!(relaxed.effective_url("http://example.com/").is_err());
        assert_eq!(host_of("https://h.example:1/x"), "h.example");
        assert_eq!(host_of("https://[::1]:1/x"), "[::1]");
    }
}

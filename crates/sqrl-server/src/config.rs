//! How the SQRL endpoint is configured: where it lives, how long codes last, whether it asks.

use crate::flow::Lifetimes;

/// Whether the site asks the user to confirm each login on the phone (`ask`), naming the
/// browser that showed the code: the check against someone relaying a victim a QR code taken
/// from their own login page. See `spec/server.md` for the trade-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskPolicy {
    /// Ask a known, enabled identity with buttons (as the protocol sends `ask`, with 0x01),
    /// and tell a new or re-keying one the same words without buttons, so that every
    /// approval names the browser; an `ident` without `btn` (a client that does not implement
    /// `ask`) is accepted; after the buttons `btn=2` declines and `btn=0` (no button) is
    /// refused.
    #[default]
    Offer,
    /// Ask every identity with buttons (not a disabled one), and refuse an `ident` that does
    /// not answer with the first button. Clients without `ask` cannot log in.
    Require,
    /// Never ask.
    Off,
}

/// Where the endpoint lives and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `host[:port]` as it appears in SQRL URLs (the auth domain is the host).
    pub host: String,
    /// Path of the SQRL endpoint, e.g. `/sqrl`.
    pub path: String,
    /// The site's origin for absolute links (`https://example.com`).
    pub origin: String,
    /// Lifetimes of nuts and confirmed logins.
    pub lifetimes: Lifetimes,
    /// The login question.
    pub ask: AskPolicy,
    /// Send this `sin` with every query; each `ident` must then answer with `ins`, which is
    /// stored with the account and must stay the same at every later login.
    pub secret_index: Option<String>,
    /// Login codes issued before this time (Unix seconds) are refused as expired. A server
    /// whose flows live in memory sets it to its start time: the flows of earlier codes were
    /// forgotten with the last process, and a code used before a restart must not open a new
    /// flow after it (a nut stays single use). 0 (the default) refuses nothing.
    pub codes_not_before: u64,
    /// Quote the flow's compare code ([`FlowId::compare_code`](crate::FlowId::compare_code))
    /// in the login question: "The login page shows 47." On by default: the login widget's
    /// own markup shows the code beside the QR code (`/sqrl/new` answers it as `compare`).
    /// Turn it off for a page that shows the QR code without it.
    pub compare_code: bool,
}

impl Config {
    /// A configuration for `https://{host}` with the endpoint at `/sqrl`.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            path: "/sqrl".into(),
            origin: format!("https://{host}"),
            lifetimes: Lifetimes::default(),
            ask: AskPolicy::default(),
            secret_index: None,
            codes_not_before: 0,
            compare_code: true,
        }
    }

    /// The host of [`Config::host`] without its port; an IPv6 literal keeps its brackets
    /// (`[::1]:8080` → `[::1]`).
    pub fn host_name(&self) -> &str {
        let host = self.host.as_str();
        if host.starts_with('[') {
            return host
                .find(']')
                .and_then(|end| host.get(..=end))
                .unwrap_or(host);
        }
        host.split(':').next().unwrap_or(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The login question named the host by `split(':')`, which cut an IPv6 literal to `[`.
    #[test]
    fn host_split_on_the_first_colon_cut_an_ipv6_host_to_a_bracket() {
        assert_eq!(Config::new("[::1]:8080").host_name(), "[::1]");
        assert_eq!(Config::new("[2001:db8::1]").host_name(), "[2001:db8::1]");
        assert_eq!(Config::new("example.com:8443").host_name(), "example.com");
        assert_eq!(Config::new("example.com").host_name(), "example.com");
    }
}

//! The client's IP address behind reverse proxies of the site's own.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The client IP behind `trusted_proxies` reverse proxies of your own.
///
/// Every proxy appends the address it was connected from to `X-Forwarded-For`, so the
/// right-most value is what the nearest proxy saw, and the `trusted_proxies`-th from the right
/// is what the farthest trusted one saw: the real client. Anything left of it was sent by the
/// client and may be forged. Several `X-Forwarded-For` headers count as one list, in order.
/// With `trusted_proxies == 0`, a list shorter than `trusted_proxies`, or a value that is not an
/// IP address (an `IP:port` is accepted), the peer's address is the answer.
pub fn forwarded_client_ip(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted_proxies: usize,
) -> IpAddr {
    if trusted_proxies == 0 {
        return peer.ip();
    }
    let mut values = Vec::new();
    for header in headers.get_all("x-forwarded-for") {
        let Ok(text) = header.to_str() else {
            return peer.ip();
        };
        values.extend(text.split(',').map(str::trim));
    }
    let chosen = values
        .len()
        .checked_sub(trusted_proxies)
        .and_then(|index| values.get(index));
    chosen
        .and_then(|v| parse_forwarded_ip(v))
        .unwrap_or(peer.ip())
}

/// An `X-Forwarded-For` value: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711` or `[2001:db8::1]:4711`.
fn parse_forwarded_ip(value: &str) -> Option<IpAddr> {
    value
        .parse::<IpAddr>()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn client(trusted_proxies: usize, forwarded: &[&str]) -> IpAddr {
        let peer: SocketAddr = "10.0.0.1:4711".parse().unwrap();
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        forwarded_client_ip(peer, &headers, trusted_proxies)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client writes whatever it likes into `X-Forwarded-For` before the proxy appends the
    /// real address: the first value is the client's, the last the proxy's.
    #[test]
    fn spoofed_forwarded_for_first_hop_is_ignored() {
        // One proxy: it appended 203.0.113.7; the client claimed 1.2.3.4.
        assert_eq!(client(1, &["1.2.3.4, 203.0.113.7"]), ip("203.0.113.7"));
        // Two proxies: the outer one appended the client, the inner one the outer proxy.
        assert_eq!(
            client(2, &["1.2.3.4, 203.0.113.7, 10.0.0.9"]),
            ip("203.0.113.7")
        );
        // Several headers are one list, in order.
        assert_eq!(client(1, &["1.2.3.4", "203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(
            client(2, &["1.2.3.4, 203.0.113.7", "10.0.0.9"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_for_falls_back_to_the_peer() {
        let peer = ip("10.0.0.1");
        // Not trusted: the header means nothing.
        assert_eq!(client(0, &["203.0.113.7"]), peer);
        // Missing, too short for the proxies configured, or not an address.
        assert_eq!(client(1, &[]), peer);
        assert_eq!(client(2, &["203.0.113.7"]), peer);
        assert_eq!(client(1, &["1.2.3.4, unknown"]), peer);
        assert_eq!(client(1, &["1.2.3.4,"]), peer);
        // With ports, and IPv6.
        assert_eq!(client(1, &["203.0.113.7:4711"]), ip("203.0.113.7"));
        assert_eq!(client(1, &["[2001:db8::1]:4711"]), ip("2001:db8::1"));
        assert_eq!(client(1, &["2001:db8::1"]), ip("2001:db8::1"));
    }
}

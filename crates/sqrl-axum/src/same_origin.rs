//! One same-origin rule for every state-changing request a browser makes with the site's
//! cookies (the layer's `POST /sqrl/new`, `/sqrl/redeem`, `/sqrl/logout`, and an app's own
//! forms through [`SqrlHttp::same_origin`]), on top of `SameSite=Lax` cookies:
//!
//! 1. an `Origin` header, when present, must be the site's origin (`null` is not);
//! 2. else a `Sec-Fetch-Site` header, when present, must be `same-origin`;
//! 3. else a `Referer`, when present, must be a URL at the site's origin;
//! 4. a request with none of the three (not a current browser: curl, an old client, a proxy
//!    that strips them) is accepted: the `SameSite` cookie protects it.
//!
//! So a logout posted from a foreign page does not end the session, and a form posted with no
//! `Origin` and only a foreign `Referer` is refused. The phone's `POST /sqrl` carries no
//! cookie and is not subject to it, nor is `GET /sqrl/cps`, which an app on the device
//! opens in the browser by design.

use axum::http::{header, HeaderMap};

use crate::SqrlHttp;

/// The `scheme://authority` of an absolute URL, without path, query or fragment.
fn origin_of(url: &str) -> Option<&str> {
    let start = url.find("://")?.checked_add(3)?;
    let rest = url.get(start..)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(..start.checked_add(end)?)
}

/// Whether a state-changing request with these headers comes from `origin` (the rule of
/// this module); `origin` as `https://host[:port]`, compared without regard to case.
pub fn is_same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let same = |value: &str| value.eq_ignore_ascii_case(origin.trim_end_matches('/'));
    if let Some(value) = headers.get(header::ORIGIN) {
        return value.to_str().is_ok_and(same);
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    match headers.get(header::REFERER) {
        Some(referer) => referer.to_str().ok().and_then(origin_of).is_some_and(same),
        None => true,
    }
}

impl SqrlHttp {
    /// Whether a state-changing request comes from this site's own pages (the rule of
    /// [`is_same_origin`] with the configured origin): check it on every form post of the
    /// app that acts on the session, as this layer does on its own routes.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        is_same_origin(headers, &self.inner.sqrl.server().config().origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&'static str, &str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        is_same_origin(&headers, "https://example.com")
    }

    #[test]
    fn origin_decides_then_fetch_metadata_then_referer() {
        assert!(check(&[("origin", "https://example.com")]));
        assert!(check(&[("origin", "https://EXAMPLE.com")]));
        assert!(!check(&[("origin", "https://evil.example")]));
        assert!(!check(&[("origin", "null")]));
        assert!(!check(&[("origin", "http://example.com")]), "scheme counts");
        assert!(
            !check(&[("origin", "https://example.com:8443")]),
            "port counts"
        );
        // A foreign Origin is not saved by a same-origin Referer.
        assert!(!check(&[
            ("origin", "https://evil.example"),
            ("referer", "https://example.com/account")
        ]));
        assert!(check(&[("sec-fetch-site", "same-origin")]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(!check(&[("sec-fetch-site", "cross-site")]));
        assert!(check(&[("referer", "https://example.com/account?x=1")]));
        assert!(check(&[("referer", "https://example.com")]));
        assert!(!check(&[("referer", "https://example.com.evil.example/")]));
        assert!(!check(&[("referer", "not a url")]));
        assert!(check(&[]), "no browser headers at all: not a browser");
    }
}

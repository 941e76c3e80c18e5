//! Static files compiled into the binary (`include_bytes!`), served with their content type,
//! `X-Content-Type-Options: nosniff`, an `ETag`, and long caching when the URL names their
//! version: link to [`Asset::versioned`] and a new build's file gets a new URL.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A file served from memory.
#[derive(Debug)]
pub struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    version: OnceLock<String>,
}

/// The login widget's script (`GET <path>/widget.js`).
pub static WIDGET_JS: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_bytes!("../assets/widget.js"),
);

impl Asset {
    /// A file with its `Content-Type`.
    pub const fn new(content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            content_type,
            body,
            version: OnceLock::new(),
        }
    }

    /// The file's bytes.
    pub fn body(&self) -> &'static [u8] {
        self.body
    }

    /// The file's `Content-Type` header value.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// A short hash of the content: 16 hex digits of its SHA-256.
    pub fn version(&self) -> &str {
        self.version.get_or_init(|| {
            Sha256::digest(self.body)
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }

    /// `route?v=<version>`: the URL to put in pages (cached for a year).
    pub fn versioned(&self, route: &str) -> String {
        format!("{route}?v={}", self.version())
    }

    /// The response to a `GET` with the query's `v` value: cached for a year when it names
    /// this version, otherwise revalidated each time; `304` when `If-None-Match` matches.
    pub fn serve(&self, requested_version: Option<&str>, headers: &HeaderMap) -> Response {
        let etag = format!("\"{}\"", self.version());
        let cache = if requested_version == Some(self.version()) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
        let mut response = if matches {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.content_type),
                )],
                self.body,
            )
                .into_response()
        };
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(value) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_a_content_hash() {
        let a = Asset::new("text/plain", b"one");
        let b = Asset::new("text/plain", b"two");
        assert_eq!(a.version().len(), 16);
        assert_ne!(a.version(), b.version());
        assert_eq!(a.versioned("/x.js"), format!("/x.js?v={}", a.version()));
    }

    #[test]
    fn caches_long_only_the_named_version() {
        let a = Asset::new("text/plain", b"one");
        let long = a.serve(Some(a.version()), &HeaderMap::new());
        assert_eq!(
            long.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let stale = a.serve(Some("0000"), &HeaderMap::new());
        assert_eq!(stale.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(stale.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"{}\"", a.version())).unwrap(),
        );
        assert_eq!(a.serve(None, &headers).status(), StatusCode::NOT_MODIFIED);
    }
}

//! Links and sites as an app passes them.

use sqrl_proto::SqrlUrl;

use crate::error::SqrlError;

/// A link from the app: a `sqrl://` link as scanned, or (for `public_key`) a bare host.
pub(crate) fn site_url(text: &str) -> Result<SqrlUrl, SqrlError> {
    let text = text.trim();
    let parsed = if text.contains("://") {
        SqrlUrl::parse(text)
    } else {
        SqrlUrl::parse(&format!("sqrl://{text}?nut=x"))
    };
    parsed.map_err(|e| SqrlError::InvalidLink(e.to_string()))
}

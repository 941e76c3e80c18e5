//! Where fresh codes come from: decisions on a login page's HTML and a code API's answer,
//! without IO.

/// How a login page offers its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSource {
    /// A `sqrl://` link in the page (a fresh one each time the page is loaded).
    Link(String),
    /// A code API to POST to (our widget's `POST /sqrl/new`), as an absolute URL.
    Api(String),
    /// Neither: the page's images, as absolute URLs, one of which may be the QR code (a fresh
    /// one each time the page is loaded).
    Images(Vec<String>),
}

/// The `scheme://authority` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let start = url.find("://")?.checked_add(3)?;
    let rest = url.get(start..)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(..start.checked_add(end)?)
}

/// The first `sqrl://` link in `text` (HTML or plain), with `&amp;` unescaped.
pub(crate) fn sqrl_link(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("sqrl://")?;
    let rest = text.get(start..)?;
    let end = rest
        .find(|c: char| matches!(c, '"' | '\'' | '<' | '>' | '`') || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(rest.get(..end)?.replace("&amp;", "&"))
}

/// The value of the HTML attribute `name` following `at` in `html`.
fn attribute<'a>(html: &'a str, at: usize, name: &str) -> Option<&'a str> {
    let tag_end = html
        .get(at..)?
        .find('>')
        .map_or(html.len(), |e| at.saturating_add(e));
    let tag = html.get(at..tag_end)?;
    let start = tag
        .find(&format!("{name}="))?
        .checked_add(name.len().checked_add(1)?)?;
    let quoted = tag.get(start..)?;
    let quote = quoted.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = quoted.get(1..)?;
    value.get(..value.find(quote)?)
}

/// Finds how the login page at `page_url` offers codes: a `sqrl://` link, else the code
/// API of our widget (a `data-sqrl-login` element and the script `…/widget.js`, whose
/// directory is the API's prefix unless `data-sqrl-path` says otherwise).
pub fn find_code(page_url: &str, html: &str) -> Option<CodeSource> {
    if let Some(link) = sqrl_link(html) {
        return Some(CodeSource::Link(link));
    }
    let Some(element) = html.find("data-sqrl-login") else {
        let images = image_urls(page_url, html);
        return (!images.is_empty()).then_some(CodeSource::Images(images));
    };
    let page_origin = origin(page_url)?;
    let tag_start = html.get(..element)?.rfind('<').unwrap_or(0);
    let prefix = match attribute(html, tag_start, "data-sqrl-path") {
        Some(path) => path.to_owned(),
        None => {
            let script = html.find("widget.js")?;
            let tag = html.get(..script)?.rfind("<script")?;
            let src = attribute(html, tag, "src")?;
            let path = src.split(['?', '#']).next()?;
            let dir = path.get(..path.rfind('/')?)?;
            // An absolute script URL keeps only its path.
            match origin(dir) {
                Some(o) => dir.get(o.len()..)?.to_owned(),
                None => dir.to_owned(),
            }
        }
    };
    if !prefix.starts_with('/') {
        return None;
    }
    Some(CodeSource::Api(format!("{page_origin}{prefix}/new")))
}

/// The images of a page (`<img src=…>`), as absolute URLs: resolved against the page's
/// origin (`/path`) or its directory (`path`); `data:` and other schemes are left out.
pub fn image_urls(page_url: &str, html: &str) -> Vec<String> {
    let Some(page_origin) = origin(page_url) else {
        return Vec::new();
    };
    let page_path = page_url
        .get(page_origin.len()..)
        .unwrap_or_default()
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let directory = page_path.get(..page_path.rfind('/').map_or(0, |i| i.saturating_add(1)));
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    let mut at = 0;
    while let Some(found) = lower.get(at..).and_then(|rest| rest.find("<img")) {
        let start = at.saturating_add(found);
        at = start.saturating_add(4);
        let Some(src) = attribute(html, start, "src") else {
            continue;
        };
        let src = src.replace("&amp;", "&");
        let absolute = if src.starts_with("https://") || src.starts_with("http://") {
            src
        } else if src.starts_with("//") {
            continue;
        } else if src.starts_with('/') {
            format!("{page_origin}{src}")
        } else if src.contains(':') {
            continue;
        } else {
            format!("{page_origin}{}{src}", directory.unwrap_or("/"))
        };
        if !urls.contains(&absolute) {
            urls.push(absolute);
        }
    }
    urls
}

/// The `sqrl://` URL in a code API's answer: a JSON object's `url`, a `sqrl://` link in the
/// text, or form text carrying a nut (`nut=…&can=…`, as GRC's `/nut.sqrl` answers), which
/// becomes `sqrl://<host of code_url>/cli.sqrl?<text>` (where GRC's server takes requests).
pub(crate) fn code_from_answer(code_url: &str, body: &str) -> Option<String> {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(serde_json::Value::String(url)) = map.get("url") {
            return Some(url.clone());
        }
    }
    if let Some(link) = sqrl_link(body) {
        return Some(link);
    }
    let text = body.trim();
    if text.starts_with("nut=") || text.contains("&nut=") {
        let authority = origin(code_url)?.split_once("://")?.1;
        return Some(format!("sqrl://{authority}/cli.sqrl?{text}"));
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_with_only_images_offers_them_resolved() {
        let html = r#"<p>Scan:</p><IMG alt="code" src="/png.sqrl?nut=abc&amp;x=1">
            <img src="logo.png"><img src="data:image/png;base64,AAAA"><img src='https://cdn.example/q.png'>"#;
        assert_eq!(
            find_code("https://sqrl.example:8443/demo/login.php?x", html),
            Some(CodeSource::Images(vec![
                "https://sqrl.example:8443/png.sqrl?nut=abc&x=1".into(),
                "https://sqrl.example:8443/demo/logo.png".into(),
                "https://cdn.example/q.png".into(),
            ]))
        );
        assert_eq!(find_code("https://sqrl.example/", "<p>nothing</p>"), None);
    }

    use super::*;

    #[test]
    fn a_link_in_the_page_wins() {
        let html = r#"<a href="sqrl://example.com/sqrl?nut=abc&amp;can=xyz">Log in</a>"#;
        assert_eq!(
            find_code("https://example.com/login", html),
            Some(CodeSource::Link(
                "sqrl://example.com/sqrl?nut=abc&can=xyz".into()
            ))
        );
    }

    #[test]
    fn our_widget_leads_to_its_code_api() {
        let html = r#"<script src="/sqrl/widget.js?v=12ab" defer></script>
            <div class="card" data-sqrl-login></div>"#;
        assert_eq!(
            find_code("http://127.0.0.1:8080/", html),
            Some(CodeSource::Api("http://127.0.0.1:8080/sqrl/new".into()))
        );
        let moved = r#"<div data-sqrl-login data-sqrl-path="/auth/sqrl"></div>"#;
        assert_eq!(
            find_code("https://example.com/x/login", moved),
            Some(CodeSource::Api("https://example.com/auth/sqrl/new".into()))
        );
        assert_eq!(
            find_code("https://example.com/", "<p>no login here</p>"),
            None
        );
    }

    #[test]
    fn code_answers_in_json_link_or_form_text() {
        let json = r#"{"url":"sqrl://h/sqrl?nut=a","link":"sqrl://h/sqrl?nut=a&can=b"}"#;
        assert_eq!(
            code_from_answer("https://h/sqrl/new", json).as_deref(),
            Some("sqrl://h/sqrl?nut=a")
        );
        assert_eq!(
            code_from_answer(
                "https://sqrl.example:8443/nut.sqrl",
                "nut=fXkb4MBT&can=aHR0"
            ),
            Some("sqrl://sqrl.example:8443/cli.sqrl?nut=fXkb4MBT&can=aHR0".into())
        );
        assert_eq!(code_from_answer("https://h/x", "sorry"), None);
    }
}

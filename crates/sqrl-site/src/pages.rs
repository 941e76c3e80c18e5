//! The site's pages: login (QR code, same-device link, live status, countdown), account
//! (display name, identity, sessions with revoke), and the small forms behind them.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use sqrl_axum::assets::Asset;
use sqrl_axum::widget::CONTENT_SECURITY_POLICY;
use sqrl_axum::{SignedIn, SqrlHttp};
use sqrl_proto::b64;

use sqrl_axum::date::utc;

#[derive(Clone)]
struct Site {
    sqrl: SqrlHttp,
    /// `--check-clients`: where the login page links to the client report.
    report: Option<&'static str>,
}

/// The site's stylesheet, compiled in and served under a versioned URL.
static SITE_CSS: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_bytes!("../assets/site.css"),
);
const CSS_ROUTE: &str = "/assets/site.css";

/// The pages; with `report` (`--check-clients`), the login page links to the client report
/// there.
pub(crate) fn router(sqrl: SqrlHttp, report: Option<&'static str>) -> Router {
    Router::new()
        .route("/", get(login_page))
        .route("/account", get(account_page))
        .route("/account/name", post(set_name))
        .route("/account/revoke", post(revoke))
        .route(CSS_ROUTE, get(stylesheet))
        .route("/health", get(|| async { "ok" }))
        .layer(middleware::map_response(security_headers))
        .with_state(Site { sqrl, report })
}

/// Headers on every page: a strict Content Security Policy (no inline script or style; the
/// login widget's needs, see `sqrl_axum::widget`), no MIME sniffing, no framing, no referrer
/// to other origins, and a browsing context of our own.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: it would make the browser send `Origin: null` with our own form
        // posts, which `form_session` refuses.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[derive(Deserialize)]
struct VersionQuery {
    v: Option<String>,
}

async fn stylesheet(Query(q): Query<VersionQuery>, headers: HeaderMap) -> Response {
    SITE_CSS.serve(q.v.as_deref(), &headers)
}

/// The login page: the widget from `sqrl-axum` does the rest.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    css: String,
    widget: String,
    /// Where the client report is, with `--check-clients`.
    report: Option<&'static str>,
}

/// One row of the sessions table.
struct SessionRow {
    handle: String,
    browser: String,
    ip: String,
    since: String,
    this: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    css: String,
    name: String,
    idk: String,
    rows: Vec<SessionRow>,
}

/// The stylesheet's versioned URL, for pages rendered elsewhere (the client report).
pub(crate) fn stylesheet_href() -> String {
    SITE_CSS.versioned(CSS_ROUTE)
}

/// A rendered page, not to be cached (the pages depend on the session or on live state).
pub(crate) fn html(page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Html(body),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            Refused::Unavailable.into_response()
        }
    }
}

async fn login_page(State(site): State<Site>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = site.sqrl.signed_in(&headers).await {
        return Redirect::to("/account").into_response();
    }
    html(&LoginPage {
        css: SITE_CSS.versioned(CSS_ROUTE),
        widget: site.sqrl.widget_src(),
        report: site.report,
    })
}

/// Why a page that needs a session was refused.
enum Refused {
    /// Not signed in: go to the login page.
    SignIn,
    /// The store failed.
    Unavailable,
    /// A form posted from another origin.
    Forbidden,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn => Redirect::to("/").into_response(),
            Refused::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
            Refused::Forbidden => StatusCode::FORBIDDEN.into_response(),
        }
    }
}

async fn require(site: &Site, headers: &HeaderMap) -> Result<SignedIn, Refused> {
    match site.sqrl.signed_in(headers).await {
        Ok(Some(signed_in)) => Ok(signed_in),
        Ok(None) => Err(Refused::SignIn),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the session");
            Err(Refused::Unavailable)
        }
    }
}

/// The session behind a form post, which must come from this site: the one same-origin rule
/// of every state-changing route ([`SqrlHttp::same_origin`]: `Origin`, else `Sec-Fetch-Site`,
/// else `Referer`), on top of SameSite=Lax cookies.
async fn form_session(site: &Site, headers: &HeaderMap) -> Result<SignedIn, Refused> {
    if !site.sqrl.same_origin(headers) {
        return Err(Refused::Forbidden);
    }
    require(site, headers).await
}

async fn account_page(State(site): State<Site>, headers: HeaderMap) -> Response {
    let signed_in = match require(&site, &headers).await {
        Ok(s) => s,
        Err(refused) => return refused.into_response(),
    };
    let store = site.sqrl.store();
    let (account, name, sessions) = match (
        store.account(&signed_in.account).await,
        store.display_name(&signed_in.account).await,
        store.sessions_of(&signed_in.account).await,
    ) {
        (Ok(Some(account)), Ok(name), Ok(sessions)) => (account, name, sessions),
        (Ok(None), _, _) => return Refused::SignIn.into_response(),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %e, "cannot read the account");
            return Refused::Unavailable.into_response();
        }
    };
    let rows = sessions
        .iter()
        .map(|session| SessionRow {
            handle: b64::encode(session.id_hash),
            browser: session.browser.clone(),
            ip: session.ip.clone(),
            since: utc(session.created_at),
            this: session.id_hash == signed_in.session.id_hash,
        })
        .collect();
    html(&AccountPage {
        css: SITE_CSS.versioned(CSS_ROUTE),
        name,
        idk: account.idk.to_string(),
        rows,
    })
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn set_name(
    State(site): State<Site>,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Response {
    let signed_in = match form_session(&site, &headers).await {
        Ok(s) => s,
        Err(refused) => return refused.into_response(),
    };
    let name = clean_display_name(&form.name);
    let store = site.sqrl.store();
    match store.set_display_name(&signed_in.account, &name).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    session: String,
}

async fn revoke(
    State(site): State<Site>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let signed_in = match form_session(&site, &headers).await {
        Ok(s) => s,
        Err(refused) => return refused.into_response(),
    };
    let Ok(hash) = b64::decode_array::<32>(&form.session, "session") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let store = site.sqrl.store();
    if store
        .delete_session(&signed_in.account, &hash)
        .await
        .is_err()
    {
        return Refused::Unavailable.into_response();
    }
    let target = if hash == signed_in.session.id_hash {
        "/"
    } else {
        "/account"
    };
    Redirect::to(target).into_response()
}

/// A display name as stored: trimmed, at most 64 characters, without control characters or
/// the invisible characters that reorder text (bidi overrides, embeddings and isolates, and
/// the directional marks), which would let a name display as something else.
fn clean_display_name(raw: &str) -> String {
    let reorders = |c: char| {
        matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
    };
    raw.chars()
        .filter(|&c| !c.is_control() && !reorders(c))
        .collect::<String>()
        .trim()
        .chars()
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, browser: &str) -> String {
        AccountPage {
            css: "/assets/site.css?v=1".into(),
            name: name.into(),
            idk: "idk".into(),
            rows: vec![SessionRow {
                handle: "h".into(),
                browser: browser.into(),
                ip: "127.0.0.1".into(),
                since: utc(0),
                this: true,
            }],
        }
        .render()
        .unwrap()
    }

    #[test]
    fn account_page_escapes_the_display_name_and_browser() {
        let page = account("<script>alert(1)</script>\" onfocus=\"x", "<b>Evil</b>");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>Evil"), "{page}");
        assert!(!page.contains("\" onfocus"), "{page}");
        assert!(
            page.contains("Hello, &#60;script&#62;alert(1)&#60;/script&#62;"),
            "{page}"
        );
        assert!(
            page.contains("&#60;b&#62;Evil&#60;/b&#62; <strong>(this browser)</strong>"),
            "{page}"
        );
    }

    #[test]
    fn account_page_without_a_name_says_your_account() {
        assert!(account("", "Firefox").contains(">Your account</h1>"));
    }

    /// Before, a display name kept bidi overrides, so "Ada\u{202E}nimda" showed as "Adaadmin".
    #[test]
    fn display_names_lose_bidi_overrides_and_controls() {
        assert_eq!(
            clean_display_name("  Ada\u{202E}nimda\u{202C} "),
            "Adanimda"
        );
        assert_eq!(
            clean_display_name("a\u{2066}b\u{2069}\u{200F}c\u{0007}"),
            "abc"
        );
        assert_eq!(clean_display_name(&"é".repeat(100)).chars().count(), 64);
        assert_eq!(clean_display_name("Zoë عربي"), "Zoë عربي");
    }
}

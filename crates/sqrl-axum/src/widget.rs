//! The login widget and the browser-facing contract it speaks.
//!
//! # The widget
//!
//! [`SqrlHttp::router`] serves `GET <path>/widget.js` (default `/sqrl/widget.js`): a script
//! that turns every `data-sqrl-login` element into a login box (QR code, live status,
//! countdown, same-device link, "Get a new code"). A page needs no script of its own:
//!
//! ```html
//! <div data-sqrl-login></div>
//! <script src="/sqrl/widget.js?v=…" defer></script>
//! ```
//!
//! Link to [`SqrlHttp::widget_src`] (the URL with the script's content hash, cached for a year)
//! rather than a bare `/sqrl/widget.js` (revalidated on each load). The routes' prefix is taken
//! from the script's own URL; `data-sqrl-path="/other"` on the element overrides it.
//! `data-sqrl-new="/path"` (a path on this site) is where the widget asks for its codes instead
//! of `<path>/new`: the OpenID Connect login page's route, which answers as `/sqrl/new` does
//! with codes that name the application. The element's `data-status` attribute tracks the
//! widget's state (a status below, or `loading`, `local` when handed to the SQRL app on this
//! device, `no-local` when none answered, `error`), and `data-detail` the status's detail when
//! the server sent one (absent otherwise), for styling and tests. Its parts carry the classes
//! `sqrl-qr`, `sqrl-status`, `sqrl-compare` (the compare code), `sqrl-countdown`,
//! `sqrl-new-code`, `sqrl-same-device`, `sqrl-link`, `sqrl-paste` and `sqrl-url`; an element
//! that already contains a `.sqrl-status` keeps its own markup and the widget fills in the
//! parts it finds.
//!
//! The widget runs under a strict Content Security Policy; it needs at least
//! [`CONTENT_SECURITY_POLICY`]'s `img-src http://localhost:25519` (the probe for a SQRL app on
//! this device loads an image from it) and `frame-src sqrl:` (the `sqrl://` link that wakes
//! that app). Handing the login to the local app is a top-level navigation to
//! `http://localhost:25519/<base64url of the link>`; the app sends the browser back to the site.
//!
//! # The contract
//!
//! All paths below are under the endpoint path (default `/sqrl`). Errors are JSON objects
//! `{"error": "<a sentence for people>"}` with the status code saying what happened; nothing
//! answers 500.
//!
//! **`POST /sqrl/new`** (no body) starts a login for this browser. It sets the `HttpOnly`
//! flow cookie `sqrl_flow` (the flow's id, issue time and browser secret: only this browser
//! can watch or redeem the login) and answers `200` with `Cache-Control: no-store` and:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `url` | string | the `sqrl://` URL in the QR code (for pasting into an app) |
//! | `link` | string | the same URL with `can=` back to the login page, for the same-device link |
//! | `svg` | string | the QR code's URL, `/sqrl/qr.svg?nut=…` (an SVG with width and height) |
//! | `png` | string | the same as PNG, `/sqrl/qr.png?nut=…` |
//! | `expires_in` | number | seconds until the code expires |
//! | `retry_ms` | number | how long to wait before reconnecting or re-polling |
//! | `redeem_window_s` | number | seconds a confirmed login may be redeemed (a page retries a redemption answered `503` within it) |
//! | `after_login` | string | where to send the browser once it is logged in ([`HttpSettings::after_login`](crate::HttpSettings::after_login)) |
//! | `compare` | number | the compare code, 10 to 99, that the phone's question quotes ("The login page shows 47"); the page shows it beside the QR code. Absent when the site turned it off ([`Config::compare_code`](sqrl_server::Config::compare_code)) |
//!
//! `429` when this client asked for too many codes; `503` ("try again") when a backend is
//! down, the code limit's included.
//!
//! **Statuses** of a login, as strings: `new` (waiting for a scan), `scanned` (an app has the
//! code), `confirmed` (the user approved: redeem now), `confirmed-elsewhere` (approved with a
//! session link: the app's browser gets the session, this page cannot redeem), `rejected`
//! (declined in the app), `expired` (too late, or not redeemed in time), `redeemed` (turned
//! into a session), `disabled` (the user disabled SQRL login for the account with this code),
//! `removed` (the user removed their identity from the site), `failed` (the site refused the
//! phone's command). The names are [`Status::as_str`](sqrl_server::Status::as_str). A final
//! status (one nothing changes any more, [`Status::is_final`](sqrl_server::Status::is_final):
//! all but `new`, `scanned` and `confirmed`) comes with `"final": true`; a status that is not
//! final has no `final` field. A page must treat any other string as final too (a newer server
//! may add end states) and offer a new code.
//!
//! **Details.** A status may come with a `detail` string that says more without changing what
//! the status means, so a page that ignores it behaves as before; a page must ignore details
//! it does not know. Today there is one: `"detail": "disabled"` with `scanned` — the phone
//! that scanned the code was told that SQRL login is disabled for its identity at this site
//! (after its query, or an `ident` refused for that reason). The login stays open, because
//! the app may re-enable SQRL login with the user's rescue code and then log in; the page
//! should say so ("SQRL login is disabled for this account. Re-enable it in your SQRL app with
//! your rescue code."). The detail goes away (plain `scanned`) once a reply no longer says
//! the identity is disabled, e.g. after the app re-enabled it, and any later status replaces
//! it. A status without a detail has no `detail` field.
//!
//! **`GET /sqrl/events`** is a Server-Sent Events stream (one per page; capped per client
//! address, per login and overall: `429` or `503` above)
//! of `status` events whose data is `{"status": "<status>", "expires_in": <seconds>}`, plus
//! `"detail": "<detail>"` when there is one and `"final": true` when the status is final. The first event is the current status; then one
//! per change (a change of detail alone is a change); the stream ends after a final status.
//! Each event carries `retry:` (the reconnect interval). `401` without a valid flow cookie,
//! `429` above the poll rate limit, `503` at the stream cap or when the store is down.
//!
//! **`GET /sqrl/poll?last=<status>[&detail=<detail>]`** is the long-poll fallback: it answers
//! at once when the status differs from `last` (or is final), or, when the page sends
//! `detail` (empty for none), when the detail differs from it; else after such a change or
//! 25 s, with `{"status": "<status>", "expires_in": <seconds>, "retry_ms": <ms>}` and
//! `"detail"` and `"final"` as for events. A page that does not send `detail` is not woken by a change
//! of detail alone. Errors as for events.
//!
//! **`POST /sqrl/redeem`** (no body), once the status is `confirmed`, turns the login into a
//! session: `200 {"redirect": "<after_login>"}` with the session cookie set and the flow
//! cookie cleared. `401` without a flow cookie, `403` when this browser did not start that
//! login, `409` when the login is not (or no longer) redeemable (the body says why), `503`
//! when the store is down: nothing changed, so the page retries with backoff (the widget
//! waits 0.5 s, doubling up to 8 s, within `redeem_window_s` of the confirmation; it retries a
//! lost connection the same way), and a confirmed login survives a backend blip or an
//! instance restart.
//!
//! **`GET /sqrl/qr.svg?nut=…`**, **`GET /sqrl/qr.png?nut=…`**: the QR code of a nut this
//! server minted (`404` otherwise).
//!
//! **`GET /sqrl/cps?token=…`** is where an app on the same device sends the browser: it logs
//! that browser in once and redirects to `after_login`; `403` with a short HTML page when the
//! link was used or expired. **`POST /sqrl/logout`** ends the session and redirects to
//! [`HttpSettings::login_page`](crate::HttpSettings::login_page) (`503` if the store is down).
//!
//! # Example
//!
//! A complete app whose login page is the snippet above:
//!
//! ```no_run
//! use axum::response::Html;
//! use axum::routing::get;
//! use sqrl_axum::widget::CONTENT_SECURITY_POLICY;
//! use sqrl_axum::{HttpSettings, SqrlHttp};
//! use sqrl_server::{Config, Endpoint, SqrlServer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::new("127.0.0.1:8080");
//! config.origin = "http://127.0.0.1:8080".into();
//! let server = Endpoint::new(config, &[1; 32], &[2; 32]);
//! let settings = HttpSettings { secure_cookies: false, ..HttpSettings::default() };
//! let sqrl = SqrlHttp::builder(SqrlServer::in_memory(server)).settings(settings).build();
//! sqrl.spawn_housekeeping()?;
//! let page = format!(
//!     "<!doctype html><title>Log in</title><div data-sqrl-login></div>\
//!      <script src=\"{}\" defer></script>",
//!     sqrl.widget_src()
//! );
//! let app = axum::Router::new()
//!     .route("/", get(move || async move {
//!         ([("content-security-policy", CONTENT_SECURITY_POLICY)], Html(page))
//!     }))
//!     .merge(sqrl.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```

use crate::assets::WIDGET_JS;
use crate::SqrlHttp;

/// A strict policy under which the widget works: scripts, styles, fetches and images from
/// this origin only, plus the two things same-device login needs (an image probe of
/// `http://localhost:25519` and the `sqrl:` link in a hidden frame); no inline script or
/// style, no framing by other sites.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: http://localhost:25519; connect-src 'self'; \
    frame-src sqrl:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

impl SqrlHttp {
    /// The widget script's URL with its version, e.g. `/sqrl/widget.js?v=0123456789abcdef`.
    pub fn widget_src(&self) -> String {
        WIDGET_JS.versioned(&format!("{}/widget.js", self.path()))
    }
}

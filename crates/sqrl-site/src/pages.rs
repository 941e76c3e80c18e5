//! The site's pages: login (QR code, same-device link, live status, countdown), account
//! (display name, identity, sessions with revoke), and the small forms behind them.

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use sqrl_axum::{SignedIn, SqrlHttp};
use sqrl_proto::b64;

#[derive(Clone)]
struct Site {
    sqrl: SqrlHttp,
    origin: String,
}

pub fn router(sqrl: SqrlHttp, origin: String) -> Router {
    Router::new()
        .route("/", get(login_page))
        .route("/account", get(account_page))
        .route("/account/name", post(set_name))
        .route("/account/revoke", post(revoke))
        .route("/health", get(|| async { "ok" }))
        .with_state(Site { sqrl, origin })
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM UTC` from seconds since the epoch.
fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rest = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1d2330}\
    h1{font-size:1.6rem}.card{border:1px solid #d5d9e0;border-radius:.6rem;padding:1.2rem 1.4rem;margin:1rem 0}\
    #qr{width:240px;height:240px;display:block;margin:.5rem 0}#qr.dim{opacity:.15}\
    #status{font-weight:600}code{word-break:break-all;background:#f2f4f7;padding:.1rem .3rem;border-radius:.2rem}\
    button{font:inherit;padding:.35rem .9rem;border-radius:.4rem;border:1px solid #8a93a6;background:#fff;cursor:pointer}\
    table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem;border-bottom:1px solid #e3e6eb}\
    .muted{color:#5b6475;font-size:.9rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

const LOGIN_SCRIPT: &str = r#"
const $ = (id) => document.getElementById(id);
let retryMs = 2000, expiresAt = 0, ticker = null, source = null, last = "";
const FINAL = ["rejected", "expired", "redeemed", "confirmed-elsewhere"];
const TEXT = {
  "new": "Scan the code with your SQRL app, or use the link on this device.",
  "scanned": "Code scanned. Confirm on your phone.",
  "confirmed": "Confirmed. Logging you in…",
  "confirmed-elsewhere": "Logged in through your SQRL app's link.",
  "rejected": "Login declined on the phone.",
  "expired": "This code has expired.",
  "redeemed": "Logged in.",
};
function stopWatching() {
  if (source) { source.close(); source = null; }
  if (ticker) { clearInterval(ticker); ticker = null; }
}
function offerNewCode() {
  $("qr").classList.add("dim");
  $("countdown").textContent = "";
  $("new-code").hidden = false;
}
async function redeem() {
  const r = await fetch("/sqrl/redeem", { method: "POST", credentials: "same-origin" });
  const j = await r.json().catch(() => ({}));
  if (r.ok && j.redirect) { location.assign(j.redirect); return; }
  $("status").textContent = "Could not log in: " + (j.error || r.status);
  offerNewCode();
}
function setStatus(status) {
  if (status === last) return;
  last = status;
  document.body.dataset.status = status;
  $("status").textContent = TEXT[status] || status;
  if (status === "confirmed") { stopWatching(); redeem(); return; }
  if (status === "redeemed" || status === "confirmed-elsewhere") { stopWatching(); location.assign("/account"); return; }
  if (FINAL.includes(status)) { stopWatching(); offerNewCode(); }
}
async function poll() {
  if (FINAL.includes(last) || last === "confirmed") return;
  try {
    const r = await fetch("/sqrl/poll?last=" + encodeURIComponent(last), { credentials: "same-origin" });
    if (r.ok) { const j = await r.json(); retryMs = j.retry_ms || retryMs; setStatus(j.status); setTimeout(poll, 0); return; }
  } catch (e) {}
  setTimeout(poll, retryMs);
}
function watch() {
  if (!window.EventSource) { poll(); return; }
  source = new EventSource("/sqrl/events");
  source.addEventListener("status", (e) => setStatus(JSON.parse(e.data).status));
  source.onerror = () => {
    // The browser reconnects by itself after the server's retry interval; if it gave up,
    // fall back to long polling.
    if (source && source.readyState === EventSource.CLOSED) { source = null; poll(); }
  };
}
function tick() {
  const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  $("countdown").textContent = "Code valid for " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
  if (left === 0) { setStatus("expired"); }
}
async function newCode() {
  stopWatching();
  last = "";
  $("new-code").hidden = true;
  $("status").textContent = "Getting a login code…";
  const r = await fetch("/sqrl/new", { method: "POST", credentials: "same-origin" });
  if (r.status === 429) { $("status").textContent = "Too many codes requested. Wait a minute, then try again."; $("new-code").hidden = false; return; }
  if (!r.ok) { $("status").textContent = "Could not get a login code (" + r.status + ")."; $("new-code").hidden = false; return; }
  const j = await r.json();
  $("qr").src = j.svg;
  $("qr").classList.remove("dim");
  $("sqrl-link").href = j.link;
  $("sqrl-url").textContent = j.url;
  retryMs = j.retry_ms || retryMs;
  expiresAt = Date.now() + j.expires_in * 1000;
  setStatus("new");
  tick();
  ticker = setInterval(tick, 1000);
  watch();
}
function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function probe() {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
    img.src = "http://localhost:25519/" + Date.now() + ".gif";
  });
}
// Same device: wake the client through the sqrl:// scheme, wait for its localhost server to
// answer the GIF probe, then hand it the link by navigating there (it redirects back here).
async function sameDevice(event) {
  event.preventDefault();
  const link = $("sqrl-link").href;
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.src = link;
  document.body.appendChild(frame);
  $("status").textContent = "Looking for a SQRL client on this device…";
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    if (await probe()) {
      // Hand over to the client; stop watching first, or this page's own reaction to the
      // login (a navigation to /account) would cancel the pending navigation to the client.
      stopWatching();
      last = "handed-over";
      location.assign("http://localhost:25519/" + b64url(link));
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  $("status").textContent = "No SQRL client answered on this device. Scan the code with your phone instead.";
}
$("sqrl-link").addEventListener("click", sameDevice);
$("new-code").addEventListener("click", newCode);
newCode();
"#;

async fn login_page(State(site): State<Site>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = site.sqrl.signed_in(&headers).await {
        return Redirect::to("/account").into_response();
    }
    let body = format!(
        "<h1>Log in with SQRL</h1>\
         <div class=card>\
         <img id=qr alt=\"SQRL login code\">\
         <p id=status role=status aria-live=polite>Getting a login code…</p>\
         <p id=countdown class=muted></p>\
         <p><button id=new-code hidden>Get a new code</button></p>\
         <p>On this device: <a id=sqrl-link href=\"#\">log in with SQRL</a></p>\
         <p class=muted>Or paste the link into your client: <code id=sqrl-url></code></p>\
         </div>\
         <p class=muted>No password: your SQRL app proves who you are with a key made for this site \
         alone. Your phone shows which browser asked, so check it matches this one.</p>\
         <script>{LOGIN_SCRIPT}</script>"
    );
    let mut response = page("Log in", &body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
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
        Err(_) => Err(Refused::Unavailable),
    }
}

/// The session behind a form post, which must come from this site (an `Origin` header, when
/// present, must be ours: on top of SameSite=Lax cookies).
async fn form_session(site: &Site, headers: &HeaderMap) -> Result<SignedIn, Refused> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| o != site.origin) {
        return Err(Refused::Forbidden);
    }
    require(site, headers).await
}

async fn account_page(State(site): State<Site>, headers: HeaderMap) -> Response {
    let signed_in = match require(&site, &headers).await {
        Ok(s) => s,
        Err(refused) => return refused.into_response(),
    };
    let store = site.sqrl.sqrl().store();
    let (account, name, sessions) = match (
        store.account(&signed_in.account).await,
        store.display_name(&signed_in.account).await,
        store.sessions_of(&signed_in.account).await,
    ) {
        (Ok(Some(account)), Ok(name), Ok(sessions)) => (account, name, sessions),
        (Ok(None), _, _) => return Refused::SignIn.into_response(),
        _ => return Refused::Unavailable.into_response(),
    };
    let mut rows = String::new();
    for session in &sessions {
        let handle = b64::encode(session.id_hash);
        let this = session.id_hash == signed_in.session.id_hash;
        rows.push_str(&format!(
            "<tr data-session=\"{handle}\"><td>{}{}</td><td>{}</td><td>{}</td><td>\
             <form method=post action=/account/revoke><input type=hidden name=session value=\"{handle}\">\
             <button>Revoke</button></form></td></tr>",
            escape(&session.browser),
            if this { " <strong>(this browser)</strong>" } else { "" },
            escape(&session.ip),
            utc(session.created_at),
        ));
    }
    let greeting = if name.is_empty() {
        "Your account".to_owned()
    } else {
        format!("Hello, {}", escape(&name))
    };
    let body = format!(
        "<h1 id=greeting>{greeting}</h1>\
         <div class=card><p>You are logged in with SQRL. Your username is your identity key for this site:</p>\
         <p><code id=idk>{}</code></p>\
         <form method=post action=/account/name><label>Display name \
         <input name=name value=\"{}\" maxlength=64></label> <button>Save</button></form></div>\
         <div class=card><h2>Sessions</h2><table id=sessions><tr><th>Browser</th><th>IP</th><th>Since</th><th></th></tr>{rows}</table></div>\
         <form method=post action=/sqrl/logout><button id=logout>Log out</button></form>",
        account.idk,
        escape(&name),
    );
    let mut response = page("Account", &body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
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
    let name: String = form
        .name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let store = site.sqrl.sqrl().store();
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
    let store = site.sqrl.sqrl().store();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}

// The SQRL login widget, served by sqrl-axum at `<path>/widget.js` (default `/sqrl/widget.js`).
//
// Put `<div data-sqrl-login></div>` where the login should appear and load this script; it
// fills every such element with a QR code, a live status, a countdown, a same-device link and
// a "Get a new code" button, and talks to the routes documented in sqrl-axum's crate docs.
// No inline script is needed, so it works under `script-src 'self'`.
//
// Attributes on the container (all optional):
//   data-sqrl-path         the routes' prefix (default: the directory this script was loaded from)
//   data-sqrl-after-login  where to go once logged in, a path on this site (default: the
//                          server's `after_login`); the OpenID Connect login page sets it
//   data-sqrl-new          where to POST for a new code, a path on this site (default: the
//                          routes' `/new`); the OpenID Connect login page's codes name its app
// The container's `data-status` holds the current state: `loading`, a flow status (`new`,
// `scanned`, `confirmed`, `confirmed-elsewhere`, `rejected`, `expired`, `redeemed`, `disabled`,
// `removed`, or any status a newer server sends), `local` (handed over to the SQRL app on this device),
// `no-local` (none answered) or `error`. Its `data-detail` holds the server's detail of a
// status when it sent one (`disabled` with `scanned`: SQRL login is disabled for the phone's
// identity here) and is absent otherwise. Its `data-redeem-retries` counts the redemptions
// tried again after a `503` or a lost connection (absent when there were none).
(function () {
  "use strict";
  const script = document.currentScript;
  const scriptPath = script && script.src
    ? new URL(script.src, location.href).pathname.replace(/\/widget\.js$/, "")
    : "/sqrl";
  const LOCAL = "http://localhost:25519/";
  const TEXT = {
    "loading": "Getting a login code…",
    "new": "Scan the code with your SQRL app, or use the link on this device.",
    "scanned": "Code scanned. Confirm in your SQRL app.",
    "confirmed": "Confirmed. Logging you in…",
    "confirmed-elsewhere": "Your SQRL app logged you in. Opening your account…",
    "redeemed": "Logged in. Opening your account…",
    "rejected": "Login declined in your SQRL app.",
    "disabled": "SQRL login was disabled for this account in your SQRL app.",
    "removed": "Your SQRL identity was removed from this site.",
    "expired": "This code has expired. Get a new code to log in.",
    "local": "Waiting for your SQRL app on this device…",
    "no-local": "No SQRL app answered on this device. Start it and try again, or scan the code with your SQRL app on another device.",
  };
  // Words for a status with a detail (the server's `detail` field), by "status:detail"; a
  // detail not listed here shows the status's own words.
  const DETAIL = {
    "scanned:disabled": "SQRL login is disabled for this account. Re-enable it in your SQRL app with your rescue code.",
  };
  const ENDED = "This login ended: get a new code.";
  // States in which the code can still be used: the QR code and the links are shown.
  const LIVE = ["new", "scanned", "no-local"];
  // Statuses that take this page elsewhere (the server says which statuses are final: its
  // JSON carries `"final": true`; the widget keeps no list of its own).
  const LEAVING = ["redeemed", "confirmed-elsewhere"];
  // A server from before the `final` field (an instance not yet upgraded, in a fleet in the
  // middle of an upgrade) leaves it out: these statuses were final there. A current server
  // sends `"final": true` with each of them, so for it this list decides nothing.
  const FINAL_WITHOUT_THE_FIELD = ["rejected", "expired", "disabled", "removed", "failed", "redeemed", "confirmed-elsewhere"];
  function finalOf(j) {
    return j.final === true || (j.final === undefined && FINAL_WITHOUT_THE_FIELD.includes(j.status));
  }
  const MARKUP =
    '<img class="sqrl-qr" alt="SQRL login code" hidden>' +
    '<p class="sqrl-status" role="status" aria-live="polite"></p>' +
    '<p class="sqrl-compare" hidden>Code on this page: <strong class="sqrl-compare-code"></strong>. If your SQRL app asks about a different code, cancel.</p>' +
    '<p class="sqrl-countdown"></p>' +
    '<p><button type="button" class="sqrl-new-code" hidden>Get a new code</button></p>' +
    '<p class="sqrl-same-device" hidden>On this device: <a class="sqrl-link" href="#">log in with SQRL</a></p>' +
    '<p class="sqrl-paste" hidden>Or paste the link into your SQRL app: <code class="sqrl-url"></code></p>';

  function b64url(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Is a SQRL app listening on this device? It answers any `*.gif` with an image.
  function probe() {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = LOCAL + Date.now() + ".gif";
    });
  }

  function mount(root) {
    if (root.dataset.sqrlMounted) return;
    root.dataset.sqrlMounted = "1";
    if (!root.querySelector(".sqrl-status")) root.innerHTML = MARKUP;
    const part = (name) => root.querySelector(".sqrl-" + name);
    const path = root.dataset.sqrlPath || scriptPath;
    // `done`: this page reacts to no further status (a final one, one it does not know, or
    // `confirmed`, which it redeems at once).
    let retryMs = 2000, expiresAt = 0, ticker = null, source = null, state = "", detail = "", done = false;
    // Only a path on this site: never `//host`, nor a backslash or control character anywhere
    // (URL parsers drop tabs and read `\` as `/`, which could make `//host` of it).
    const own = root.dataset.sqrlAfterLogin;
    const pinned = own && /^\/(?!\/)/.test(own) && !/[\\\u0000-\u001f\u007f]/.test(own) ? own : null;
    let afterLogin = pinned || "/", code = null, redeemWindowMs = 60000;
    // Where codes come from: `data-sqrl-new`, a path on this site (an identity provider's
    // login page gets codes that name the application), else the routes' own `/new`.
    const ownNew = root.dataset.sqrlNew;
    const codeSource = ownNew && /^\/(?!\/)/.test(ownNew) && !/[\\\u0000-\u001f\u007f]/.test(ownNew) ? ownNew : path + "/new";

    function show(name, visible) { const e = part(name); if (e) e.hidden = !visible; }
    function stopWatching() {
      if (source) { source.close(); source = null; }
      if (ticker) { clearInterval(ticker); ticker = null; }
    }
    function render(next, text, nextDetail, final) {
      state = next;
      detail = nextDetail || "";
      root.dataset.status = next;
      if (detail) root.dataset.detail = detail;
      else delete root.dataset.detail;
      part("status").textContent = text || DETAIL[next + ":" + detail] || TEXT[next] || ENDED;
      const live = LIVE.includes(next);
      show("qr", live);
      show("compare", live && code !== null && typeof code.compare === "number");
      show("same-device", live);
      show("paste", live);
      show("countdown", live);
      // Any status the widget has no words for ends the login too (a newer server may add
      // end states); so do its own `ended` and `error`.
      const known = Object.prototype.hasOwnProperty.call(TEXT, next);
      const over = next === "error" || !known || (final === true && !LEAVING.includes(next));
      show("new-code", over);
      if (over) stopWatching();
    }
    function setStatus(status, nextDetail, final) {
      nextDetail = typeof nextDetail === "string" ? nextDetail : "";
      if ((status === state && nextDetail === detail) || done || state === "local") return;
      // Back to `new` after a phone had the code: the site lost the login (its flow store
      // restarted empty). It cannot complete: say so and offer a new code.
      if (status === "new" && (state === "scanned" || state === "confirmed")) { status = "failed"; final = true; }
      done = final === true || status === "confirmed" || !Object.prototype.hasOwnProperty.call(TEXT, status);
      render(status, null, nextDetail, final);
      if (status === "confirmed") { stopWatching(); redeem(); }
      else if (status === "redeemed" || status === "confirmed-elsewhere") { stopWatching(); location.assign(afterLogin); }
    }
    // A redemption answered 503 ("try again": a backend blip) or lost on the way (an instance
    // restarting) changed nothing: try again with backoff while the login can be redeemed,
    // so that a confirmed login is not lost. Any other answer is final.
    async function redeem() {
      const until = Date.now() + redeemWindowMs - 1000;
      let wait = 500;
      for (;;) {
        let r = null, j = {};
        try {
          r = await fetch(path + "/redeem", { method: "POST", credentials: "same-origin" });
          j = await r.json().catch(() => ({}));
          if (r.ok && j.redirect) { location.assign(pinned || j.redirect); return; }
        } catch (e) { r = null; }
        if ((r !== null && r.status !== 503) || Date.now() + wait > until) {
          if (r === null) render("error", "Could not reach the site. Get a new code to try again.");
          else render("error", "Could not log in: " + (j.error || "error " + r.status) + ". Get a new code to try again.");
          return;
        }
        root.dataset.redeemRetries = String(Number(root.dataset.redeemRetries || 0) + 1);
        part("status").textContent = "Confirmed. The site is busy; logging you in…";
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 8000);
      }
    }
    async function poll() {
      if (done || state === "local" || !LIVE.includes(state)) return;
      try {
        const r = await fetch(path + "/poll?last=" + encodeURIComponent(state) + "&detail=" + encodeURIComponent(detail), { credentials: "same-origin" });
        if (r.ok) {
          const j = await r.json();
          retryMs = j.retry_ms || retryMs;
          sync(j.expires_in);
          setStatus(j.status, j.detail, finalOf(j));
          setTimeout(poll, 0);
          return;
        }
        if (r.status === 401 || r.status === 403) { render("ended"); return; }
      } catch (e) { /* network trouble: try again below */ }
      setTimeout(poll, retryMs);
    }
    function watch() {
      if (!window.EventSource) { poll(); return; }
      source = new EventSource(path + "/events");
      source.addEventListener("status", (e) => {
        const j = JSON.parse(e.data);
        sync(j.expires_in);
        setStatus(j.status, j.detail, finalOf(j));
      });
      source.onerror = () => {
        // The browser reconnects by itself after the server's retry interval; when it gave
        // up (the server refused the stream), fall back to long polling.
        if (source && source.readyState === EventSource.CLOSED) { source = null; poll(); }
      };
    }
    function sync(seconds) {
      if (typeof seconds === "number") expiresAt = Date.now() + seconds * 1000;
    }
    function tick() {
      const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      part("countdown").textContent = "Code valid for " + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left === 0 && LIVE.includes(state)) setStatus("expired", "", true);
    }
    async function newCode() {
      stopWatching();
      done = false;
      render("loading");
      show("new-code", false);
      let r;
      try {
        r = await fetch(codeSource, { method: "POST", credentials: "same-origin" });
      } catch (e) {
        render("error", "Could not reach the site. Try again.");
        return;
      }
      if (r.status === 429) { render("error", "Too many codes requested. Wait a minute, then try again."); return; }
      if (!r.ok) { render("error", "Could not get a login code (error " + r.status + "). Try again."); return; }
      code = await r.json();
      afterLogin = pinned || code.after_login || afterLogin;
      if (typeof code.redeem_window_s === "number") redeemWindowMs = code.redeem_window_s * 1000;
      part("qr").src = code.svg;
      part("link").href = code.link;
      part("url").textContent = code.url;
      const compare = part("compare-code");
      if (compare) compare.textContent = typeof code.compare === "number" ? String(code.compare) : "";
      retryMs = code.retry_ms || retryMs;
      sync(code.expires_in);
      render("new");
      tick();
      ticker = setInterval(tick, 1000);
      watch();
    }
    // Same device: wake the app through the sqrl:// scheme, wait for its localhost server to
    // answer the image probe, then hand it the link by navigating there (it sends this
    // browser back to the site when the user has decided).
    async function sameDevice(event) {
      event.preventDefault();
      if (!code || !LIVE.includes(state)) return;
      const frame = document.createElement("iframe");
      frame.hidden = true;
      frame.src = code.link;
      document.body.appendChild(frame);
      part("status").textContent = "Looking for your SQRL app on this device…";
      const until = Date.now() + 4000;
      while (Date.now() < until) {
        if (await probe()) {
          // Stop watching first, or this page's own reaction to the login (a navigation to
          // the account) would cancel the pending navigation to the app.
          stopWatching();
          render("local");
          location.assign(LOCAL + b64url(code.link));
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      render("no-local");
    }
    part("link").addEventListener("click", sameDevice);
    part("new-code").addEventListener("click", newCode);
    newCode();
  }

  function start() { document.querySelectorAll("[data-sqrl-login]").forEach(mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

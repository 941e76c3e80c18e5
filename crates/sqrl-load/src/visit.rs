//! What one iteration of a phase does, as a browser (and a phone) would: a whole login, its
//! floor, a page view, an OpenID Connect login, a forward-auth check.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_core::OsRng;
use sha2::{Digest, Sha256};
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Step};
use sqrl_client::keys::Rlk;
use sqrl_proto::{Button, SqrlUrl};

use crate::http::{Connection, Events, Reply};

pub(crate) fn json_field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split(&format!("\"{name}\":\""))
        .nth(1)?
        .split('"')
        .next()
}

/// A browser's new code: (sqrl URL, flow cookie).
pub(crate) async fn new_code(connection: &mut Connection) -> Result<(String, String), String> {
    let (status, cookie, body) = connection.call("POST", "/sqrl/new", None, "").await?;
    if status != 200 {
        return Err(format!("/sqrl/new answered {status}: {body}"));
    }
    let url = json_field(&body, "url").ok_or("no url")?.to_owned();
    Ok((url, cookie.ok_or("no flow cookie")?))
}

/// What one login measured.
pub(crate) struct Login {
    pub(crate) total: Duration,
    pub(crate) notify: Duration,
}

/// One whole visit, from `from`.
pub(crate) async fn login(site: SocketAddr, from: IpAddr, keys: &Keys) -> Result<Login, String> {
    signed_in(site, from, keys, None)
        .await
        .map(|(login, _)| login)
}

/// A whole login; the redemption's reply (its cookies and where it sends the browser).
/// `cookie`: more cookies the browser sends with the redemption (a return cookie).
async fn signed_in(
    site: SocketAddr,
    from: IpAddr,
    keys: &Keys,
    cookie: Option<&str>,
) -> Result<(Login, Reply), String> {
    let start = Instant::now();
    let mut browser = Connection::open(from, site).await?;
    let (url, flow) = new_code(&mut browser).await?;
    let mut watching = Connection::open(from, site).await?;
    let mut events = Events::open(&mut watching, &flow).await?;
    events.wait_for("new").await?;
    let replied = phone(site, from, keys, &url).await?;
    events.wait_for("confirmed").await?;
    let notify = replied.elapsed();
    let cookies = match cookie {
        Some(more) => format!("{flow}; {more}"),
        None => flow,
    };
    let redeemed = browser
        .fetch("POST", "/sqrl/redeem", &[("cookie", &cookies)], "")
        .await?;
    if redeemed.status != 200 {
        return Err(format!(
            "redeem answered {}: {}",
            redeemed.status, redeemed.body
        ));
    }
    let login = Login {
        total: start.elapsed(),
        notify,
    };
    Ok((login, redeemed))
}

/// The phone's side of a login at `url`, on its own connection: when its last reply came.
async fn phone(site: SocketAddr, from: IpAddr, keys: &Keys, url: &str) -> Result<Instant, String> {
    let mut phone = Connection::open(from, site).await?;
    let url = SqrlUrl::parse(url).map_err(|e| e.to_string())?;
    let (mut exchange, mut request) = Exchange::start(
        url,
        Action::Login,
        keys,
        Config::default(),
        Rlk::generate(&mut OsRng),
    )
    .map_err(|e| e.to_string())?;
    let replied = loop {
        let path = request
            .url
            .split_once("/sqrl")
            .map(|(_, rest)| format!("/sqrl{rest}"))
            .ok_or("bad request URL")?;
        let (_, _, reply) = phone.call("POST", &path, None, &request.body).await?;
        let at = Instant::now();
        let mut step = exchange.receive(&reply).map_err(|e| e.to_string())?;
        if let Step::Confirm(_) = step {
            step = exchange
                .decide(Decision::Button(Button::First))
                .map_err(|e| e.to_string())?;
        }
        match step {
            Step::Send(next) => request = next,
            Step::Done(_) => break at,
            Step::Confirm(_) => return Err("asked twice".into()),
        }
    };
    Ok(replied)
}

/// The floor of a visit: a login's 3 connections and 5 requests, all to `GET /health`.
pub(crate) async fn empty_visit(site: SocketAddr, from: IpAddr) -> Result<Login, String> {
    let start = Instant::now();
    let mut connections = [
        Connection::open(from, site).await?,
        Connection::open(from, site).await?,
        Connection::open(from, site).await?,
    ];
    // browser, stream, phone, phone, browser
    for i in [0, 1, 2, 2, 0] {
        let Some(connection) = connections.get_mut(i) else {
            continue;
        };
        let (status, _, _) = connection.call("GET", "/health", None, "").await?;
        if status != 200 {
            return Err(format!("/health answered {status}"));
        }
    }
    Ok(Login {
        total: start.elapsed(),
        notify: Duration::ZERO,
    })
}

/// A page view: a code and its QR image on one connection, no login.
pub(crate) async fn page_view(site: SocketAddr, from: IpAddr) -> Result<Login, String> {
    let start = Instant::now();
    let mut browser = Connection::open(from, site).await?;
    let (status, _, body) = browser.call("POST", "/sqrl/new", None, "").await?;
    if status != 200 {
        return Err(format!("/sqrl/new answered {status}: {body}"));
    }
    let svg = json_field(&body, "svg").ok_or("no svg")?.to_owned();
    let (status, _, image) = browser.call("GET", &svg, None, "").await?;
    if status != 200 || !image.starts_with("<svg") {
        return Err(format!("{svg} answered {status}"));
    }
    Ok(Login {
        total: start.elapsed(),
        notify: Duration::ZERO,
    })
}

/// A relying party registered on the site (first-party, so no consent page, with the redirect
/// URI [`REDIRECT_URI`]).
#[derive(Debug, Clone)]
pub(crate) struct OidcClient {
    pub(crate) id: String,
    pub(crate) secret: String,
}

/// The redirect URI the load's relying party registers (nothing listens there: the code is
/// read from the redirect).
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";

/// A whole OpenID Connect login: the authorization request (the login page), the SQRL login,
/// the way back with a code, the token request, UserInfo.
pub(crate) async fn oidc_login(
    site: SocketAddr,
    from: IpAddr,
    keys: &Keys,
    client: &OidcClient,
) -> Result<Login, String> {
    let start = Instant::now();
    let mut verifier = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut verifier);
    let verifier = sqrl_proto::b64::encode(verifier);
    let challenge = sqrl_proto::b64::encode(Sha256::digest(verifier.as_bytes()));
    let mut browser = Connection::open(from, site).await?;
    let page = browser
        .fetch(
            "GET",
            &format!(
                "/oidc/authorize?client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
                 &response_type=code&scope=openid&state=load&code_challenge={challenge}\
                 &code_challenge_method=S256",
                client.id
            ),
            &[],
            "",
        )
        .await?;
    if page.status != 200 {
        return Err(format!("authorize answered {}: {}", page.status, page.body));
    }
    let (login, redeemed) = signed_in(site, from, keys, Some(&page.cookies.join("; "))).await?;
    let resume = json_field(&redeemed.body, "redirect").ok_or("no redirect")?;
    let session = redeemed.cookies.join("; ");
    let back = browser
        .fetch("GET", resume, &[("cookie", &session)], "")
        .await?;
    let code = back
        .location
        .as_deref()
        .filter(|l| l.starts_with(REDIRECT_URI))
        .and_then(|l| l.split("code=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .ok_or_else(|| format!("no code: {} {:?}", back.status, back.location))?
        .to_owned();
    let form = format!(
        "grant_type=authorization_code&code={code}\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier={verifier}\
         &client_id={}&client_secret={}",
        client.id, client.secret
    );
    let token = browser
        .fetch(
            "POST",
            "/oidc/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await?;
    let access = json_field(&token.body, "access_token")
        .ok_or_else(|| format!("token answered {}: {}", token.status, token.body))?;
    let bearer = format!("Bearer {access}");
    let info = browser
        .fetch("GET", "/oidc/userinfo", &[("authorization", &bearer)], "")
        .await?;
    if info.status != 200 {
        return Err(format!("userinfo answered {}", info.status));
    }
    Ok(Login {
        total: start.elapsed(),
        notify: login.notify,
    })
}

/// A browser with a forward-auth session, and the proxy's kept-alive connection that checks
/// it (`GET /auth/check`, as nginx `auth_request` does for every request an app receives).
pub(crate) struct Checker {
    connection: Connection,
    cookie: String,
}

impl Checker {
    /// Logs in, takes the forward-auth session, opens the proxy's connection.
    pub(crate) async fn new(site: SocketAddr, from: IpAddr, keys: &Keys) -> Result<Self, String> {
        let (_, redeemed) = signed_in(site, from, keys, None).await?;
        let session = redeemed.cookies.join("; ");
        let mut browser = Connection::open(from, site).await?;
        let handed = browser
            .fetch(
                "GET",
                "/auth/login?rd=http%3A%2F%2F127.0.0.1%3A9%2F",
                &[("cookie", &session)],
                "",
            )
            .await?;
        let cookie = handed
            .cookies
            .into_iter()
            .find(|c| c.contains("sqrl_forward_auth="))
            .ok_or_else(|| format!("no forward-auth cookie (start the site with --forward-auth-domain 127.0.0.1): {}", handed.status))?;
        Ok(Self {
            connection: Connection::open(from, site).await?,
            cookie,
        })
    }

    /// One check.
    pub(crate) async fn check(&mut self) -> Result<Login, String> {
        let start = Instant::now();
        let reply = self
            .connection
            .fetch("GET", "/auth/check", &[("cookie", &self.cookie)], "")
            .await?;
        if reply.status != 200 {
            return Err(format!("/auth/check answered {}", reply.status));
        }
        Ok(Login {
            total: start.elapsed(),
            notify: Duration::ZERO,
        })
    }
}

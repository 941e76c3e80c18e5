//! The OpenID Connect provider on two `sqrl-site` instances behind one origin, on one
//! throwaway PostgreSQL and Redis: the client is registered once on the shared database, the
//! authorization request and the SQRL login happen on A, the consent and the code on B, the
//! token on A, UserInfo on B; both publish the same keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::process::Command;

use sqrl_client::exchange::{Action, Config, Decision, Exchange};
use sqrl_client::keys::Rlk;
use sqrl_proto::{b64, Button, SqrlUrl};
use sqrl_testkit::{binary, Postgres, Redis};
use support::{new_keys, temp_dir, Browser, SiteProcess};

const ORIGIN: &str = "http://127.0.0.1:8997";
const REDIRECT: &str = "http://127.0.0.1:9/cb";

fn start(database: &str, redis: &str) -> SiteProcess {
    SiteProcess::start(
        &temp_dir("oidc-instances"),
        &["--origin", ORIGIN, "--database", database, "--redis", redis],
    )
}

fn form_post(
    base: &str,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = match agent
        .post(&format!("{base}{path}"))
        .set("Cookie", cookie)
        .set("Origin", ORIGIN)
        .send_form(form)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let location = response.header("location").map(str::to_owned);
    (response.status(), response.into_string().unwrap(), location)
}

fn query_value(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .map(str::to_owned)
}

fn claims(id_token: &str) -> serde_json::Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&b64::decode(payload).unwrap()).unwrap()
}

#[test]
fn authorize_on_one_instance_and_redeem_on_another() {
    let pg = Postgres::start().unwrap();
    let redis = Redis::start().unwrap();
    let (database, redis_url) = (pg.url(), redis.url());
    let a = start(&database, &redis_url);
    let b = start(&database, &redis_url);

    let registered = Command::new(binary("sqrl-site"))
        .args(["--database", &database, "client", "add", "--name", "Wiki"])
        .args(["--redirect-uri", REDIRECT])
        .output()
        .unwrap();
    assert!(registered.status.success(), "{registered:?}");
    let printed = String::from_utf8(registered.stdout).unwrap();
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (client_id, secret) = (field("client_id"), field("client_secret"));

    // Both instances publish the same keys (made once, by whichever started first).
    let jwks = |site: &SiteProcess| {
        ureq::get(&format!("{}/oidc/jwks", site.base))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    assert_eq!(jwks(&a), jwks(&b));

    // The authorization request and the SQRL login on A.
    let verifier = b64::encode([7u8; 40]);
    let challenge = b64::encode(sqrl_oidc::hash(&verifier));
    let mut browser = Browser::new(&a.base, None);
    let authorize = format!(
        "/oidc/authorize?client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
         &response_type=code&scope=openid&state=st1&nonce=n1\
         &code_challenge={challenge}&code_challenge_method=S256"
    );
    let page = browser.send("GET", &authorize);
    assert_eq!(page.status, 200, "{}", page.body);
    let resume = page
        .body
        .split("data-sqrl-after-login=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let url = browser.new_code();
    let keys = new_keys();
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(&url).unwrap(),
        Action::Login,
        &keys,
        Config::default(),
        Rlk::generate(&mut rand_core::OsRng),
    )
    .unwrap();
    let send = |request: &sqrl_client::exchange::Request| {
        let path = request.url.split_once("/sqrl").unwrap().1;
        Ok(ureq::post(&format!("{}/sqrl{path}", a.base))
            .send_string(&request.body)
            .unwrap()
            .into_string()
            .unwrap())
    };
    exchange
        .drive(first, send, |_| Decision::Button(Button::First))
        .unwrap();
    let redeemed = browser.send("POST", "/sqrl/redeem");
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    assert!(
        redeemed.body.contains(&resume),
        "{} vs {resume}",
        redeemed.body
    );

    // The pending request and the session are in the shared database: B shows the consent
    // page and, once agreed, sends the code.
    browser.base = b.base.clone();
    let consent = browser.send("GET", &resume);
    assert_eq!(consent.status, 200, "{}", consent.body);
    let req = consent
        .body
        .split("name=\"req\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let cookie = browser
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let (status, body, location) = form_post(
        &b.base,
        "/oidc/consent",
        &cookie,
        &[("req", &req), ("decision", "allow")],
    );
    assert_eq!(status, 303, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some("st1"));
    let code = query_value(&location, "code").unwrap();

    // The token on A, UserInfo on B.
    let token: serde_json::Value = serde_json::from_str(
        &ureq::post(&format!("{}/oidc/token", a.base))
            .send_form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ])
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    let id = claims(token["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], ORIGIN);
    assert_eq!(id["aud"], client_id.as_str());
    assert_eq!(id["nonce"], "n1");
    let info: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{}/oidc/userinfo", b.base))
            .set(
                "Authorization",
                &format!("Bearer {}", token["access_token"].as_str().unwrap()),
            )
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["sub"], id["sub"]);

    // The code again, at B: refused, and the token it issued is revoked everywhere.
    let replay = ureq::post(&format!("{}/oidc/token", b.base)).send_form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
        ("client_id", &client_id),
        ("client_secret", &secret),
    ]);
    assert!(
        matches!(replay, Err(ureq::Error::Status(400, _))),
        "{replay:?}"
    );
    let revoked = ureq::get(&format!("{}/oidc/userinfo", a.base))
        .set(
            "Authorization",
            &format!("Bearer {}", token["access_token"].as_str().unwrap()),
        )
        .call();
    assert!(
        matches!(revoked, Err(ureq::Error::Status(401, _))),
        "{revoked:?}"
    );
}

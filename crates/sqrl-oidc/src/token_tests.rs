use super::*;
use crate::authorize::{AuthRequest, Prompt};
use crate::client::Registration;
use crate::grant::issue_code;
use crate::keys::{Alg, SigningKey};
use rand_core::OsRng;

const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";
// The challenge of VERIFIER, computed independently (Python: urlsafe_b64encode(sha256(v))).
const CHALLENGE: &str = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc";

fn registered(public: bool) -> (Client, Option<String>) {
    let (c, s) = Registration {
        name: "Wiki".into(),
        redirect_uris: vec!["https://wiki.example/cb".into()],
        post_logout_redirect_uris: vec![],
        public,
        no_pkce: false,
        alg: Alg::Es256,
        public_subject: false,
        first_party: false,
    }
    .register(&mut OsRng, 0)
    .unwrap();
    (c, s.map(|s| s.0.to_string()))
}

fn grant(c: &Client) -> CodeGrant {
    let request = AuthRequest {
        client_id: c.id.clone(),
        redirect_uri: "https://wiki.example/cb".into(),
        scope: vec!["openid".into()],
        state: None,
        nonce: Some("n-0S6_WzA2Mj".into()),
        prompt: Prompt::default(),
        max_age: None,
        code_challenge: Some(CHALLENGE.into()),
        hint_sub: None,
    };
    issue_code(&request, "acct", 50, 100, &mut OsRng).1
}

fn form(pairs: &[(&str, &str)]) -> Params {
    Params(
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    )
}

fn code_request(c: &Client, verifier: Option<&str>, uri: &str) -> CodeRequest {
    CodeRequest {
        credentials: Credentials {
            client_id: c.id.clone(),
            secret: None,
        },
        code: "x".into(),
        redirect_uri: Some(uri.into()),
        code_verifier: verifier.map(str::to_owned),
    }
}

#[test]
fn a_verifier_matches_its_s256_challenge() {
    let (c, _) = registered(true);
    let g = grant(&c);
    let ok = redeem(
        &c,
        &code_request(&c, Some(VERIFIER), "https://wiki.example/cb"),
        Taken::Fresh(g.clone()),
        100,
    );
    assert_eq!(ok, Ok(g));
}

#[test]
fn a_code_is_refused_when_replayed_expired_foreign_or_with_a_wrong_verifier() {
    let (c, _) = registered(true);
    let (other, _) = registered(true);
    let g = grant(&c);
    let good = code_request(&c, Some(VERIFIER), "https://wiki.example/cb");
    assert_eq!(
        redeem(&c, &good, Taken::Replayed(g.clone()), 100),
        Err(Refusal::CodeReplayed)
    );
    assert_eq!(
        redeem(&c, &good, Taken::Missing, 100),
        Err(Refusal::CodeInvalid)
    );
    assert_eq!(
        redeem(
            &c,
            &good,
            Taken::Fresh(g.clone()),
            100 + crate::CODE_LIFETIME
        ),
        Err(Refusal::CodeInvalid)
    );
    assert_eq!(
        redeem(&other, &good, Taken::Fresh(g.clone()), 100),
        Err(Refusal::CodeOtherClient)
    );
    let wrong_uri = code_request(&c, Some(VERIFIER), "https://wiki.example/other");
    assert_eq!(
        redeem(&c, &wrong_uri, Taken::Fresh(g.clone()), 100),
        Err(Refusal::RedirectUriMismatch)
    );
    let no_uri = CodeRequest {
        redirect_uri: None,
        ..good.clone()
    };
    assert_eq!(
        redeem(&c, &no_uri, Taken::Fresh(g.clone()), 100),
        Err(Refusal::RedirectUriMismatch)
    );
    let wrong = code_request(
        &c,
        Some(&VERIFIER.replace('d', "e")),
        "https://wiki.example/cb",
    );
    assert_eq!(
        redeem(&c, &wrong, Taken::Fresh(g.clone()), 100),
        Err(Refusal::VerifierMismatch)
    );
    // `plain` at the token endpoint: the challenge itself as the verifier.
    let plain = code_request(&c, Some(CHALLENGE), "https://wiki.example/cb");
    assert_eq!(
        redeem(&c, &plain, Taken::Fresh(g.clone()), 100),
        Err(Refusal::VerifierMismatch)
    );
    let missing = code_request(&c, None, "https://wiki.example/cb");
    assert_eq!(
        redeem(&c, &missing, Taken::Fresh(g.clone()), 100),
        Err(Refusal::VerifierMissing)
    );
    let no_pkce = CodeGrant {
        code_challenge: None,
        ..g.clone()
    };
    assert_eq!(
        redeem(&c, &good, Taken::Fresh(no_pkce), 100),
        Err(Refusal::UnexpectedVerifier)
    );
}

#[test]
fn client_authentication_takes_exactly_one_method() {
    let (c, secret) = registered(false);
    let secret = secret.unwrap();
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:{}", c.id, secret)));
    let base = [("grant_type", "authorization_code"), ("code", "abc")];
    let r = parse(&form(&base), Some(&basic)).unwrap();
    assert_eq!(
        authenticate(Some(&c), &r.credentials).map(|c| c.id.clone()),
        Ok(c.id.clone())
    );
    let post = form(&[
        base[0],
        base[1],
        ("client_id", &c.id),
        ("client_secret", &secret),
    ]);
    let r = parse(&post, None).unwrap();
    assert!(authenticate(Some(&c), &r.credentials).is_ok());
    assert_eq!(
        parse(&post, Some(&basic)).err(),
        Some(Refusal::ClientAuthFailed),
        "two methods"
    );
    let wrong = form(&[
        base[0],
        base[1],
        ("client_id", &c.id),
        ("client_secret", "nope"),
    ]);
    let r = parse(&wrong, None).unwrap();
    assert_eq!(
        authenticate(Some(&c), &r.credentials).err(),
        Some(Refusal::ClientAuthFailed)
    );
    let none = form(&[base[0], base[1], ("client_id", &c.id)]);
    let r = parse(&none, None).unwrap();
    assert_eq!(
        authenticate(Some(&c), &r.credentials).err(),
        Some(Refusal::ClientAuthFailed),
        "confidential without secret"
    );
    assert_eq!(
        parse(&form(&base), None).err(),
        Some(Refusal::ClientAuthFailed)
    );
    assert_eq!(
        parse(&form(&[("grant_type", "password"), ("code", "x")]), None).err(),
        Some(Refusal::UnsupportedGrantType)
    );
    let (public, _) = registered(true);
    let r = parse(
        &form(&[
            base[0],
            base[1],
            ("client_id", &public.id),
            ("client_secret", "x"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(
        authenticate(Some(&public), &r.credentials).err(),
        Some(Refusal::ClientAuthFailed),
        "public with a secret"
    );
}

#[test]
fn basic_credentials_are_form_decoded() {
    let header = format!("Basic {}", STANDARD.encode("a%2Bb:s%3Ac+d"));
    let r = parse(
        &form(&[("grant_type", "authorization_code"), ("code", "c")]),
        Some(&header),
    )
    .unwrap();
    assert_eq!(r.credentials.client_id, "a+b");
    assert_eq!(r.credentials.secret.as_deref(), Some("s:c d"));
}

#[test]
fn the_id_token_carries_the_oidc_claims_and_a_pairwise_subject() {
    let (c, _) = registered(true);
    let (other, _) = registered(true);
    let key = SigningKey::generate(Alg::Es256, 0).unwrap();
    let keys = KeyRing::from_records(vec![key.record().clone()]).unwrap();
    let g = grant(&c);
    let issued = mint(
        "https://idp.example",
        &c,
        &g,
        &keys,
        &[7; 32],
        100,
        &mut OsRng,
    )
    .unwrap();
    let claims = keys.verify(&issued.id_token, 100).unwrap();
    assert_eq!(claims["iss"], "https://idp.example");
    assert_eq!(claims["aud"], json!(c.id));
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["auth_time"], 50);
    assert_eq!(claims["exp"], json!(100 + ID_TOKEN_LIFETIME));
    assert_eq!(claims["amr"], json!(["pop"]));
    let sub = claims["sub"].as_str().unwrap();
    assert_ne!(sub, "acct");
    assert_ne!(
        sub,
        subject(&other, "acct", &[7; 32]),
        "pairwise: another client sees another sub"
    );
    assert_eq!(sub, subject(&c, "acct", &[7; 32]), "stable");
    assert_eq!(
        userinfo(Some(issued.access.clone()), 100),
        Ok(json!({"sub": sub}))
    );
    assert_eq!(
        userinfo(Some(issued.access), 100 + ACCESS_TOKEN_LIFETIME),
        Err(Refusal::InvalidToken)
    );
    assert_eq!(bearer(Some("Basic abc")), Err(Refusal::InvalidToken));
    assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
}

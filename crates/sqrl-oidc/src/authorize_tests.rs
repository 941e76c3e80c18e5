use super::*;
use crate::client::{Registration, SubjectType};
use crate::keys::Alg;
use rand_core::OsRng;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(pkce_required: bool) -> Client {
    let (mut c, _) = Registration {
        name: "Wiki".into(),
        redirect_uris: vec!["https://wiki.example/cb".into()],
        post_logout_redirect_uris: vec![],
        public: false,
        no_pkce: !pkce_required,
        alg: Alg::Rs256,
        public_subject: false,
        first_party: false,
    }
    .register(&mut OsRng, 0)
    .unwrap();
    c.subject = SubjectType::Pairwise;
    c
}

fn params(c: &Client, extra: &[(&str, &str)]) -> Params {
    let mut p = vec![
        ("client_id", c.id.as_str()),
        ("redirect_uri", "https://wiki.example/cb"),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        p.retain(|(name, _)| name != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    Params(p.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
}

fn refused(c: &Client, extra: &[(&str, &str)]) -> AuthorizeRefusal {
    validate(&params(c, extra), Some(c)).unwrap_err()
}

#[test]
fn a_valid_request_is_accepted_with_its_challenge_and_state() {
    let c = client(true);
    let r = validate(&params(&c, &[("nonce", "n")]), Some(&c)).unwrap();
    assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(r.state.as_deref(), Some("st"));
    assert_eq!(r.nonce.as_deref(), Some("n"));
}

#[test]
fn an_unregistered_redirect_uri_is_shown_on_a_page_never_redirected() {
    let c = client(true);
    for uri in [
        "https://evil.example/cb",
        "https://wiki.example/cb/",
        "https://wiki.example/cb?x=1",
    ] {
        assert_eq!(
            refused(&c, &[("redirect_uri", uri)]),
            AuthorizeRefusal::Page(Refusal::UnregisteredRedirectUri),
            "{uri}"
        );
    }
    assert_eq!(
        refused(&c, &[("redirect_uri", "")]),
        AuthorizeRefusal::Page(Refusal::MissingRedirectUri)
    );
    assert_eq!(
        validate(&params(&c, &[]), None).unwrap_err(),
        AuthorizeRefusal::Page(Refusal::UnknownClient)
    );
    let mut dup = params(&c, &[]);
    dup.0
        .push(("redirect_uri".into(), "https://evil.example/".into()));
    assert_eq!(
        validate(&dup, Some(&c)).unwrap_err(),
        AuthorizeRefusal::Page(Refusal::DuplicateIdentifyingParameter("redirect_uri"))
    );
}

#[test]
fn pkce_plain_or_missing_is_refused_to_the_redirect_uri() {
    let c = client(true);
    let cases: [(&[(&str, &str)], Refusal); 5] = [
        (
            &[("code_challenge_method", "plain")],
            Refusal::PkcePlainRefused,
        ),
        (&[("code_challenge_method", "")], Refusal::PkcePlainRefused),
        (
            &[("code_challenge", ""), ("code_challenge_method", "")],
            Refusal::PkceRequired,
        ),
        (
            &[("code_challenge_method", "S512")],
            Refusal::UnknownChallengeMethod,
        ),
        (
            &[("code_challenge", "short")],
            Refusal::MalformedCodeChallenge,
        ),
    ];
    for (extra, want) in cases {
        match refused(&c, extra) {
            AuthorizeRefusal::Redirect {
                refusal,
                state,
                redirect_uri,
            } => {
                assert_eq!(refusal, want);
                assert_eq!(state.as_deref(), Some("st"));
                assert_eq!(redirect_uri, "https://wiki.example/cb");
            }
            other => panic!("{other:?}"),
        }
    }
    let opted_out = client(false);
    assert!(validate(
        &params(
            &opted_out,
            &[("code_challenge", ""), ("code_challenge_method", "")]
        ),
        Some(&opted_out)
    )
    .is_ok());
}

#[test]
fn only_the_code_flow_with_openid_is_accepted() {
    let c = client(true);
    let cases: [(&[(&str, &str)], Refusal); 7] = [
        (
            &[("response_type", "token")],
            Refusal::UnsupportedResponseType,
        ),
        (
            &[("response_type", "code id_token")],
            Refusal::UnsupportedResponseType,
        ),
        (&[("response_type", "")], Refusal::MissingResponseType),
        (&[("scope", "profile")], Refusal::MissingOpenidScope),
        (
            &[("response_mode", "fragment")],
            Refusal::UnsupportedResponseMode,
        ),
        (&[("request", "eyJ")], Refusal::RequestObjectUnsupported),
        (&[("prompt", "none login")], Refusal::PromptNoneCombined),
    ];
    for (extra, want) in cases {
        assert_eq!(refused(&c, extra).refusal(), &want, "{extra:?}");
    }
    assert_eq!(
        refused(&c, &[("max_age", "-1")]).refusal(),
        &Refusal::InvalidMaxAge
    );
    let mut dup = params(&c, &[]);
    dup.0.push(("scope".into(), "openid".into()));
    assert_eq!(
        validate(&dup, Some(&c)).unwrap_err().refusal(),
        &Refusal::DuplicateParameter("scope".into())
    );
}

fn request(c: &Client, extra: &[(&str, &str)]) -> AuthRequest {
    validate(&params(c, extra), Some(c)).unwrap()
}

#[test]
fn prompt_and_max_age_decide_whether_to_log_in_again() {
    let c = client(true);
    let plain = request(&c, &[]);
    let old = Some(Login {
        auth_time: 100,
        other_than_hinted: false,
    });
    assert_eq!(
        next(&plain, &c, None, 1000, false, false, 1000),
        Ok(Next::Login)
    );
    assert_eq!(
        next(&plain, &c, old, 1000, false, false, 1000),
        Ok(Next::Consent)
    );
    assert_eq!(
        next(&plain, &c, old, 1000, true, false, 1000),
        Ok(Next::Issue)
    );
    let login = request(&c, &[("prompt", "login")]);
    assert_eq!(
        next(&login, &c, old, 1000, true, false, 1000),
        Ok(Next::Login)
    );
    let fresh = Some(Login {
        auth_time: 1000,
        other_than_hinted: false,
    });
    assert_eq!(
        next(&login, &c, fresh, 1000, true, false, 1001),
        Ok(Next::Issue)
    );
    let max_age = request(&c, &[("max_age", "0")]);
    assert_eq!(
        next(&max_age, &c, old, 1000, true, false, 1000),
        Ok(Next::Login)
    );
    assert_eq!(
        next(&max_age, &c, fresh, 1000, true, false, 1005),
        Ok(Next::Issue),
        "fresh for this request"
    );
    let none = request(&c, &[("prompt", "none")]);
    assert_eq!(
        next(&none, &c, None, 1000, true, false, 1000),
        Err(Refusal::LoginRequired)
    );
    assert_eq!(
        next(&none, &c, old, 1000, false, false, 1000),
        Err(Refusal::ConsentRequired)
    );
    assert_eq!(
        next(&none, &c, old, 1000, true, false, 1000),
        Ok(Next::Issue)
    );
    let consent = request(&c, &[("prompt", "consent")]);
    assert_eq!(
        next(&consent, &c, old, 1000, true, false, 1000),
        Ok(Next::Consent)
    );
    assert_eq!(
        next(&consent, &c, old, 1000, true, true, 1000),
        Ok(Next::Issue)
    );
    let mut first_party = c.clone();
    first_party.first_party = true;
    assert_eq!(
        next(&plain, &first_party, old, 1000, false, false, 1000),
        Ok(Next::Issue)
    );
}

/// Before, `id_token_hint` was ignored at the authorization endpoint: `prompt=none` with a
/// hint naming user A answered with a code for user B, who was logged in.
#[test]
fn a_session_of_another_user_than_the_id_token_hint_names_is_no_login() {
    let c = client(true);
    let other = Some(Login {
        auth_time: 100,
        other_than_hinted: true,
    });
    let none = request(&c, &[("prompt", "none")]);
    assert_eq!(
        next(&none, &c, other, 1000, true, false, 1000),
        Err(Refusal::LoginRequired)
    );
    let plain = request(&c, &[]);
    assert_eq!(
        next(&plain, &c, other, 1000, true, false, 1000),
        Ok(Next::Login)
    );
    // A login made for this request answers it, whoever logged in: no loop.
    let fresh = Some(Login {
        auth_time: 1000,
        other_than_hinted: true,
    });
    assert_eq!(
        next(&plain, &c, fresh, 1000, true, false, 1001),
        Ok(Next::Issue)
    );
}

#[test]
fn an_id_token_hint_must_be_ours_for_the_client() {
    use crate::keys::{KeyRing, SigningKey};
    use serde_json::json;
    let c = client(true);
    let key = SigningKey::generate(Alg::EdDsa, 0).unwrap();
    let ring = KeyRing::from_records(vec![key.record().clone()]).unwrap();
    let sign = |claims| ring.active(Alg::EdDsa, 0).unwrap().sign(&claims).unwrap();
    let hint = |token: &str| params(&c, &[("id_token_hint", token)]);
    let check = |p: &Params| check_id_token_hint(p, &c, &ring, "https://idp", 10);
    // Expired long ago: still a hint.
    let good = sign(json!({"iss": "https://idp", "aud": c.id, "sub": "u1", "exp": 1}));
    assert_eq!(check(&hint(&good)), Ok(Some("u1".into())));
    assert_eq!(check(&params(&c, &[])), Ok(None));
    for bad in [
        sign(json!({"iss": "https://other", "aud": c.id, "sub": "u1"})),
        sign(json!({"iss": "https://idp", "aud": "another-client", "sub": "u1"})),
        sign(json!({"iss": "https://idp", "aud": c.id})),
        "not.a.token".to_owned(),
    ] {
        assert_eq!(
            check(&hint(&bad)),
            Err(Refusal::InvalidIdTokenHint),
            "{bad}"
        );
    }
    assert_eq!(
        Refusal::InvalidIdTokenHint.audience(),
        crate::refusal::Audience::Redirect
    );
}

/// Before, a consent given for plain logins silently covered a later request for
/// `offline_access`, which then got a refresh token: offline access is agreed to on the
/// request's own consent page (OpenID Connect Core §11), unless the client is first-party.
#[test]
fn offline_access_needs_the_consent_of_its_own_request() {
    let c = client(true);
    let old = Some(Login {
        auth_time: 100,
        other_than_hinted: false,
    });
    let offline = request(&c, &[("scope", "openid offline_access")]);
    assert_eq!(
        next(&offline, &c, old, 1000, true, false, 1000),
        Ok(Next::Consent)
    );
    assert_eq!(
        next(&offline, &c, old, 1000, true, true, 1000),
        Ok(Next::Issue)
    );
    let none = request(
        &c,
        &[("scope", "openid offline_access"), ("prompt", "none")],
    );
    assert_eq!(
        next(&none, &c, old, 1000, true, false, 1000),
        Err(Refusal::ConsentRequired)
    );
    let mut first_party = c.clone();
    first_party.first_party = true;
    assert_eq!(
        next(&offline, &first_party, old, 1000, false, false, 1000),
        Ok(Next::Issue)
    );
}

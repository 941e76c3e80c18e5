use super::*;
use crate::client::Registration;
use crate::grant::hex;
use rand_core::OsRng;

fn client(id: &str) -> Client {
    let (mut client, _) = Registration {
        name: "Wiki".into(),
        redirect_uris: vec!["https://wiki.example/cb".into()],
        post_logout_redirect_uris: vec![],
        public: true,
        no_pkce: false,
        alg: crate::keys::Alg::Rs256,
        public_subject: false,
        first_party: false,
    }
    .register(&mut OsRng, 0)
    .unwrap();
    client.id = id.into();
    client
}

fn code_grant(client: &str, scope: &[&str]) -> CodeGrant {
    CodeGrant {
        grant: hex(&[7; 32]),
        client_id: client.into(),
        redirect_uri: "https://wiki.example/cb".into(),
        code_challenge: Some("c".repeat(43)),
        nonce: Some("n".into()),
        user: "acct".into(),
        auth_time: 50,
        scope: scope.iter().map(|s| (*s).to_owned()).collect(),
        expires_at: 160,
        refresh: false,
        chain_started_at: 100,
    }
}

fn request(client: &Client, token: &str, scope: Option<&str>) -> RefreshRequest {
    RefreshRequest {
        credentials: Credentials {
            client_id: client.id.clone(),
            secret: None,
        },
        refresh_token: token.into(),
        scope: scope.map(str::to_owned),
    }
}

#[test]
fn a_refresh_token_continues_the_chain_of_its_code() {
    let c = client("wiki");
    let code = code_grant("wiki", &["openid", OFFLINE_ACCESS]);
    let (token, record) = issue(&code, 100, &mut OsRng);
    assert!(record.refresh && record.nonce.is_none() && record.code_challenge.is_none());
    assert_eq!(record.grant, code.grant, "one chain, one grant id");
    assert_eq!(record.expires_at, 100 + REFRESH_TOKEN_LIFETIME);
    assert_eq!(record.auth_time, 50);
    let r = request(&c, &token.text, None);
    assert_eq!(
        redeem(&c, &r, Taken::Fresh(record.clone()), 200),
        Ok(record.clone())
    );
    assert_eq!(
        redeem(
            &c,
            &r,
            Taken::Fresh(record.clone()),
            100 + REFRESH_TOKEN_LIFETIME
        ),
        Err(Refusal::RefreshInvalid),
        "expired"
    );
    let narrower = request(&c, &token.text, Some("openid"));
    assert_eq!(
        redeem(&c, &narrower, Taken::Fresh(record.clone()), 200).map(|g| g.scope),
        Ok(vec!["openid".to_owned()]),
        "the narrower scope is what the refresh issues"
    );
    let wider = request(&c, &token.text, Some("openid profile"));
    assert_eq!(
        redeem(&c, &wider, Taken::Fresh(record.clone()), 200),
        Err(Refusal::ScopeWidened)
    );
    let other = client("notes");
    assert_eq!(
        redeem(
            &other,
            &request(&other, &token.text, None),
            Taken::Fresh(record),
            200
        ),
        Err(Refusal::RefreshReplayed(code.grant.clone())),
        "presented by another client: the chain is treated as stolen"
    );
}

/// A used refresh token presented again is a theft signal: the chain is revoked.
#[test]
fn a_used_refresh_token_revokes_its_chain() {
    let c = client("wiki");
    let code = code_grant("wiki", &["openid", OFFLINE_ACCESS]);
    let (token, record) = issue(&code, 100, &mut OsRng);
    assert_eq!(
        redeem(
            &c,
            &request(&c, &token.text, None),
            Taken::Replayed(record),
            200
        ),
        Err(Refusal::RefreshReplayed(code.grant.clone()))
    );
    assert_eq!(
        Refusal::RefreshReplayed(code.grant).error(),
        "invalid_grant"
    );
}

/// Codes and refresh tokens share the store: neither is taken for the other.
#[test]
fn a_code_is_no_refresh_token_and_a_refresh_token_no_code() {
    let c = client("wiki");
    let code = code_grant("wiki", &["openid", OFFLINE_ACCESS]);
    assert_eq!(
        redeem(&c, &request(&c, "x", None), Taken::Fresh(code.clone()), 100),
        Err(Refusal::RefreshInvalid)
    );
    let (_, record) = issue(&code, 100, &mut OsRng);
    let as_code = crate::token::CodeRequest {
        credentials: Credentials {
            client_id: "wiki".into(),
            secret: None,
        },
        code: "x".into(),
        redirect_uri: Some("https://wiki.example/cb".into()),
        code_verifier: None,
    };
    assert_eq!(
        crate::token::redeem(&c, &as_code, Taken::Fresh(record.clone()), 100),
        Err(Refusal::CodeInvalid)
    );
    assert_eq!(
        crate::token::redeem(&c, &as_code, Taken::Replayed(record), 100),
        Err(Refusal::CodeInvalid),
        "a used refresh token presented as a code revokes nothing"
    );
}

#[test]
fn refresh_requests_parse() {
    let form = Params::parse("grant_type=refresh_token&refresh_token=abc&client_id=wiki");
    let r = parse(&form, None).unwrap();
    assert_eq!(r.refresh_token, "abc");
    assert_eq!(r.credentials.client_id, "wiki");
    let missing = Params::parse("grant_type=refresh_token&client_id=wiki");
    assert!(matches!(
        parse(&missing, None),
        Err(Refusal::InvalidTokenRequest(_))
    ));
}

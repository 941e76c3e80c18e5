//! The conformance suite every [`OidcStore`] must pass (feature `testkit`): call
//! [`oidc_store_conforms`] with a fresh, empty store. It panics on the first violation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::authorize::{AuthRequest, Prompt};
use crate::client::{Client, SubjectType};
use crate::grant::{AccessGrant, CodeGrant, Taken};
use crate::keys::{Alg, KeyRecord};
use crate::store::{Consent, OidcStore, Pending};
use sqrl_server::StoreError;

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: format!("app {id}"),
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: vec![],
        secret_sha256: Some("00".repeat(32)),
        pkce_required: true,
        alg: Alg::Rs256,
        subject: SubjectType::Pairwise,
        first_party: false,
        created_at: 1,
    }
}

fn grant(client: &str, grant: &str, user: &str) -> CodeGrant {
    CodeGrant {
        grant: grant.into(),
        client_id: client.into(),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: None,
        nonce: Some("n".into()),
        user: user.into(),
        auth_time: 10,
        scope: vec!["openid".into()],
        expires_at: 1_000,
        refresh: false,
        chain_started_at: 940,
    }
}

fn access(client: &str, grant: &str, user: &str, expires_at: u64) -> AccessGrant {
    AccessGrant {
        grant: grant.into(),
        client_id: client.into(),
        user: user.into(),
        sub: format!("sub-{user}"),
        scope: vec!["openid".into()],
        expires_at,
    }
}

fn key(kid: &str, retired_at: Option<u64>) -> KeyRecord {
    KeyRecord {
        kid: kid.into(),
        alg: Alg::Es256,
        pkcs8: zeroize::Zeroizing::new("not-a-key".into()),
        created_at: 1,
        not_before: 1,
        retired_at,
    }
}

/// Runs the suite on an empty store.
pub async fn oidc_store_conforms(store: &dyn OidcStore) {
    // Clients.
    assert_eq!(store.client("a").await.unwrap(), None);
    store.put_client(&client("b")).await.unwrap();
    store.put_client(&client("a")).await.unwrap();
    assert_eq!(store.client("a").await.unwrap(), Some(client("a")));
    let names: Vec<String> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(names, ["a", "b"], "clients by name");

    // Pending requests.
    let pending = Pending {
        request: AuthRequest {
            client_id: "a".into(),
            redirect_uri: "https://app.example/cb".into(),
            scope: vec!["openid".into()],
            state: Some("s".into()),
            nonce: None,
            prompt: Prompt::default(),
            max_age: Some(5),
            code_challenge: None,
            hint_sub: Some("pairwise-sub".into()),
        },
        login_shown_at: 1,
        consented_by: None,
        expires_at: 100,
    };
    store.put_pending(&[1; 32], &pending).await.unwrap();
    assert_eq!(
        store.pending(&[1; 32]).await.unwrap(),
        Some(pending.clone())
    );
    store.delete_pending(&[1; 32]).await.unwrap();
    assert_eq!(store.pending(&[1; 32]).await.unwrap(), None);

    // Codes: fresh once, then replayed; unknown is missing.
    store
        .put_code(&[2; 32], &grant("a", "g1", "u1"))
        .await
        .unwrap();
    assert_eq!(store.take_code(&[3; 32]).await.unwrap(), Taken::Missing);
    assert_eq!(
        store.take_code(&[2; 32]).await.unwrap(),
        Taken::Fresh(grant("a", "g1", "u1"))
    );
    assert_eq!(
        store.take_code(&[2; 32]).await.unwrap(),
        Taken::Replayed(grant("a", "g1", "u1"))
    );
    // Of concurrent redemptions exactly one gets the code.
    store
        .put_code(&[4; 32], &grant("a", "g2", "u1"))
        .await
        .unwrap();
    let (x, y) = futures_util::join!(store.take_code(&[4; 32]), store.take_code(&[4; 32]));
    let fresh = [x.unwrap(), y.unwrap()]
        .iter()
        .filter(|t| matches!(t, Taken::Fresh(_)))
        .count();
    assert_eq!(fresh, 1, "exactly one redemption wins");
    // A refresh token is kept beside the codes, and stays one.
    let refresh = CodeGrant {
        refresh: true,
        expires_at: 5_000,
        ..grant("a", "g1", "u1")
    };
    store.put_code(&[20; 32], &refresh).await.unwrap();
    assert_eq!(
        store.take_code(&[20; 32]).await.unwrap(),
        Taken::Fresh(refresh)
    );

    // Access tokens and their revocation by grant.
    store
        .put_access(&[5; 32], &access("a", "g1", "u1", 500))
        .await
        .unwrap();
    store
        .put_access(&[6; 32], &access("a", "g2", "u1", 500))
        .await
        .unwrap();
    assert_eq!(
        store.access(&[5; 32]).await.unwrap(),
        Some(access("a", "g1", "u1", 500))
    );
    assert!(!store.grant_revoked(&crate::hex(&[2; 32])).await.unwrap());
    store.revoke_grant("g1").await.unwrap();
    assert_eq!(store.access(&[5; 32]).await.unwrap(), None);
    // A code's grant is the hex of its hash: revoking it is remembered with the code.
    store.revoke_grant(&crate::hex(&[2; 32])).await.unwrap();
    assert!(store.grant_revoked(&crate::hex(&[2; 32])).await.unwrap());
    assert!(!store.grant_revoked(&crate::hex(&[4; 32])).await.unwrap());
    assert!(
        store.access(&[6; 32]).await.unwrap().is_some(),
        "other grants stay"
    );

    // A refresh token keeps its chain's revocation as long as itself, past its code.
    let chain = crate::hex(&[21; 32]);
    store
        .put_code(&[21; 32], &grant("a", &chain, "u1"))
        .await
        .unwrap();
    let link = CodeGrant {
        refresh: true,
        expires_at: 50_000,
        ..grant("a", &chain, "u1")
    };
    store.put_code(&[22; 32], &link).await.unwrap();
    store.revoke_grant(&chain).await.unwrap();
    store.purge_oidc(20_000).await.unwrap();
    assert!(
        store.grant_revoked(&chain).await.unwrap(),
        "a chain's revocation outlives its code while a refresh token of it lives"
    );
    assert_eq!(
        store.take_code(&[22; 32]).await.unwrap(),
        Taken::Fresh(link)
    );

    // Consents; revoking one revokes that client's tokens for the user.
    store
        .put_consent(
            "u1",
            &Consent {
                client_id: "a".into(),
                granted_at: 7,
            },
        )
        .await
        .unwrap();
    store
        .put_consent(
            "u1",
            &Consent {
                client_id: "a".into(),
                granted_at: 8,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.consents("u1").await.unwrap(),
        [Consent {
            client_id: "a".into(),
            granted_at: 8
        }],
        "one consent per client, the latest"
    );
    let chain = crate::hex(&[23; 32]);
    store
        .put_code(&[23; 32], &grant("a", &chain, "u1"))
        .await
        .unwrap();
    let link = CodeGrant {
        refresh: true,
        expires_at: 50_000,
        ..grant("a", &chain, "u1")
    };
    store.put_code(&[24; 32], &link).await.unwrap();
    assert!(!store.grant_revoked(&chain).await.unwrap());
    store.revoke_consent("u1", "a").await.unwrap();
    assert!(store.consents("u1").await.unwrap().is_empty());
    assert_eq!(store.access(&[6; 32]).await.unwrap(), None);
    assert!(
        store.grant_revoked(&chain).await.unwrap(),
        "withdrawing a consent ends the user's refresh chains with that client"
    );

    // Signing keys: compare-and-swap.
    assert!(store.signing_keys().await.unwrap().is_empty());
    store
        .replace_signing_keys(&[], &[key("k1", None)])
        .await
        .unwrap();
    assert_eq!(
        store.replace_signing_keys(&[], &[key("k2", None)]).await,
        Err(StoreError::Conflict),
        "a stale view loses"
    );
    store
        .replace_signing_keys(&[key("k1", None)], &[key("k1", Some(5)), key("k2", None)])
        .await
        .unwrap();
    let mut keys = store.signing_keys().await.unwrap();
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    assert_eq!(keys, [key("k1", Some(5)), key("k2", None)]);

    // Purge: expired pending requests, forgotten codes, expired tokens.
    store.put_pending(&[7; 32], &pending).await.unwrap();
    store
        .put_access(&[8; 32], &access("b", "g3", "u2", 50))
        .await
        .unwrap();
    assert!(store.purge_oidc(100_000).await.unwrap() >= 2);
    assert_eq!(store.pending(&[7; 32]).await.unwrap(), None);
    assert_eq!(store.access(&[8; 32]).await.unwrap(), None);
    assert_eq!(
        store.take_code(&[2; 32]).await.unwrap(),
        Taken::Missing,
        "forgotten"
    );

    // Removing a client removes its codes, tokens and consents.
    store
        .put_code(&[9; 32], &grant("b", "g4", "u3"))
        .await
        .unwrap();
    store
        .put_access(&[10; 32], &access("b", "g4", "u3", 500))
        .await
        .unwrap();
    store
        .put_consent(
            "u3",
            &Consent {
                client_id: "b".into(),
                granted_at: 1,
            },
        )
        .await
        .unwrap();
    assert!(store.remove_client("b").await.unwrap());
    assert!(!store.remove_client("b").await.unwrap());
    assert_eq!(store.take_code(&[9; 32]).await.unwrap(), Taken::Missing);
    assert_eq!(store.access(&[10; 32]).await.unwrap(), None);
    assert!(store.consents("u3").await.unwrap().is_empty());
}

//! The OpenID Connect provider's state in the SQLite store: the provider's conformance suite on
//! a file, and the command-line client registration beside a running store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqrl_oidc::{Alg, OidcStore, Registration};
use sqrl_server_sqlite::{SqliteClients, SqliteStore};

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-sqlite-oidc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sqrl.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_oidc_store_conforms() {
    let path = temp_db("conforms");
    sqrl_oidc::testkit::oidc_store_conforms(&SqliteStore::open(&path).unwrap()).await;
    sqrl_oidc::testkit::oidc_store_conforms(&SqliteStore::in_memory().unwrap()).await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_registered_while_the_store_runs_are_seen_at_once() {
    let path = temp_db("admin");
    let store = SqliteStore::open(&path).unwrap();
    let mut admin = SqliteClients::open(&path).unwrap();
    let (client, _) = Registration {
        name: "Wiki".into(),
        redirect_uris: vec!["https://wiki.example/cb".into()],
        post_logout_redirect_uris: vec![],
        public: false,
        no_pkce: false,
        alg: Alg::Rs256,
        public_subject: false,
        first_party: false,
    }
    .register(&mut rand_core::OsRng, 1)
    .unwrap();
    admin.add(&client).unwrap();
    assert_eq!(
        store.client(&client.id).await.unwrap(),
        Some(client.clone())
    );
    let kid = admin.rotate_key(Alg::EdDsa, 2).unwrap();
    assert!(store
        .signing_keys()
        .await
        .unwrap()
        .iter()
        .any(|k| k.kid == kid));
    assert!(admin.remove(&client.id).unwrap());
    assert_eq!(store.client(&client.id).await.unwrap(), None);
    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

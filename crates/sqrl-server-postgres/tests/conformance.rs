//! The PostgreSQL store on a throwaway cluster (initdb in a temporary directory, a free
//! loopback port): the core's conformance suite, instances sharing one database, migrations
//! once, and a clean error when the database goes away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqrl_server::testkit::{self, account, flow};
use sqrl_server::{AccountChange, AccountStore, Commit, FlowId, FlowStore, Store, StoreError};
use sqrl_server_postgres::PostgresStore;
use sqrl_testkit::Postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms_and_instances_share_it() {
    let pg = Postgres::start().unwrap();
    let url = pg.url();
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.schema_version().await.unwrap(), 2, "migrated once");
    testkit::store_conforms(&a).await;

    // A second instance sees what the first wrote, and loses a race on the same version.
    a.commit(&Commit {
        flow: flow(7, 0),
        expected_version: None,
        account: AccountChange::Put(account(7)),
        guards: Vec::new(),
    })
    .await
    .unwrap();
    assert_eq!(b.flow(&FlowId([7; 16])).await.unwrap(), Some(flow(7, 0)));
    assert_eq!(b.account(&account(7).id).await.unwrap(), Some(account(7)));
    let next = flow(7, 1);
    let (first, second) = tokio::join!(a.put_flow(&next, Some(0)), b.put_flow(&next, Some(0)));
    assert!(
        first.is_ok() != second.is_ok(),
        "exactly one instance wins: {first:?} {second:?}"
    );
    assert_eq!(
        *b.site_key("nut", &[9; 32]).await.unwrap(),
        *a.site_key("nut", &[8; 32]).await.unwrap(),
        "instances share the site's keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_conform_on_postgres() {
    let pg = Postgres::start().unwrap();
    testkit::flows_conform(&PostgresStore::connect(&pg.url()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_gives_backend_errors_not_wrong_answers() {
    let pg = Postgres::start().unwrap();
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    pg.kill();
    let result = store.flow(&FlowId([1; 16])).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert!(matches!(
        store
            .commit(&Commit {
                flow: flow(1, 0),
                expected_version: None,
                account: AccountChange::Keep,
                guards: Vec::new(),
            })
            .await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_oidc_store_conforms() {
    let pg = Postgres::start().unwrap();
    let store = PostgresStore::connect(&pg.url()).await.unwrap();
    sqrl_oidc::testkit::oidc_store_conforms(&store).await;
}

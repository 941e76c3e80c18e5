//! The SQLite store passes the core's conformance suite, survives restarts and migrates once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqrl_server::testkit::{self, account, flow};
use sqrl_server::{
    AccountChange, AccountStore, Commit, FlowId, FlowStore, MemoryStore, SplitStore, Store,
    StoreError,
};
use sqrl_server_sqlite::SqliteStore;

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-sqlite-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sqrl.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conforms() {
    let path = temp_db("conforms");
    testkit::store_conforms(&SqliteStore::open(&path).unwrap()).await;
    testkit::flows_conform(&SqliteStore::in_memory().unwrap()).await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// The site's default: flows in memory, accounts and sessions in the SQLite file (account
/// guards of a login that changes nothing are checked on a reader, sessions written lazily).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_flows_beside_sqlite_accounts_conform() {
    let path = temp_db("split");
    testkit::store_conforms(&SplitStore {
        flows: MemoryStore::new(),
        accounts: SqliteStore::open(&path).unwrap(),
    })
    .await;
    testkit::store_conforms(&SplitStore {
        flows: MemoryStore::new(),
        accounts: SqliteStore::in_memory().unwrap(),
    })
    .await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_a_restart_and_migrates_once() {
    let path = temp_db("restart");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 5);
        store
            .commit(&Commit {
                flow: flow(1, 0),
                expected_version: None,
                account: AccountChange::Put(account(1)),
                guards: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(*store.site_key("nut", &[5; 32]).await.unwrap(), [5; 32]);
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 5);
    assert_eq!(
        store.account(&account(1).id).await.unwrap(),
        Some(account(1))
    );
    assert_eq!(
        store.flow(&FlowId([1; 16])).await.unwrap(),
        Some(flow(1, 0))
    );
    assert_eq!(
        *store.site_key("nut", &[6; 32]).await.unwrap(),
        [5; 32],
        "the site's keys persist"
    );
    // A used nut stays used after a restart: its flow is still there at the same version.
    assert_eq!(
        store
            .commit(&Commit {
                flow: flow(1, 0),
                expected_version: None,
                account: AccountChange::Keep,
                guards: Vec::new(),
            })
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.journal_mode().unwrap(), "wal");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

//! The store owns its file, so it can keep accounts in memory: a second store on the same file
//! is refused, and every change made through the store is seen by the next lookup, whether it
//! was read from memory or not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqrl_proto::Bytes32;
use sqrl_server::testkit::{account, flow};
use sqrl_server::{Account, AccountChange, AccountGuard, AccountStore, Commit, Store, StoreError};
use sqrl_server_sqlite::SqliteStore;

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-owner-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sqrl.sqlite")
}

fn disabled(a: Account) -> Account {
    Account {
        disabled: true,
        ..a
    }
}

async fn current(store: &SqliteStore, idk: u8) -> Option<Account> {
    store
        .accounts(&Bytes32([idk; 32]), None)
        .await
        .unwrap()
        .current
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_on_the_same_file_is_refused_until_the_first_is_gone() {
    let path = temp_db("second");
    let first = SqliteStore::open(&path).unwrap();
    let refused = SqliteStore::open(&path).expect_err("the file is taken");
    assert!(
        matches!(&refused, StoreError::Backend(m) if m.contains("in use")),
        "{refused:?}"
    );
    drop(first);
    SqliteStore::open(&path).expect("free again once the first store is dropped");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Each kind of account change, made after the account was looked up (and so kept in
/// memory), is what the next lookup by key, by id and by guard sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_in_memory_follow_every_change_made_through_the_store() {
    let path = temp_db("follow");
    let store = SqliteStore::open(&path).unwrap();
    let guard = |a: Option<Account>| AccountGuard {
        idk: Bytes32([1; 32]),
        account: a,
        superseded: Some(false),
    };
    store
        .apply(&AccountChange::Put(account(1)), &[])
        .await
        .unwrap();
    assert_eq!(current(&store, 1).await, Some(account(1)));
    store
        .apply(&AccountChange::Keep, &[guard(Some(account(1)))])
        .await
        .expect("the guard holds, answered from memory");

    // Disabled through `apply`.
    store
        .apply(&AccountChange::Put(disabled(account(1))), &[])
        .await
        .unwrap();
    assert_eq!(current(&store, 1).await, Some(disabled(account(1))));
    assert_eq!(
        store.account(&account(1).id).await.unwrap(),
        Some(disabled(account(1)))
    );
    assert_eq!(
        store
            .apply(&AccountChange::Keep, &[guard(Some(account(1)))])
            .await,
        Err(StoreError::Conflict),
        "a guard on the account as it was fails once it changed"
    );

    // Re-enabled through a command's commit.
    store
        .commit(&Commit {
            flow: flow(1, 0),
            expected_version: None,
            account: AccountChange::Put(account(1)),
            guards: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(current(&store, 1).await, Some(account(1)));

    // Re-keyed: the old key has no account and is superseded; the id follows the new key.
    let rekeyed = Account {
        idk: Bytes32([9; 32]),
        ..account(1)
    };
    store
        .apply(
            &AccountChange::Rekey {
                previous: Bytes32([1; 32]),
                account: rekeyed.clone(),
            },
            &[],
        )
        .await
        .unwrap();
    let old = store.accounts(&Bytes32([1; 32]), None).await.unwrap();
    assert_eq!((old.current, old.superseded), (None, true));
    assert_eq!(current(&store, 9).await, Some(rekeyed.clone()));
    assert_eq!(store.account(&account(1).id).await.unwrap(), Some(rekeyed));

    // Removed.
    store
        .apply(&AccountChange::Remove(account(1).id), &[])
        .await
        .unwrap();
    assert_eq!(current(&store, 9).await, None);
    assert_eq!(store.account(&account(1).id).await.unwrap(), None);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

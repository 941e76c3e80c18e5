//! The conformance suite every store must pass (feature `testkit`), so out-of-tree stores can
//! prove themselves: call [`store_conforms`] with a fresh, empty store, [`flows_conform`] for
//! a [`FlowStore`] alone, and [`events_conform`] for an [`Events`] backend.
//!
//! The suites panic with a message on the first violation (they are for tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt;
use sqrl_proto::Bytes32;

use crate::account::{Account, AccountChange, AccountGuard, AccountId, Accounts, Session};
use crate::events::Events;
use crate::flow::{End, Flow, FlowRecord, Phase, Status};
use crate::nut::FlowId;
use crate::store::{Commit, FlowStore, Needs, RedeemCommit, Store, StoreError};
use crate::useragent::BrowserInfo;

/// A test account: id `[byte; 16]`, identity `[byte; 32]`.
pub fn account(byte: u8) -> Account {
    Account {
        id: AccountId([byte; 16]),
        idk: Bytes32([byte; 32]),
        suk: Bytes32([byte.wrapping_add(100); 32]),
        vuk: Bytes32([byte.wrapping_add(200); 32]),
        disabled: false,
        sqrlonly: true,
        hardlock: false,
        created_at: 1_800_000_000,
        ins: Some(Bytes32([byte.wrapping_add(50); 32])),
    }
}

/// A test flow with id `[id; 16]` at `version`, issued at `1_800_000_000 + id`.
pub fn flow(id: u8, version: u64) -> Flow {
    Flow::from(FlowRecord {
        id: FlowId([id; 16]),
        version,
        issued_at: 1_800_000_000 + u64::from(id),
        browser_ip: IpAddr::from([192, 0, 2, id]),
        browser: BrowserInfo::from_codes(1, 2),
        idk: Bytes32([id; 32]),
        phase: if version == 0 {
            Phase::Scanned
        } else {
            Phase::Confirmed {
                account: AccountId([id; 16]),
                cps: id.is_multiple_of(2),
                at: 1_800_000_010,
            }
        },
        expected_nut: format!("nut-{id}-{version}"),
        reply_hash: [id; 32],
        asked: version % 2 == 1,
        cps_token_hash: (version > 1).then_some([7; 32]),
    })
}

/// A test session of `account`.
pub fn session(byte: u8, account: AccountId) -> Session {
    Session {
        id_hash: [byte; 32],
        account,
        created_at: 1_800_000_000 + u64::from(byte),
        ip: "192.0.2.1".into(),
        browser: "Firefox on Linux".into(),
    }
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// Flow storage alone: round trips, optimistic versions, purging.
pub async fn flows_conform(store: &dyn FlowStore) {
    versions_conform(store).await;
    store.put_flow(&flow(3, 0), None).await.unwrap();
    assert_eq!(store.purge_flows(1_800_000_003).await.unwrap(), 1);
    assert!(store.flow(&FlowId([1; 16])).await.unwrap().is_none());
    assert!(store.flow(&FlowId([3; 16])).await.unwrap().is_some());
}

async fn versions_conform(store: &dyn FlowStore) {
    store.put_flow(&flow(1, 0), None).await.unwrap();
    assert_eq!(
        store.flow(&FlowId([1; 16])).await.unwrap(),
        Some(flow(1, 0)),
        "a flow round-trips"
    );
    assert_eq!(
        store.put_flow(&flow(1, 0), None).await,
        Err(StoreError::Conflict),
        "a used QR nut stays used: creating an existing flow conflicts"
    );
    assert_eq!(
        store.put_flow(&flow(1, 1), Some(5)).await,
        Err(StoreError::Conflict),
        "a stale version conflicts"
    );
    store.put_flow(&flow(1, 1), Some(0)).await.unwrap();
    store.put_flow(&flow(1, 2), Some(1)).await.unwrap();
    assert_eq!(
        store.flow(&FlowId([1; 16])).await.unwrap(),
        Some(flow(1, 2))
    );
    assert_eq!(store.flow(&FlowId([9; 16])).await.unwrap(), None);
    phases_round_trip(store).await;
}

/// Every phase a flow can be in survives the store (flow 6, which no purge here removes).
async fn phases_round_trip(store: &dyn FlowStore) {
    let mut f = flow(6, 0).into_record();
    let phases = [
        Phase::ScannedDisabled,
        Phase::Scanned,
        Phase::Rejected,
        Phase::Ended(End::Disabled),
        Phase::Ended(End::Removed),
    ];
    for (version, phase) in (0u64..).zip(phases) {
        f.phase = phase;
        f.version = version;
        let stored = Flow::from(f.clone());
        store
            .put_flow(&stored, version.checked_sub(1))
            .await
            .unwrap();
        assert_eq!(
            store.flow(&f.id).await.unwrap(),
            Some(stored),
            "{phase:?} round-trips"
        );
    }
}

/// [`flows_conform`] for a store whose flows expire by themselves (purging is a no-op).
pub async fn flows_conform_without_purge(store: &dyn FlowStore) {
    versions_conform(store).await;
}

/// The whole store: flows, accounts, sessions, atomic commits and redemptions, site keys.
/// `store` must be empty.
pub async fn store_conforms(store: &dyn Store) {
    let commit = |flow: Flow, expected, account| async move {
        store
            .commit(&Commit {
                flow,
                expected_version: expected,
                account,
                guards: Vec::new(),
            })
            .await
    };
    commit(flow(1, 0), None, AccountChange::Put(account(1)))
        .await
        .unwrap();
    let loaded = store
        .load(&Needs {
            flow: FlowId([1; 16]),
            idk: Bytes32([1; 32]),
            pidk: Some(Bytes32([2; 32])),
        })
        .await
        .unwrap();
    assert_eq!(loaded.flow, Some(flow(1, 0)), "the flow round-trips");
    assert_eq!(loaded.current, Some(account(1)), "the account round-trips");
    assert_eq!(loaded.previous, None);
    assert!(!loaded.superseded);
    assert_eq!(
        commit(flow(1, 0), None, AccountChange::Keep).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        commit(flow(1, 1), Some(5), AccountChange::Put(account(2))).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.account(&AccountId([2; 16])).await.unwrap(),
        None,
        "a conflicting commit changes no account"
    );
    commit(flow(1, 1), Some(0), AccountChange::Keep)
        .await
        .unwrap();
    assert_eq!(
        store.flow(&FlowId([1; 16])).await.unwrap(),
        Some(flow(1, 1))
    );

    // Guards: a commit made on a stale view of an account changes nothing.
    let mut stale = account(1);
    stale.disabled = true;
    let guarded = |id: u8, guard: Option<Account>, change| Commit {
        flow: flow(id, 0),
        expected_version: None,
        account: change,
        guards: vec![AccountGuard {
            idk: Bytes32([1; 32]),
            account: guard,
            superseded: Some(false),
        }],
    };
    assert_eq!(
        store
            .commit(&guarded(
                4,
                Some(stale.clone()),
                AccountChange::Put(stale.clone())
            ))
            .await,
        Err(StoreError::Conflict),
        "the account is not as the decision saw it"
    );
    // One database changes nothing; flows and accounts in two (`SplitStore`) may leave the flow
    // claimed: scanned, with a nut nobody holds, so nothing can continue or confirm it.
    match store.flow(&FlowId([4; 16])).await.unwrap() {
        None => {}
        Some(claimed) => {
            assert_eq!(claimed.phase(), Phase::Scanned, "nothing confirmed");
            assert!(claimed.expected_nut().is_empty(), "nobody can continue it");
        }
    }
    assert_eq!(
        store
            .apply(
                &AccountChange::Put(stale.clone()),
                &guarded(4, None, AccountChange::Keep).guards
            )
            .await,
        Err(StoreError::Conflict),
        "apply checks the guards too"
    );
    assert_eq!(
        store.account(&AccountId([1; 16])).await.unwrap(),
        Some(account(1))
    );
    store
        .commit(&guarded(5, Some(account(1)), AccountChange::Keep))
        .await
        .expect("a guard that holds");

    // Sessions and names belong to the account id and stay through a re-key; the old
    // identity is superseded.
    let id = AccountId([1; 16]);
    store.create_session(&session(1, id)).await.unwrap();
    store.create_session(&session(2, id)).await.unwrap();
    store.set_display_name(&id, "Ada").await.unwrap();
    let mut rekeyed = account(1);
    rekeyed.idk = Bytes32([3; 32]);
    rekeyed.suk = Bytes32([33; 32]);
    rekeyed.vuk = Bytes32([34; 32]);
    commit(
        flow(2, 0),
        None,
        AccountChange::Rekey {
            previous: Bytes32([1; 32]),
            account: rekeyed.clone(),
        },
    )
    .await
    .unwrap();
    let old = store.accounts(&Bytes32([1; 32]), None).await.unwrap();
    assert_eq!(old.current, None, "the old identity has no account");
    assert!(old.superseded, "the old identity is superseded");
    let new = store
        .accounts(&Bytes32([3; 32]), Some(&Bytes32([1; 32])))
        .await
        .unwrap();
    assert_eq!(
        new,
        Accounts {
            current: Some(rekeyed.clone()),
            previous: None,
            superseded: false,
        }
    );
    assert_eq!(store.account(&id).await.unwrap(), Some(rekeyed));
    assert_eq!(store.display_name(&id).await.unwrap(), "Ada");
    let sessions = store.sessions_of(&id).await.unwrap();
    assert_eq!(
        sessions,
        vec![session(1, id), session(2, id)],
        "oldest first"
    );
    assert_eq!(
        store.session(&[2; 32]).await.unwrap().map(|s| s.account),
        Some(id)
    );

    // Revoking: only the owner's session, once.
    assert!(!store
        .delete_session(&AccountId([4; 16]), &[1; 32])
        .await
        .unwrap());
    assert!(store.delete_session(&id, &[1; 32]).await.unwrap());
    assert!(!store.delete_session(&id, &[1; 32]).await.unwrap());
    assert_eq!(store.session(&[1; 32]).await.unwrap(), None);

    // Redemption: the flow and the session together, once.
    let redeemed = Flow::from(FlowRecord {
        phase: Phase::Redeemed { cps: false },
        ..flow(2, 1).into_record()
    });
    let redeem = |session| RedeemCommit {
        flow: redeemed.clone(),
        expected_version: 0,
        session,
        status: Status::Redeemed,
    };
    store
        .redeem(&redeem(session(5, id)))
        .await
        .expect("redeem at the version read");
    assert_eq!(
        store.redeem(&redeem(session(6, id))).await,
        Err(StoreError::Conflict),
        "a second redemption of the same version conflicts"
    );
    assert!(store.session(&[5; 32]).await.unwrap().is_some());
    assert_eq!(
        store.session(&[6; 32]).await.unwrap(),
        None,
        "a conflicting redemption creates no session"
    );

    // Remove deletes the account, its sessions and its name.
    commit(flow(3, 0), None, AccountChange::Remove(id))
        .await
        .unwrap();
    assert_eq!(store.account(&id).await.unwrap(), None);
    assert!(store.sessions_of(&id).await.unwrap().is_empty());
    assert_eq!(store.display_name(&id).await.unwrap(), "");
    let gone = store.accounts(&Bytes32([3; 32]), None).await.unwrap();
    assert_eq!(gone.current, None);

    // Site keys: the first writer wins, everyone gets the same key.
    let first = store.site_key("nut", &[1; 32]).await.unwrap();
    let second = store.site_key("nut", &[2; 32]).await.unwrap();
    assert_eq!(*first, [1; 32]);
    assert_eq!(*second, [1; 32], "an existing key is never replaced");
    assert_eq!(*store.site_key("browser", &[3; 32]).await.unwrap(), [3; 32]);

    phases_round_trip(store).await;

    // Housekeeping.
    assert_eq!(store.purge_flows(1_800_000_003).await.unwrap(), 2);
    assert!(store.flow(&FlowId([3; 16])).await.unwrap().is_some());
}

/// An events backend: a subscriber hears its own flow's changes and no other's. `settle`
/// is awaited after subscribing (a remote backend may need a moment to register).
pub async fn events_conform(events: &dyn Events, settle: Duration) {
    let mut mine = events.subscribe(FlowId([1; 16]));
    let mut other = events.subscribe(FlowId([2; 16]));
    if !settle.is_zero() {
        // A remote backend registers a subscription asynchronously and says nothing when it is
        // ready: a pause is the point. (The kit is runtime-agnostic, so it blocks.)
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(settle);
    }
    events
        .publish(FlowId([1; 16]), Status::Scanned)
        .await
        .unwrap();
    events
        .publish(FlowId([1; 16]), Status::Confirmed)
        .await
        .unwrap();
    assert_eq!(mine.next().await, Some(Status::Scanned));
    assert_eq!(mine.next().await, Some(Status::Confirmed));
    events
        .publish(FlowId([2; 16]), Status::Rejected)
        .await
        .unwrap();
    assert_eq!(
        other.next().await,
        Some(Status::Rejected),
        "in order, per flow"
    );
}

/// Runs [`store_conforms`] on a store without an async runtime (for sync tests).
pub fn block_on_store_conforms(store: &dyn Store) {
    run(store_conforms(store));
}

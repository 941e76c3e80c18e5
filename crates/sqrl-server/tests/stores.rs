//! Both stores behave alike: the same conformance checks run against the in-memory store and
//! SQLite; SQLite keeps everything across a reopen (a restart) and migrates idempotently; and
//! a full login through the service works on SQLite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config as ClientConfig, Decision, Exchange, Keys};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_proto::{Bytes32, SqrlUrl};
use sqrl_server::flow::Phase;
use sqrl_server::nut::FlowId;
use sqrl_server::useragent::BrowserInfo;
use sqrl_server::{
    Account, AccountChange, Commit, Config, Flow, Incoming, MemoryStore, Session, SessionStore,
    SqliteStore, SqrlService, Store, StoreError,
};

fn account(byte: u8) -> Account {
    Account {
        idk: Bytes32([byte; 32]),
        suk: Bytes32([byte.wrapping_add(1); 32]),
        vuk: Bytes32([byte.wrapping_add(2); 32]),
        disabled: false,
        sqrlonly: true,
        hardlock: false,
        created_at: 1_800_000_000,
        ins: (byte % 2 == 1).then_some(Bytes32([byte.wrapping_add(3); 32])),
    }
}

fn flow(id: u8, version: u64) -> Flow {
    Flow {
        id: FlowId([id; 16]),
        version,
        issued_at: 1_800_000_000 + u64::from(id),
        browser_ip: "2001:db8::1".parse().unwrap(),
        browser: BrowserInfo::from_codes(1, 3),
        idk: Bytes32([9; 32]),
        phase: Phase::Confirmed {
            account: Bytes32([9; 32]),
            cps: true,
            at: 1_800_000_100,
        },
        expected_nut: "nut".into(),
        reply_hash: [7; 32],
        asked: true,
        cps_token_hash: Some([8; 32]),
    }
}

fn session(byte: u8, idk: Bytes32) -> Session {
    Session {
        id_hash: [byte; 32],
        idk,
        created_at: 1_800_000_000 + u64::from(byte),
        ip: "192.0.2.1".into(),
        browser: "Firefox on Linux".into(),
    }
}

fn conformance(store: &(impl Store + SessionStore)) {
    // Optimistic concurrency: create only if absent, update only from the version read.
    let commit = |flow: Flow, expected, account| {
        store.commit(Commit {
            flow,
            expected_version: expected,
            account,
        })
    };
    commit(flow(1, 0), None, AccountChange::Put(account(1))).unwrap();
    assert_eq!(
        store.flow(&FlowId([1; 16])).unwrap(),
        Some(flow(1, 0)),
        "flow round-trips"
    );
    assert_eq!(
        commit(flow(1, 0), None, AccountChange::Keep),
        Err(StoreError::Conflict)
    );
    assert_eq!(
        commit(flow(1, 1), Some(5), AccountChange::Put(account(2))),
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.account(&Bytes32([2; 32])).unwrap(),
        None,
        "a conflicting commit changes nothing"
    );
    commit(flow(1, 1), Some(0), AccountChange::Keep).unwrap();
    assert_eq!(store.account(&Bytes32([1; 32])).unwrap(), Some(account(1)));

    // Sessions and names follow a re-key; the old identity is superseded.
    store.create_session(&session(1, Bytes32([1; 32]))).unwrap();
    store.create_session(&session(2, Bytes32([1; 32]))).unwrap();
    store.set_display_name(&Bytes32([1; 32]), "Ada").unwrap();
    let mut rekeyed = account(3);
    rekeyed.created_at = account(1).created_at;
    commit(
        flow(2, 0),
        None,
        AccountChange::Rekey {
            previous: Bytes32([1; 32]),
            account: rekeyed.clone(),
        },
    )
    .unwrap();
    assert!(store.is_superseded(&Bytes32([1; 32])).unwrap());
    assert!(!store.is_superseded(&Bytes32([3; 32])).unwrap());
    assert_eq!(store.account(&Bytes32([1; 32])).unwrap(), None);
    assert_eq!(store.account(&Bytes32([3; 32])).unwrap(), Some(rekeyed));
    assert_eq!(store.display_name(&Bytes32([3; 32])).unwrap(), "Ada");
    let sessions = store.sessions_of(&Bytes32([3; 32])).unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0], session(1, Bytes32([3; 32])));
    assert_eq!(
        store.session(&[2; 32]).unwrap().unwrap().idk,
        Bytes32([3; 32])
    );

    // Revoking: only the owner's session, once.
    assert!(!store.delete_session(&Bytes32([4; 32]), &[1; 32]).unwrap());
    assert!(store.delete_session(&Bytes32([3; 32]), &[1; 32]).unwrap());
    assert!(!store.delete_session(&Bytes32([3; 32]), &[1; 32]).unwrap());
    assert_eq!(store.session(&[1; 32]).unwrap(), None);

    // Remove deletes the account and its sessions.
    commit(flow(3, 0), None, AccountChange::Remove(Bytes32([3; 32]))).unwrap();
    assert_eq!(store.account(&Bytes32([3; 32])).unwrap(), None);
    assert!(store.sessions_of(&Bytes32([3; 32])).unwrap().is_empty());

    // Housekeeping.
    assert_eq!(store.purge_flows(1_800_000_003).unwrap(), 2);
    assert!(store.flow(&FlowId([3; 16])).unwrap().is_some());
}

#[test]
fn memory_store_conforms() {
    conformance(&MemoryStore::new());
}

#[test]
fn sqlite_store_conforms() {
    conformance(&SqliteStore::in_memory().unwrap());
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrl-store-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("sqrl.sqlite")
}

#[test]
fn sqlite_survives_a_restart_and_migrates_once() {
    let path = temp_db("restart");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 2);
        store
            .commit(Commit {
                flow: flow(1, 0),
                expected_version: None,
                account: AccountChange::Put(account(1)),
            })
            .unwrap();
        store.create_session(&session(1, Bytes32([1; 32]))).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    assert_eq!(store.account(&Bytes32([1; 32])).unwrap(), Some(account(1)));
    assert_eq!(store.flow(&FlowId([1; 16])).unwrap(), Some(flow(1, 0)));
    // A used nut stays used after a restart: its flow is still there at the same version.
    assert_eq!(
        store.commit(Commit {
            flow: flow(1, 0),
            expected_version: None,
            account: AccountChange::Keep
        }),
        Err(StoreError::Conflict)
    );
    assert_eq!(store.journal_mode().unwrap(), "wal");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_full_login_on_sqlite() {
    let path = temp_db("login");
    let service = SqrlService::new(
        Config::new("example.com"),
        &[1; 32],
        &[2; 32],
        SqliteStore::open(&path).unwrap(),
    );
    let ip: IpAddr = "192.0.2.10".parse().unwrap();
    let iuk = Iuk::generate(&mut OsRng);
    let keys = Keys::new(iuk.imk(), iuk.ilk(), vec![]);
    for round in 0..2 {
        let flow = service.start_flow(ip, "Firefox/128.0", 1_800_000_000, &mut OsRng);
        let url = SqrlUrl::parse(&flow.url).unwrap();
        let (exchange, first) = Exchange::start(
            url,
            Action::Login,
            &keys,
            ClientConfig::default(),
            Rlk::generate(&mut OsRng),
        )
        .unwrap();
        let send = |request: &sqrl_client::exchange::Request| {
            let query = request.url.split_once('?').unwrap().1.to_owned();
            let incoming = Incoming {
                query: &query,
                body: request.body.as_bytes(),
                client_ip: ip,
                now: 1_800_000_001,
            };
            Ok(service.handle(&incoming, &mut OsRng).body)
        };
        let outcome = exchange.drive(first, send, |_| Decision::Approve).unwrap();
        assert_eq!(outcome.new_association, round == 0);
        assert!(service
            .redeem(&flow.flow, &flow.browser_secret, 1_800_000_002)
            .is_ok());
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

//! The in-memory backends pass the conformance suites every backend runs.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sqrl_server::{testkit, MemoryEvents, MemoryStore, SplitStore};

#[test]
fn memory_store_conforms() {
    testkit::block_on_store_conforms(&MemoryStore::new());
    futures_executor::block_on(testkit::flows_conform(&MemoryStore::new()));
}

#[test]
fn memory_events_conform() {
    futures_executor::block_on(testkit::events_conform(
        &MemoryEvents::new(),
        Duration::ZERO,
    ));
}

#[test]
fn a_split_store_conforms_through_claim_write_finalize() {
    testkit::block_on_store_conforms(&SplitStore {
        flows: MemoryStore::new(),
        accounts: MemoryStore::new(),
    });
}

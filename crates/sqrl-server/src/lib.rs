//! The website side of SQRL: nuts, login flows, verification and stores, without IO.
//!
//! [`SqrlService`] is the SQRL endpoint: [`SqrlService::start_flow`] gives a login page its
//! `sqrl://` URL and the secret only that browser holds; [`SqrlService::handle`] answers every
//! POST from a client — verifying the body, every signature (`verify_strict`), the nut, the
//! exact echo of what we sent, the flow's identity and the IP — and applies each command
//! atomically through a [`Store`]; the waiting page asks [`SqrlService::status`] and turns a
//! confirmed login into its session with [`SqrlService::redeem`] (or the client's CPS link
//! with [`SqrlService::redeem_cps`]). Time and randomness are inputs, so every transition is
//! tested on a virtual clock. Rules: `spec/protocol.md`.

pub mod flow;
pub mod http;
pub mod nut;
pub mod service;
pub mod sqlite;
pub mod store;
pub mod useragent;

pub use flow::{Flow, FlowError, Lifetimes, Phase, Status};
pub use nut::{FlowId, NutCodec};
pub use service::{BrowserError, Config, Incoming, NewFlow, Response, SqrlService};
pub use sqlite::SqliteStore;
pub use sqrl_proto as proto;
pub use store::{
    Account, AccountChange, Commit, MemoryStore, Session, SessionStore, Store, StoreError,
};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

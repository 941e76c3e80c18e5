//! The website side of SQRL, without IO: nuts, login flows, the decisions of the SQRL
//! endpoint, and the traits behind which backends keep state.
//!
//! - [`Endpoint`] decides: [`Endpoint::receive`] checks a request without stored state,
//!   [`Endpoint::decide`] answers it from a loaded [`Snapshot`] and says what to commit. The
//!   browser's side has the same shape: [`Endpoint::redeem`] decides a redemption from a loaded
//!   [`RedeemSnapshot`] and returns the [`RedeemCommit`]. Time and randomness are inputs.
//! - [`SqrlServer`] drives it over the async [`Store`], [`Events`] and [`Limiter`] traits.
//! - [`MemoryStore`], [`MemoryEvents`], [`MemoryLimiter`]: one-process implementations.
//!   Other backends live in their own crates (`sqrl-server-sqlite`, `sqrl-server-postgres`,
//!   `sqrl-server-redis`) and prove themselves with the conformance suite `testkit` (feature `testkit`).
//! - The HTTP layer is the `sqrl-axum` crate.
//!
//! Rules: `spec/protocol.md` (the wire) and `spec/server.md` (the website side).

mod account;
mod browser;
mod command;
mod config;
mod decide;
mod driver;
mod endpoint;
mod events;
mod flow;
mod flow_record;
mod limit;
mod log_gate;
mod memory;
mod nut;
mod receive;
mod refusal;
mod reply;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod time;
pub mod useragent;

pub use account::{
    Account, AccountChange, AccountGuard, AccountId, AccountNotice, Accounts, Session,
};
pub use browser::{
    app_label, BrowserError, NewFlow, RedeemSnapshot, SessionDraft, Via, APP_LABEL_MAX,
};
pub use config::{AskPolicy, Config};
pub use driver::{SqrlServer, DEFAULT_SCAN_RULE};
pub use endpoint::Endpoint;
pub use events::{Events, Hub, MemoryEvents, Subscription};
pub use flow::{
    End, Flow, FlowError, FlowRecord, Lifetimes, Phase, Status, UnknownStatus, CLOCK_SKEW,
};
pub use flow_record::PhaseData;
pub use limit::{Admission, Limiter, MemoryLimiter, Prefixes, Rule, WhenDown};
pub use log_gate::LogGate;
pub use memory::MemoryStore;
pub use nut::{FlowId, Nut, NutCodec, QrNut};
pub use receive::{Incoming, Pending, Refused};
pub use refusal::Refusal;
pub use reply::{Decision, Response};
pub use sqrl_proto as proto;
pub use store::{
    AccountStore, Commit, FlowStore, Needs, RedeemCommit, SessionStore, Snapshot, SplitStore,
    Store, StoreError,
};
pub use time::UnixTime;

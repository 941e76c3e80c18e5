//! Checks run against any SQRL server (`sqrl check`).
//!
//! The battery plays a SQRL client with throwaway identities, made fresh for every run: it
//! creates an account, logs in, disables, re-enables, re-keys and removes it, and in between
//! sends the requests a careful server refuses (a replayed nut, a changed byte, an older echo,
//! a command out of order). Every check in [`CATALOG`] names the rule of `spec/protocol.md` or
//! `spec/server.md` it tests; [`Check`] is its result, with what was sent and what came back
//! when it did not pass.
//!
//! The IO is at the edge: [`run`] talks to the server only through a [`Wire`] (fresh codes,
//! POST, GET), [`HttpWire`] is the real one, and the decisions are plain functions of the
//! replies, tested without a network.

mod catalog;
mod codes;
mod exchange;
mod format;
mod http;
mod judge;
mod phone;
mod report;
mod run;
mod scenarios;

pub use catalog::{Spec, CATALOG};
pub use codes::{find_code, image_urls, CodeSource};
pub use format::reply_format;
pub use http::{HttpWire, QrReader};
pub use report::{Answer, Check, Options, Report, Summary, Verdict, Wire};
pub use run::run;

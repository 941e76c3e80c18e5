//! The Rust side of the FFI-overhead measurement (BENCHMARKS.md), compiled with the
//! `vectors` feature only: the same login, through the same functions as the bindings call,
//! without crossing into another language.

use std::sync::Arc;
use std::time::Instant;

use sqrl_proto::{ServerParams, Tif};

use crate::error::SqrlError;
use crate::exchange::{Decision, ExchangeOptions, ExchangeStep, SqrlAction, SqrlExchange};
use crate::identity::UnlockedIdentity;

/// The link every measured login starts from.
pub const BENCH_LINK: &str = "sqrl://example.com/sqrl?nut=n1";

/// A site's reply that knows the identity, with the next nut `nut`.
fn reply(nut: &str) -> Result<String, SqrlError> {
    let tif = Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED;
    ServerParams::new(nut, tif, format!("/sqrl?nut={nut}"))
        .encode()
        .map_err(|e| SqrlError::InvalidReply(e.to_string()))
}

/// One known login without IO: start, query, reply, approve, ident, reply.
fn one_login(identity: &Arc<UnlockedIdentity>, first: &str, second: &str) -> Result<(), SqrlError> {
    let exchange = SqrlExchange::start(
        Arc::clone(identity),
        BENCH_LINK.to_owned(),
        SqrlAction::Login,
        ExchangeOptions::default(),
    )?;
    let _query = exchange.first_request();
    let ExchangeStep::Confirm { .. } = exchange.receive(200, first.to_owned())? else {
        return Err(SqrlError::OutOfOrder("no prompt".to_owned()));
    };
    let ExchangeStep::Send { .. } = exchange.decide(Decision::Approve)? else {
        return Err(SqrlError::OutOfOrder("no ident".to_owned()));
    };
    match exchange.receive(200, second.to_owned())? {
        ExchangeStep::Done { .. } => Ok(()),
        _ => Err(SqrlError::OutOfOrder("not done".to_owned())),
    }
}

/// Runs `count` such logins in Rust and returns the nanoseconds they took in all.
#[uniffi::export]
pub fn bench_rust_logins(identity: Arc<UnlockedIdentity>, count: u32) -> Result<u64, SqrlError> {
    let (first, second) = (reply("n2")?, reply("n3")?);
    let started = Instant::now();
    for _ in 0..count {
        one_login(&identity, &first, &second)?;
    }
    Ok(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// The two replies the measured logins receive, for the foreign side's loop.
#[uniffi::export]
pub fn bench_replies() -> Result<Vec<String>, SqrlError> {
    Ok(vec![reply("n2")?, reply("n3")?])
}

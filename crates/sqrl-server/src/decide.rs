//! Step 3 of the SQRL endpoint without IO (the quinn-proto / rustls shape):
//!
//! 1. [`Endpoint::receive`](crate::Endpoint::receive) parses the request and checks everything
//!    that needs no stored state, and says what must be loaded
//!    ([`Pending::needs`](crate::Pending::needs));
//! 2. the driver loads a [`Snapshot`](crate::Snapshot) in one round trip;
//! 3. [`Endpoint::decide`](crate::Endpoint::decide), here, checks the request against its flow,
//!    runs the command (`command::run`, one verdict) and builds the reply with the
//!    [`Commit`](crate::Commit) to attempt and the status to publish (`reply`). Time and
//!    randomness are inputs, so every path is testable on a virtual clock and a transcript
//!    from another server replays by calling `decide` on a hand-built snapshot
//!    ([`Endpoint::replay`](crate::Endpoint::replay)).
//!
//! Every refusal keeps its precise [`Refusal`](crate::Refusal); its TIF comes from one
//! mapping.

use std::net::IpAddr;

use rand_core::CryptoRngCore;
use sqrl_proto::{Command, RequestBody, Tif};
use subtle::ConstantTimeEq;

use crate::account::{AccountChange, AccountGuard};
use crate::command::{self, Verdict};
use crate::endpoint::{sha256, Endpoint};
use crate::flow::{Flow, FlowError};
use crate::nut::{FlowId, QrNut};
use crate::receive::{Origin, Pending};
use crate::refusal::Refusal;
use crate::reply::Decision;
use crate::store::Snapshot;
use crate::time::UnixTime;
use crate::useragent::BrowserInfo;

/// What a command depends on: the account of `idk` (and whether it was superseded), and for a
/// re-key the account of `pidk`. A query changes nothing, so it needs no guard.
fn guards(pending: &Pending, snapshot: &Snapshot) -> Vec<AccountGuard> {
    if pending.params.command == Command::Query {
        return Vec::new();
    }
    let mut guards = vec![AccountGuard {
        idk: pending.params.idk,
        account: snapshot.current.clone(),
        superseded: Some(snapshot.superseded),
    }];
    if let (None, Some(pidk)) = (&snapshot.current, pending.params.pidk) {
        guards.push(AccountGuard {
            idk: pidk,
            account: snapshot.previous.clone(),
            superseded: None,
        });
    }
    guards
}

impl Endpoint {
    /// Step 3: the decision on a loaded snapshot. Pure: the same inputs give the same output.
    pub fn decide(
        &self,
        pending: Pending,
        snapshot: Snapshot,
        rng: &mut impl CryptoRngCore,
    ) -> Decision {
        let cps = pending.params.opt.cps;
        let (flow, expected_version) = match self.flow_of(&pending, snapshot.flow.clone()) {
            Ok(found) => found,
            Err(refusal) => {
                return self.detached(refusal, Tif::empty(), cps, rng);
            }
        };
        let guards = guards(&pending, &snapshot);
        let (outcome, refusal) = match command::run(&self.config, &pending, &flow, snapshot, rng) {
            Verdict::Done(outcome) => (outcome, None),
            Verdict::Refused(outcome, refusal) => (outcome, Some(refusal)),
            // A refused command changes nothing: the phone may still send a corrected one.
            Verdict::Stop { refusal, state } => return self.detached(refusal, state, cps, rng),
        };
        let mut decision = self.reply(pending, flow, expected_version, outcome, refusal, rng);
        // A login or an account change holds only if the accounts are still as read.
        if let Some(commit) = &mut decision.commit {
            if decision.response.login.is_some() || commit.account != AccountChange::Keep {
                commit.guards = guards;
            }
        }
        decision
    }

    /// The flow a request continues, checked against its record.
    fn flow_of(
        &self,
        pending: &Pending,
        stored: Option<Flow>,
    ) -> Result<(Flow, Option<u64>), Refusal> {
        let life = self.config.lifetimes;
        match &pending.origin {
            Origin::Qr(qr) => {
                if stored.is_some() {
                    return Err(Refusal::NutReused);
                }
                let flow = Flow::scanned(qr, pending.params.idk, pending.now, life)
                    .map_err(|_| Refusal::Expired)?;
                Ok((flow, None))
            }
            Origin::Reply { nut, .. } => {
                let flow = stored.ok_or(Refusal::StaleNut)?;
                if !bool::from(flow.expected_nut().as_bytes().ct_eq(nut.as_bytes())) {
                    return Err(Refusal::StaleNut);
                }
                if !bool::from(flow.reply_hash().ct_eq(&sha256(pending.body.server_text()))) {
                    return Err(Refusal::ReplyEchoMismatch);
                }
                if flow.idk() != pending.params.idk {
                    return Err(Refusal::IdentityChanged);
                }
                match flow.check_open(pending.now, life) {
                    Ok(()) => {}
                    Err(FlowError::Expired) => return Err(Refusal::Expired),
                    Err(FlowError::WrongState) => return Err(Refusal::FlowClosed),
                }
                let version = flow.version();
                Ok((flow, Some(version)))
            }
        }
    }

    /// Decides a transcript recorded against another server as if its nut were fresh, its
    /// `server` echo ours and its IP the browser's: a hand-built snapshot in which the flow
    /// is new and the accounts are `snapshot`'s. Every signature is still verified.
    pub fn replay(
        &self,
        body: &[u8],
        snapshot: Snapshot,
        now: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> Decision {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let body = match RequestBody::parse(body) {
            Ok(body) => body,
            Err(_) => return self.detached(Refusal::MalformedBody, Tif::empty(), false, rng),
        };
        let params = match body.client() {
            Ok(params) => params,
            Err(_) => return self.detached(Refusal::MalformedBody, Tif::empty(), false, rng),
        };
        if body.verify_identity_signatures(&params).is_err() {
            return self.detached(Refusal::BadSignature, Tif::empty(), false, rng);
        }
        let qr = QrNut {
            flow: FlowId::generate(rng),
            issued_at: now.as_secs(),
            browser_ip: ip,
            browser: BrowserInfo::from_codes(0, 0),
        };
        let pending = Pending {
            body,
            params,
            origin: Origin::Qr(qr),
            app: None,
            client_ip: ip,
            now,
        };
        let snapshot = Snapshot {
            flow: None,
            ..snapshot
        };
        self.decide(pending, snapshot, rng)
    }
}

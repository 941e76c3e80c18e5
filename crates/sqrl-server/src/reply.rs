//! The replies of the SQRL endpoint: to a command that continues the flow (with the commit
//! behind it), and to a refusal that belongs to no flow.

use rand_core::CryptoRngCore;
use sqrl_proto::{b64, Command, ServerParams, Tif};

use crate::account::{AccountChange, AccountId, AccountNotice};
use crate::command::Outcome;
use crate::endpoint::{sha256, Endpoint};
use crate::flow::{End, Flow, Status};
use crate::nut::{FlowId, NutCodec};
use crate::receive::{Pending, Refused};
use crate::refusal::Refusal;
use crate::store::Commit;

/// The reply, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The base64url reply body (HTTP 200).
    pub body: String,
    /// Its TIF.
    pub tif: Tif,
    /// Why the command was not carried out, if it was not.
    pub refusal: Option<Refusal>,
    /// The account that logged in, if the command completed a login.
    pub login: Option<AccountId>,
    /// The flow the request belonged to.
    pub flow: Option<FlowId>,
}

/// What the server decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The reply to send once the commit succeeded.
    pub response: Response,
    /// The changes to attempt (none for a refusal that ends the exchange).
    pub commit: Option<Commit>,
    /// The flow's new status for its waiting page, when it changed.
    pub status: Option<Status>,
    /// What happened to an account.
    pub notice: Option<AccountNotice>,
}

impl Endpoint {
    /// The reply to a refusal found before the snapshot was loaded.
    pub fn refuse(&self, refused: Refused, rng: &mut impl CryptoRngCore) -> Response {
        if let Some(cause) = refused.cause {
            tracing::debug!(cause, "sqrl request body malformed");
        }
        self.detached(refused.refusal, Tif::empty(), refused.cps, rng)
            .response
    }

    /// A reply that belongs to no flow: its nut leads nowhere, so a retry ends in a second
    /// transient error and the user is told to reload.
    pub(crate) fn detached(
        &self,
        refusal: Refusal,
        state: Tif,
        cps: bool,
        rng: &mut impl CryptoRngCore,
    ) -> Decision {
        tracing::debug!(refusal = refusal.code(), "sqrl request refused");
        let tif = state | refusal.tif();
        let nut = NutCodec::mint_reply(&FlowId::generate(rng), rng);
        let mut reply =
            ServerParams::new(nut.clone(), tif, format!("{}?nut={nut}", self.config.path));
        if cps {
            reply.url = Some(self.home());
        }
        Decision {
            response: Response {
                // Only the origin or path of the configuration can make this fail.
                body: reply.encode().unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a sqrl refusal cannot be encoded: check the site's origin and path");
                    String::new()
                }),
                tif,
                refusal: Some(refusal),
                login: None,
                flow: None,
            },
            commit: None,
            status: None,
            notice: None,
        }
    }

    /// The reply to a request whose load or commit failed (`Conflict`, `Backend`): nothing
    /// changed. `cps`: the request asked for `opt=cps`, so the reply sends the browser home.
    pub fn transient(&self, refusal: Refusal, cps: bool, rng: &mut impl CryptoRngCore) -> Response {
        self.detached(refusal, Tif::empty(), cps, rng).response
    }

    /// Builds the reply of a command that continues the flow (`refusal`: it was refused, but
    /// the exchange goes on), and the commit behind it, without guards: the decision adds
    /// them when the commit depends on the accounts it read.
    pub(crate) fn reply(
        &self,
        pending: Pending,
        mut flow: Flow,
        expected_version: Option<u64>,
        mut outcome: Outcome,
        refusal: Option<Refusal>,
        rng: &mut impl CryptoRngCore,
    ) -> Decision {
        let life = self.config.lifetimes;
        let now = pending.now;
        let cps = pending.params.opt.cps;
        let before = expected_version.map(|_| flow.status(now, life));
        // Declined: the site's second button on an `ident`, or a `query` carrying it (the
        // user cancelled at the client's own prompt).
        let declined = outcome.declined || refusal == Some(Refusal::Declined);
        if declined && flow.reject(now, life).is_err() {
            return self.detached(Refusal::FlowClosed, outcome.tif, cps, rng);
        }
        if outcome.declined {
            tracing::debug!(flow = ?flow.id(), "sqrl login declined at the client's prompt");
        }
        // `disable` and `remove` end the conversation: the page says so.
        let end = match (refusal, outcome.notice) {
            (None, Some(AccountNotice::Disabled(_))) => Some(End::Disabled),
            (None, Some(AccountNotice::Removed(_))) => Some(End::Removed),
            _ => None,
        };
        if let Some(end) = end {
            if flow.end(end, now, life).is_err() {
                return self.detached(Refusal::FlowClosed, outcome.tif, cps, rng);
            }
        }
        if let Some(account) = outcome.login {
            if flow.confirm(account, cps, now, life).is_err() {
                return self.detached(Refusal::FlowClosed, outcome.tif, cps, rng);
            }
            if cps {
                let mut token = [0u8; 32];
                token[..16].copy_from_slice(&flow.id().0);
                rng.fill_bytes(&mut token[16..]);
                let token = b64::encode(token);
                flow.issue_cps_token(sha256(&token));
                outcome.url = Some(format!(
                    "{}{}/cps?token={token}",
                    self.config.origin, self.config.path
                ));
            }
        }
        // The page says when the phone was told that its identity is disabled here (it may
        // still enable and log in, so the flow stays open); the mark goes with the next reply
        // that no longer says so.
        flow.note_disabled(outcome.tif.contains(Tif::SQRL_DISABLED));
        if cps && pending.params.command != Command::Query && outcome.url.is_none() {
            // A command with CPS always sends the browser somewhere: back to the site.
            outcome.url = Some(self.home());
        }
        let nut = NutCodec::mint_reply(&flow.id(), rng);
        let mut reply = ServerParams::new(
            nut.clone(),
            outcome.tif,
            format!("{}?nut={nut}", self.config.path),
        );
        reply.suk = outcome.suk;
        reply.url = outcome.url;
        reply.ask = outcome.ask.clone();
        reply.sin = outcome.sin;
        let body = match reply.encode() {
            Ok(body) => body,
            Err(e) => {
                // Nothing is committed, and the phone gets a reply it can parse.
                tracing::error!(error = %e, "a sqrl reply cannot be encoded: check the site's ask, origin and sin");
                return self.detached(Refusal::Unencodable, outcome.tif, cps, rng);
            }
        };
        // Once the user was asked in this flow, every later ident must answer: a refusal in
        // between (an IP mismatch, say) must not clear the question.
        // Only a question with buttons needs an answer (`btn=1`/`2`); a message without
        // them (a new identity under `offer`) is acknowledged by `btn=0` or nothing.
        let asked = outcome.ask.as_ref().is_some_and(|a| !a.buttons.is_empty());
        flow.replied(nut, sha256(&body), asked);
        flow.advance(expected_version);
        if let Some(refusal) = refusal {
            tracing::debug!(refusal = refusal.code(), flow = ?flow.id(), "sqrl command refused");
        }
        // A refused command changes no account.
        let (account, notice) = match refusal {
            Some(_) => (AccountChange::Keep, None),
            None => (outcome.account, outcome.notice),
        };
        let after = flow.status(now, life);
        let status = (before != Some(after)).then_some(after);
        Decision {
            response: Response {
                body,
                tif: outcome.tif,
                refusal,
                login: outcome.login,
                flow: Some(flow.id()),
            },
            commit: Some(Commit {
                flow,
                expected_version,
                account,
                guards: Vec::new(),
            }),
            status,
            notice,
        }
    }
}

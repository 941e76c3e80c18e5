//! The commands (`spec/protocol.md` §8-§10): what each one does to the account, decided on a
//! loaded snapshot, as one [`Verdict`]. The flow transition and the reply are built from it in
//! the `reply` module.

use rand_core::CryptoRngCore;
use sqrl_proto::{Ask, Button, Bytes32, Command, Tif};
use subtle::ConstantTimeEq;

use crate::account::{Account, AccountChange, AccountId, AccountNotice};
use crate::config::{AskPolicy, Config};
use crate::flow::Flow;
use crate::receive::Pending;
use crate::refusal::Refusal;
use crate::store::Snapshot;

/// What a command that continues the flow did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The reply's TIF.
    pub tif: Tif,
    /// Set when the command was refused but the exchange goes on; [`run`] hands it over as
    /// [`Verdict::Refused`].
    refusal: Option<Refusal>,
    pub account: AccountChange,
    pub notice: Option<AccountNotice>,
    pub suk: Option<Bytes32>,
    pub url: Option<String>,
    pub ask: Option<Ask>,
    pub sin: Option<String>,
    pub login: Option<AccountId>,
    /// A `query` with `btn=2`: the user declined at the client's own prompt, so the flow ends
    /// as rejected (the query itself is answered as usual).
    pub declined: bool,
}

impl Outcome {
    fn new(tif: Tif) -> Self {
        Self {
            tif,
            refusal: None,
            account: AccountChange::Keep,
            notice: None,
            suk: None,
            url: None,
            ask: None,
            sin: None,
            login: None,
            declined: false,
        }
    }

    fn refused(mut self, refusal: Refusal) -> Self {
        self.tif |= refusal.tif();
        self.refusal = Some(refusal);
        self
    }
}

/// What a command came to.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Carried out: the exchange goes on with this outcome.
    Done(Outcome),
    /// Refused, but the exchange goes on (the client gets a usable nut: after "disabled" it
    /// may send `enable`, after "IP mismatch" it may retry). The outcome changes no account.
    Refused(Outcome, Refusal),
    /// Refused, and the exchange ends here: nothing is committed.
    Stop {
        /// Why.
        refusal: Refusal,
        /// The state bits known so far.
        state: Tif,
    },
}

/// A refusal that ends the exchange, with the state bits known so far.
type Stop = (Refusal, Tif);

/// Runs the request's command on the snapshot.
pub(crate) fn run(
    config: &Config,
    pending: &Pending,
    flow: &Flow,
    snapshot: Snapshot,
    rng: &mut impl CryptoRngCore,
) -> Verdict {
    match command(config, pending, flow, snapshot, rng) {
        Ok(mut outcome) => match outcome.refusal.take() {
            Some(refusal) => Verdict::Refused(outcome, refusal),
            None => Verdict::Done(outcome),
        },
        Err((refusal, state)) => Verdict::Stop { refusal, state },
    }
}

fn command(
    config: &Config,
    pending: &Pending,
    flow: &Flow,
    snapshot: Snapshot,
    rng: &mut impl CryptoRngCore,
) -> Result<Outcome, Stop> {
    let p = &pending.params;
    let ips_matched = flow.browser_ip() == pending.client_ip;
    let ip_bit = if ips_matched {
        Tif::IPS_MATCHED
    } else {
        Tif::empty()
    };
    // A query carrying the second button says the user declined (`spec/protocol.md` §8.1):
    // it changes no account and is answered as any query, but the flow ends. Other buttons
    // on a query mean nothing.
    let declining = p.command == Command::Query && p.btn == Some(Button::Second);
    if snapshot.superseded {
        let outcome = Outcome::new(ip_bit | Tif::IDENTITY_SUPERSEDED);
        return Ok(match p.command {
            Command::Query => Outcome {
                declined: declining,
                ..outcome
            },
            _ => outcome.refused(Refusal::Superseded),
        });
    }
    let current = snapshot.current;
    let previous = match (&current, p.pidk) {
        (None, Some(_)) => snapshot.previous,
        _ => None,
    };
    let mut tif = ip_bit;
    if let Some(account) = &current {
        tif |= Tif::CURRENT_ID_MATCH;
        if account.disabled {
            tif |= Tif::SQRL_DISABLED;
        }
    }
    if previous.is_some() {
        tif |= Tif::PREVIOUS_ID_MATCH;
    }
    // The stored SUK goes back when asked, when the account is disabled, or when a previous
    // identity matched (the client needs it to sign urs).
    let suk = match (&current, &previous) {
        (Some(a), _) if a.disabled || p.opt.suk => Some(a.suk),
        (None, Some(prev)) => Some(prev.suk),
        _ => None,
    };
    let mut outcome = Outcome {
        suk,
        ..Outcome::new(tif)
    };
    if p.command == Command::Query {
        if declining {
            // The conversation is over: no question, no secret index to answer.
            outcome.declined = true;
            return Ok(outcome);
        }
        // Every approval names the browser, its IP and the page's code. A known account is
        // asked with buttons (as the protocol sends `ask`, with 0x01); under `offer`, a new
        // identity or a re-key gets the same words as a message without buttons, which a
        // client shows at its own yes/no and answers with `btn=0` or nothing (clients without
        // `ask` ignore it). Under `require` every question has buttons.
        let buttons = match config.ask {
            AskPolicy::Off => None,
            AskPolicy::Offer => Some(tif.contains(Tif::CURRENT_ID_MATCH)),
            AskPolicy::Require => Some(true),
        };
        if let (Some(buttons), false) = (buttons, tif.contains(Tif::SQRL_DISABLED)) {
            let question = login_question(config, flow, pending.app.as_deref());
            outcome.ask = Some(if buttons {
                question
            } else {
                Ask::new(question.message)
            });
        }
        outcome.sin = config.secret_index.clone();
        return Ok(outcome);
    }
    if !ips_matched && !p.opt.noiptest {
        return Ok(outcome.refused(Refusal::IpMismatch));
    }
    match &p.command {
        Command::Ident => ident(config, pending, flow, current, previous, outcome, rng),
        Command::Disable => {
            let mut account = current.ok_or((Refusal::NoAccount, tif))?;
            account.disabled = true;
            outcome.suk = Some(account.suk);
            outcome.tif |= Tif::SQRL_DISABLED;
            outcome.notice = Some(AccountNotice::Disabled(account.id));
            outcome.account = AccountChange::Put(account);
            Ok(outcome)
        }
        Command::Enable | Command::Remove => {
            let mut account = current.ok_or((Refusal::NoAccount, tif))?;
            pending
                .body
                .verify_unlock_signature(&account.vuk)
                .map_err(|_| (Refusal::BadUnlockSignature, tif))?;
            outcome.suk = None;
            if p.command == Command::Enable {
                account.disabled = false;
                outcome.tif = outcome.tif.without(Tif::SQRL_DISABLED);
                // The login that may follow on this exchange (a client re-enabling during a
                // login) is asked as after a query: the query of a disabled identity was not.
                if config.ask != AskPolicy::Off {
                    outcome.ask = Some(login_question(config, flow, pending.app.as_deref()));
                }
                outcome.notice = Some(AccountNotice::Enabled(account.id));
                outcome.account = AccountChange::Put(account);
            } else {
                outcome.tif = outcome
                    .tif
                    .without(Tif::CURRENT_ID_MATCH | Tif::SQRL_DISABLED);
                outcome.notice = Some(AccountNotice::Removed(account.id));
                outcome.account = AccountChange::Remove(account.id);
            }
            Ok(outcome)
        }
        _ => Err((Refusal::UnsupportedCommand, tif)),
    }
}

/// The question that names the browser which opened the login page: the defence against
/// someone showing the user a QR code taken from their own login page.
fn login_question(config: &Config, flow: &Flow, app: Option<&str>) -> Ask {
    let host = config.host_name();
    let seconds = flow.issued_at() % 86_400;
    let opened = format!("{:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60);
    let page = if config.compare_code {
        format!(
            "The login page shows {} and was opened at {opened}.",
            flow.id().compare_code()
        )
    } else {
        format!("The login page was opened at {opened}.")
    };
    let target = match app {
        Some(app) => format!("{app} via {host}"),
        None => host.to_owned(),
    };
    let message = format!(
        "Log in to {target} in {} from {}? {page}",
        flow.browser(),
        flow.browser_ip(),
    );
    Ask::new(message.clone())
        .with_button("Log in", None)
        .and_then(|a| a.with_button("Cancel", None))
        .unwrap_or_else(|_| Ask::new(message))
}

fn ident(
    config: &Config,
    pending: &Pending,
    flow: &Flow,
    current: Option<Account>,
    previous: Option<Account>,
    mut outcome: Outcome,
    rng: &mut impl CryptoRngCore,
) -> Result<Outcome, Stop> {
    let p = &pending.params;
    let tif = outcome.tif;
    if flow.asked() {
        match (p.btn, config.ask) {
            // The question has buttons: btn=0 answers a message without buttons, so it is no
            // approval; without btn, only a client that does not implement `ask` could have
            // sent this, which the site may allow.
            (Some(Button::Ok), _) | (None, AskPolicy::Require) => {
                return Err((Refusal::MissingAnswer, tif))
            }
            (Some(Button::Second), _) => return Ok(outcome.refused(Refusal::Declined)),
            (Some(Button::First), _) | (None, _) => {}
        }
    }
    // With a secret index, every ident carries `ins`; a known account's must match the
    // stored one, and on a re-key the previous identity's `pins` must match instead.
    let ins = match &config.secret_index {
        Some(_) => Some(p.ins.ok_or((Refusal::IndexedSecretMismatch, tif))?),
        None => None,
    };
    let matches = |stored: Option<Bytes32>, given: Option<Bytes32>| match (stored, given) {
        (Some(s), Some(g)) => bool::from(s.0.ct_eq(&g.0)),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let with_options = |mut account: Account| {
        account.sqrlonly = p.opt.sqrlonly;
        account.hardlock = p.opt.hardlock;
        if ins.is_some() {
            account.ins = ins;
        }
        account
    };
    let account = match (current, previous) {
        (Some(account), _) if account.disabled => {
            return Ok(outcome.refused(Refusal::Disabled));
        }
        (Some(account), _) => {
            if ins.is_some() && !matches(account.ins, ins) {
                return Err((Refusal::IndexedSecretMismatch, tif));
            }
            let updated = with_options(account.clone());
            if updated != account {
                outcome.account = AccountChange::Put(updated.clone());
            }
            updated
        }
        (None, Some(old)) => {
            pending
                .body
                .verify_unlock_signature(&old.vuk)
                .map_err(|_| (Refusal::BadUnlockSignature, tif))?;
            let (suk, vuk) = p.suk.zip(p.vuk).ok_or((Refusal::MissingUnlockKeys, tif))?;
            if ins.is_some() && !matches(old.ins, p.pins) {
                return Err((Refusal::IndexedSecretMismatch, tif));
            }
            if old.disabled {
                outcome.tif |= Tif::SQRL_DISABLED;
                return Ok(outcome.refused(Refusal::Disabled));
            }
            let account = with_options(Account {
                idk: p.idk,
                suk,
                vuk,
                ..old.clone()
            });
            outcome.account = AccountChange::Rekey {
                previous: old.idk,
                account: account.clone(),
            };
            outcome.notice = Some(AccountNotice::Rekeyed {
                account: account.id,
                previous: old.idk,
                current: account.idk,
            });
            outcome.tif = outcome.tif.without(Tif::PREVIOUS_ID_MATCH);
            outcome.suk = None;
            account
        }
        (None, None) => {
            let (suk, vuk) = p.suk.zip(p.vuk).ok_or((Refusal::MissingUnlockKeys, tif))?;
            let account = with_options(Account {
                id: AccountId::generate(rng),
                idk: p.idk,
                suk,
                vuk,
                disabled: false,
                sqrlonly: false,
                hardlock: false,
                created_at: pending.now.as_secs(),
                ins: None,
            });
            outcome.notice = Some(AccountNotice::Created(account.id));
            outcome.account = AccountChange::Put(account.clone());
            account
        }
    };
    outcome.tif |= Tif::CURRENT_ID_MATCH;
    outcome.login = Some(account.id);
    Ok(outcome)
}

//! The signed exchange with a site, without IO: the app POSTs each [`HttpRequest`] with its
//! own HTTP stack and trust store, and feeds the status and body back. No call here blocks on
//! the network or runs EnScrypt; each takes microseconds to a millisecond (one signature).

use std::sync::{Arc, Mutex};

use rand_core::OsRng;
use sqrl_client::exchange::{self, Config, Step};
use sqrl_client::keys::Rlk;
use sqrl_proto::{Button, Tif};

use crate::error::SqrlError;
use crate::identity::UnlockedIdentity;
use crate::link::site_url;

/// What the user wants to do at the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SqrlAction {
    /// Log in (a new account if the site does not know the identity; moving the site to the
    /// new key after a re-key).
    Login,
    /// Disable SQRL login for this identity at the site (a stolen phone).
    Disable,
    /// Enable it again: needs an identity unlocked with the rescue code.
    Enable,
    /// Remove the identity from the site: needs an identity unlocked with the rescue code.
    Remove,
}

impl From<SqrlAction> for exchange::Action {
    fn from(action: SqrlAction) -> Self {
        match action {
            SqrlAction::Login => exchange::Action::Login,
            SqrlAction::Disable => exchange::Action::Disable,
            SqrlAction::Enable => exchange::Action::Enable,
            SqrlAction::Remove => exchange::Action::Remove,
        }
    }
}

impl From<exchange::Action> for SqrlAction {
    fn from(action: exchange::Action) -> Self {
        match action {
            exchange::Action::Login => SqrlAction::Login,
            exchange::Action::Disable => SqrlAction::Disable,
            exchange::Action::Enable => SqrlAction::Enable,
            exchange::Action::Remove => SqrlAction::Remove,
        }
    }
}

/// Options of one exchange; all off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ExchangeOptions {
    /// Alternate identity at the site ("" for none).
    #[uniffi(default = "")]
    pub alt_id: String,
    /// Client-provided session: the site answers with a `url` for the app to open in the
    /// browser, instead of logging in the page that showed the code (same-device login).
    #[uniffi(default = false)]
    pub cps: bool,
    /// The code was scanned from another device: do not ask the site to compare IPs.
    #[uniffi(default = false)]
    pub noiptest: bool,
    /// Ask the site to allow SQRL login only.
    #[uniffi(default = false)]
    pub sqrlonly: bool,
    /// Ask the site to turn off its other ways of account recovery.
    #[uniffi(default = false)]
    pub hardlock: bool,
}

/// A request to POST as `application/x-www-form-urlencoded`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// The `https://` URL.
    pub url: String,
    /// The form body.
    pub body: String,
}

/// One button of the site's question.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuestionButton {
    /// The label.
    pub label: String,
    /// The page the app opens when this button is chosen, if any.
    pub url: Option<String>,
}

/// The site's question (`ask`): a message and up to two buttons.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SiteQuestion {
    /// The message.
    pub message: String,
    /// Zero, one or two buttons, in order (button 1, button 2).
    pub buttons: Vec<QuestionButton>,
}

/// What the app shows before anything is signed that acts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Prompt {
    /// The action about to be done.
    pub action: SqrlAction,
    /// The site, as the key is chosen for it (host, and path with `x=`).
    pub site: String,
    /// `false`: the site does not know this identity, and a login makes a new account there
    /// ("Create an account at this site?").
    pub known: bool,
    /// The site knows a previous key of this identity: logging in moves it to this one.
    pub replaces_previous: bool,
    /// The phone and the browser that shows the code have the same IP address. When `false`
    /// and the code was not scanned from another device, the app should warn: someone may be
    /// showing the user a code from their own browser.
    pub ips_matched: bool,
    /// The site's question, if it asked one.
    pub question: Option<SiteQuestion>,
}

/// The user's answer to a [`Prompt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Decision {
    /// Go ahead (when the site asked a question, this is its first button).
    Approve,
    /// Go ahead with this button of the site's question (1 or 2). Button 2 is the site's
    /// "no": the site refuses the login.
    Button {
        /// 1 or 2.
        number: u8,
    },
    /// Stop: nothing is signed that acts. One last request tells the site; its reply ends the
    /// exchange with `SqrlError.Declined`.
    Cancel,
}

/// How the exchange ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum OutcomeKind {
    /// Logged in to an account the site knew.
    LoggedIn,
    /// Logged in to a new account made for this identity.
    NewAccount,
    /// Logged in, and the site moved from a previous key to this one.
    Rekeyed,
    /// SQRL login is now disabled at the site.
    Disabled,
    /// SQRL login is enabled again.
    Enabled,
    /// The identity was removed from the site.
    Removed,
}

/// The end of a successful exchange.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Outcome {
    /// What happened.
    pub kind: OutcomeKind,
    /// With `cps`: the address to open in the browser, which logs it in.
    pub open_url: Option<String>,
    /// Why the site's address cannot be opened (or, with `cps`, why there is none): the
    /// command itself succeeded.
    pub open_url_problem: Option<String>,
    /// The site's final transaction flags (TIF), for diagnostics.
    pub tif: u32,
}

/// The next thing the app does.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ExchangeStep {
    /// POST this request and pass the answer to `receive`.
    Send {
        /// The request.
        request: HttpRequest,
    },
    /// Show this to the user, then call `decide`.
    Confirm {
        /// What to show.
        prompt: Prompt,
    },
    /// Finished.
    Done {
        /// How it ended.
        outcome: Outcome,
    },
}

fn request(request: exchange::Request) -> HttpRequest {
    HttpRequest {
        url: request.url,
        body: request.body,
    }
}

struct State {
    inner: exchange::Exchange<'static>,
    action: exchange::Action,
    /// The user cancelled: whatever comes back (or fails to), the exchange ends declined.
    cancelling: bool,
    finished: bool,
}

/// One exchange with one site, from a scanned link to the outcome. Methods may be called
/// from any thread, one at a time (they lock).
#[derive(uniffi::Object)]
pub struct SqrlExchange {
    state: Mutex<State>,
    first: HttpRequest,
    site: String,
}

impl std::fmt::Debug for SqrlExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqrlExchange")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl SqrlExchange {
    fn step(
        state: &mut State,
        step: Result<Step, sqrl_client::Error>,
    ) -> Result<ExchangeStep, SqrlError> {
        let step = match step {
            Ok(step) => step,
            Err(e) => {
                state.finished = true;
                return Err(e.into());
            }
        };
        Ok(match step {
            Step::Send(next) => ExchangeStep::Send {
                request: request(next),
            },
            Step::Confirm(prompt) => ExchangeStep::Confirm {
                prompt: Prompt {
                    action: prompt.action.into(),
                    site: prompt.auth_domain,
                    known: prompt.known,
                    replaces_previous: prompt.replaces_previous,
                    ips_matched: prompt.ips_matched,
                    question: prompt.ask.map(|ask| SiteQuestion {
                        message: ask.message,
                        buttons: ask
                            .buttons
                            .into_iter()
                            .map(|b| QuestionButton {
                                label: b.label,
                                url: b.url,
                            })
                            .collect(),
                    }),
                },
            },
            Step::Done(outcome) => {
                state.finished = true;
                let kind = match state.action {
                    _ if outcome.rekeyed => OutcomeKind::Rekeyed,
                    _ if outcome.new_association => OutcomeKind::NewAccount,
                    exchange::Action::Login => OutcomeKind::LoggedIn,
                    exchange::Action::Disable => OutcomeKind::Disabled,
                    exchange::Action::Enable => OutcomeKind::Enabled,
                    exchange::Action::Remove => OutcomeKind::Removed,
                };
                ExchangeStep::Done {
                    outcome: Outcome {
                        kind,
                        open_url: outcome.redirect,
                        open_url_problem: outcome
                            .redirect_error
                            .map(|e| SqrlError::from(e).to_string()),
                        tif: outcome.tif.bits(),
                    },
                }
            }
        })
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, State>, SqrlError> {
        self.state
            .lock()
            .map_err(|_| SqrlError::OutOfOrder("an earlier call failed midway".to_owned()))
    }
}

#[uniffi::export]
impl SqrlExchange {
    /// Starts an exchange for a scanned `sqrl://` link; `first_request` is the first POST.
    #[uniffi::constructor]
    pub fn start(
        identity: Arc<UnlockedIdentity>,
        link: String,
        action: SqrlAction,
        options: ExchangeOptions,
    ) -> Result<Arc<Self>, SqrlError> {
        let url = site_url(&link)?;
        let site = url.auth_domain().to_owned();
        let config = Config {
            alt_id: options.alt_id,
            cps: options.cps,
            noiptest: options.noiptest,
            sqrlonly: options.sqrlonly,
            hardlock: options.hardlock,
        };
        let (inner, first) = exchange::Exchange::start_shared(
            url,
            action.into(),
            Arc::clone(&identity.keys),
            config,
            Rlk::generate(&mut OsRng),
        )?;
        Ok(Arc::new(Self {
            state: Mutex::new(State {
                inner,
                action: action.into(),
                cancelling: false,
                finished: false,
            }),
            first: request(first),
            site,
        }))
    }

    /// The first request to POST.
    pub fn first_request(&self) -> HttpRequest {
        self.first.clone()
    }

    /// The site the exchange is with (host, and path with `x=`): show it to the user.
    pub fn site(&self) -> String {
        self.site.clone()
    }

    /// The site's answer to the last request: its HTTP status and body. Some sites answer a
    /// refusal with an error status and a SQRL body; that body is read. After a
    /// `Decision.Cancel`, any answer ends the exchange with `SqrlError.Declined`.
    pub fn receive(&self, status: u16, body: String) -> Result<ExchangeStep, SqrlError> {
        let mut state = self.locked()?;
        if state.finished {
            return Err(SqrlError::OutOfOrder("the exchange has ended".to_owned()));
        }
        if state.cancelling {
            state.finished = true;
            return Err(SqrlError::Declined);
        }
        let body = body.trim();
        let readable = sqrl_proto::ServerParams::decode(body).is_ok();
        if !(200..300).contains(&status) && !readable {
            state.finished = true;
            return Err(SqrlError::HttpStatus(status));
        }
        let step = state.inner.receive(body);
        Self::step(&mut state, step)
    }

    /// The app could not POST the last request (network, TLS): `reason` is its own message.
    /// Ends the exchange, always with an error to throw: `SqrlError.Unreachable`, or after a
    /// `Decision.Cancel` `SqrlError.Declined`, since the user's answer stands.
    pub fn send_failed(&self, reason: String) -> Result<ExchangeStep, SqrlError> {
        let mut state = self.locked()?;
        state.finished = true;
        if state.cancelling {
            return Err(SqrlError::Declined);
        }
        Err(SqrlError::Unreachable(reason))
    }

    /// The user's answer to the prompt: the next request (the signed command, or after
    /// `Cancel` the request that tells the site).
    pub fn decide(&self, decision: Decision) -> Result<ExchangeStep, SqrlError> {
        let mut state = self.locked()?;
        let decision = match decision {
            Decision::Approve => exchange::Decision::Approve,
            Decision::Button { number: 1 } => exchange::Decision::Button(Button::First),
            Decision::Button { number: 2 } => exchange::Decision::Button(Button::Second),
            Decision::Button { number } => {
                return Err(SqrlError::OutOfOrder(format!(
                    "a site's question has buttons 1 and 2, not {number}"
                )))
            }
            Decision::Cancel => exchange::Decision::Cancel,
        };
        let step = state.inner.decide(decision);
        if decision == exchange::Decision::Cancel && step.is_ok() {
            state.cancelling = true;
        }
        Self::step(&mut state, step)
    }

    /// Where to send a waiting browser when the exchange failed or was declined (the site's
    /// cancel page), if the site gave one.
    pub fn cancel_url(&self) -> Option<String> {
        let state = self.locked().ok()?;
        state.inner.cancel_url().map(str::to_owned)
    }
}

/// `true` when the flags say SQRL login is disabled at the site (in an outcome's `tif`).
#[uniffi::export]
pub fn tif_sqrl_disabled(tif: u32) -> bool {
    Tif::from_bits(tif).contains(Tif::SQRL_DISABLED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqrl_client::exchange::Keys;
    use sqrl_client::keys::Iuk;
    use sqrl_proto::ServerParams;

    fn keys() -> Arc<UnlockedIdentity> {
        let iuk = Iuk::from_bytes([7; 32]);
        UnlockedIdentity::wrap(Keys::new(iuk.imk(), iuk.ilk(), Vec::new()))
    }

    fn started() -> Arc<SqrlExchange> {
        let link = "sqrl://example.com/sqrl?nut=n1".to_owned();
        SqrlExchange::start(keys(), link, SqrlAction::Login, ExchangeOptions::default()).unwrap()
    }

    fn reply(tif: Tif) -> String {
        ServerParams::new("n2", tif, "/sqrl?nut=n2")
            .encode()
            .unwrap()
    }

    #[test]
    fn an_http_error_without_a_sqrl_body_is_its_status_and_ends_the_exchange() {
        let exchange = started();
        assert_eq!(
            exchange.receive(502, "<html>bad gateway</html>".to_owned()),
            Err(SqrlError::HttpStatus(502))
        );
        assert!(matches!(
            exchange.receive(200, reply(Tif::IPS_MATCHED)),
            Err(SqrlError::OutOfOrder(_))
        ));
    }

    #[test]
    fn an_http_error_with_a_sqrl_body_is_read_as_the_sites_answer() {
        let exchange = started();
        let refused = reply(Tif::COMMAND_FAILED | Tif::CLIENT_FAILURE);
        assert!(matches!(
            exchange.receive(400, refused),
            Err(SqrlError::Refused(_))
        ));
    }

    #[test]
    fn a_button_other_than_1_or_2_is_refused_and_the_prompt_stands() {
        let exchange = started();
        let step = exchange.receive(200, reply(Tif::IPS_MATCHED)).unwrap();
        assert!(matches!(step, ExchangeStep::Confirm { ref prompt } if !prompt.known));
        assert!(matches!(
            exchange.decide(Decision::Button { number: 3 }),
            Err(SqrlError::OutOfOrder(_))
        ));
        assert!(matches!(
            exchange.decide(Decision::Approve),
            Ok(ExchangeStep::Send { .. })
        ));
    }

    #[test]
    fn a_failed_post_after_cancel_still_ends_declined() {
        let exchange = started();
        exchange.receive(200, reply(Tif::IPS_MATCHED)).unwrap();
        assert!(matches!(
            exchange.decide(Decision::Cancel),
            Ok(ExchangeStep::Send { .. })
        ));
        assert_eq!(
            exchange.send_failed("connection reset".to_owned()),
            Err(SqrlError::Declined)
        );
        let other = started();
        assert_eq!(
            other.send_failed("connection reset".to_owned()),
            Err(SqrlError::Unreachable("connection reset".to_owned()))
        );
    }

    #[test]
    fn a_bare_host_gives_the_same_site_key_as_its_link() {
        let identity = keys();
        let bare = identity
            .public_key("example.com".to_owned(), String::new())
            .unwrap();
        let link = identity
            .public_key("sqrl://example.com/sqrl?nut=abc".to_owned(), String::new())
            .unwrap();
        assert_eq!(bare, link);
        assert!(matches!(
            identity.public_key("sqrl://".to_owned(), String::new()),
            Err(SqrlError::InvalidLink(_))
        ));
    }
}

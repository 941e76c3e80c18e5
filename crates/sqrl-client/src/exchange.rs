//! The client side of a SQRL exchange, without IO (`spec/protocol.md` §8).
//!
//! [`Exchange::start`] gives the first request; each server reply goes to
//! [`Exchange::receive`], which answers with the next [`Step`]: another request to send, a
//! [`Prompt`] to show the user (answered with [`Exchange::decide`]), or the [`Outcome`].
//! Randomness (the one-time lock key of a new association) is an input; there is no clock.
//!
//! A user who cancels at the prompt ([`Decision::Cancel`]) gets one more [`Step::Send`]: a
//! `query` with `btn=2` that tells the site the user declined, so that the page waiting on the
//! code can say so (`spec/protocol.md` §8.1). A query never logs anyone in on any server, so
//! this is safe with servers that ignore `btn`. Its reply, whatever it says, ends the exchange
//! with [`ExchangeError::Cancelled`]; so does a failure to send it.
//!
//! ```
//! # use sqrl_client::exchange::{Action, Config, Exchange, Step, Decision};
//! # use sqrl_client::keys::{Iuk, Rlk};
//! # use sqrl_proto::{ServerParams, SqrlUrl, Tif};
//! let iuk = Iuk::from_bytes([1; 32]);
//! let keys = sqrl_client::exchange::Keys::new(iuk.imk(), iuk.ilk(), Vec::new());
//! let url = SqrlUrl::parse("sqrl://example.com/sqrl?nut=n1")?;
//! let (mut exchange, first) = Exchange::start(url, Action::Login, &keys, Config::default(), Rlk::from_bytes([2; 32]))?;
//! assert_eq!(first.url, "https://example.com/sqrl?nut=n1");
//!
//! // The server does not know us yet: the client asks the user, then associates.
//! let reply = ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2").encode()?;
//! let Step::Confirm(prompt) = exchange.receive(&reply)? else { unreachable!() };
//! assert!(!prompt.known && prompt.ips_matched);
//! let Step::Send(ident) = exchange.decide(Decision::Approve)? else { unreachable!() };
//! assert_eq!(ident.url, "https://example.com/sqrl?nut=n2");
//!
//! let done = ServerParams::new("n3", Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED, "/sqrl?nut=n3").encode()?;
//! let Step::Done(outcome) = exchange.receive(&done)? else { unreachable!() };
//! assert!(outcome.new_association);
//! # Ok::<(), sqrl_client::Error>(())
//! ```

use std::sync::Arc;

use sqrl_proto::{
    b64, signing_input, Ask, Button, ClientParams, Command, RequestBody, ServerParams, SqrlUrl, Tif,
};

use crate::error::{Error, ExchangeError};
use crate::keys::{IdentityLock, Ilk, Imk, Iuk, Rlk, SiteKey};

/// What the user wants to do at the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Log in (associating the identity if the site does not know it, re-keying if it knows a
    /// previous one).
    Login,
    /// Disable SQRL login for this identity at the site.
    Disable,
    /// Re-enable it (needs the rescue code's IUK).
    Enable,
    /// Remove the association (needs the rescue code's IUK).
    Remove,
}

/// Options of one exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Alternate identity string (empty: none).
    pub alt_id: String,
    /// Client-provided session: ask for `url=` instead of logging in the waiting browser.
    pub cps: bool,
    /// Cross-device: do not require the browser's IP.
    pub noiptest: bool,
    /// Ask the site to allow SQRL login only.
    pub sqrlonly: bool,
    /// Ask the site to disable other recovery.
    pub hardlock: bool,
}

/// The keys an exchange needs, from an unlocked identity.
#[derive(Debug)]
pub struct Keys {
    imk: Imk,
    ilk: Ilk,
    previous: Vec<Iuk>,
    unlock: Option<Iuk>,
}

impl Keys {
    /// Everyday keys: IMK and ILK, and previous IUKs newest first.
    pub fn new(imk: Imk, ilk: Ilk, previous: Vec<Iuk>) -> Self {
        Self {
            imk,
            ilk,
            previous,
            unlock: None,
        }
    }

    /// From an unlocked identity.
    pub fn from_unlocked(unlocked: &crate::Unlocked) -> Self {
        Self::new(
            unlocked.imk.clone(),
            unlocked.ilk.clone(),
            unlocked.previous.clone(),
        )
    }

    /// The identity's public key (`idk`) at a site: its auth domain and alternate id.
    pub fn site_public_key(&self, auth_domain: &str, alt_id: &str) -> sqrl_proto::Bytes32 {
        self.imk.site_key(auth_domain, alt_id).public_key()
    }

    /// Adds the current IUK (recovered with the rescue code), needed by `enable`/`remove`.
    pub fn with_unlock_key(mut self, iuk: Iuk) -> Self {
        self.unlock = Some(iuk);
        self
    }
}

/// An HTTP request to send: POST `body` to `url` as `application/x-www-form-urlencoded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `https://` URL.
    pub url: String,
    /// The form body.
    pub body: String,
}

/// What to show the user before the client signs the command that acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The action about to be performed.
    pub action: Action,
    /// The site that will receive it (the auth domain: what the key is for).
    pub auth_domain: String,
    /// The site knows this identity.
    pub known: bool,
    /// The site knows a previous identity: logging in will replace it (re-key).
    pub replaces_previous: bool,
    /// The request came from the same IP as the browser that showed the code.
    pub ips_matched: bool,
    /// The site's question, if any.
    pub ask: Option<Ask>,
}

/// The user's answer to a [`Prompt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead (`btn=0` when the site asked a question without buttons).
    Approve,
    /// Go ahead, answering the site's question with this button.
    Button(Button),
    /// Stop here: the command that acts is never sent. One last request tells the site (a
    /// `query` with `btn=2`); whatever its reply, the exchange ends with
    /// [`ExchangeError::Cancelled`].
    Cancel,
}

/// How the exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The final reply's TIF.
    pub tif: Tif,
    /// CPS: the absolute address to send the browser to (a root-anchored `url=` is resolved
    /// against the site's origin).
    pub redirect: Option<String>,
    /// The command succeeded, but the site's `url=` cannot be followed (or, with CPS, the
    /// reply had none): why. A confirmed command is never reported as a failure for this.
    pub redirect_error: Option<Error>,
    /// The server's replacement cancel address, if it sent one.
    pub cancel: Option<String>,
    /// The identity was newly associated with the site.
    pub new_association: bool,
    /// A previous identity was replaced by the current one.
    pub rekeyed: bool,
    /// SQRL login was re-enabled (with the rescue code) before this login, on this exchange.
    pub reenabled: bool,
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this request and pass the reply to [`Exchange::receive`].
    Send(Request),
    /// Ask the user, then call [`Exchange::decide`].
    Confirm(Prompt),
    /// Finished.
    Done(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Querying,
    Deciding,
    Committing,
    /// The user cancelled; the query that tells the site is on its way.
    Cancelling,
    /// A login's query found SQRL disabled for the identity: the exchange may go on with
    /// [`Exchange::reenable`] (the rescue code), else it is over.
    Disabled,
    Finished,
}

/// One exchange with one site.
#[derive(Debug)]
pub struct Exchange<'k> {
    url: SqrlUrl,
    action: Action,
    config: Config,
    keys: KeysRef<'k>,
    site: SiteKey,
    previous_sites: Vec<SiteKey>,
    /// The identity lock for a new association: made from `rlk` only when an `ident` needs
    /// it, since a site that already knows the identity never sees it (two X25519 products
    /// and a key pair saved on every everyday login).
    lock: Lock,
    state: State,
    /// Index of the previous identity presented in the current query.
    presented: Option<usize>,
    next_url: String,
    server_text: String,
    last_reply: Option<ServerParams>,
    last_command: Command,
    transient_in_a_row: bool,
    button: Option<Button>,
    prompt: Option<Prompt>,
    /// The IUK from the rescue code, given to [`Exchange::reenable`] during a login.
    rescue: Option<Iuk>,
    /// The `enable` sent by [`Exchange::reenable`] awaits its reply; the login goes on after.
    reenabling: bool,
}

/// Where an exchange holds its keys: borrowed for one call stack, or shared by an exchange
/// that has to own everything it uses (one kept by a phone app across calls through FFI).
#[derive(Debug)]
enum KeysRef<'k> {
    Borrowed(&'k Keys),
    Shared(Arc<Keys>),
}

impl KeysRef<'_> {
    fn get(&self) -> &Keys {
        match self {
            KeysRef::Borrowed(keys) => keys,
            KeysRef::Shared(keys) => keys,
        }
    }
}

/// The identity lock of an exchange, made on first use.
#[derive(Debug)]
enum Lock {
    Pending(Rlk),
    Made(IdentityLock),
}

impl Lock {
    fn made(&mut self, ilk: &Ilk) -> IdentityLock {
        match self {
            Lock::Made(lock) => *lock,
            Lock::Pending(rlk) => {
                let lock = ilk.lock(rlk.clone());
                *self = Lock::Made(lock);
                lock
            }
        }
    }
}

/// The bits that say a command failed, each of them with or without `0x40`: a server that
/// forgets `0x40` beside them has still not done what was asked (`spec/protocol.md` §5).
/// `0x20` is among them but is retried first.
const FAILURE_BITS: Tif = Tif::from_bits(
    Tif::FUNCTION_NOT_SUPPORTED.bits()
        | Tif::TRANSIENT_ERROR.bits()
        | Tif::COMMAND_FAILED.bits()
        | Tif::CLIENT_FAILURE.bits()
        | Tif::BAD_ID_ASSOCIATION.bits()
        | Tif::IDENTITY_SUPERSEDED.bits(),
);

fn tif_error(tif: Tif) -> ExchangeError {
    if tif.contains(Tif::IDENTITY_SUPERSEDED) {
        ExchangeError::Superseded
    } else if tif.contains(Tif::FUNCTION_NOT_SUPPORTED) {
        ExchangeError::NotSupported(tif)
    } else if tif.contains(Tif::CLIENT_FAILURE) {
        ExchangeError::ClientFailure(tif)
    } else if tif.contains(Tif::BAD_ID_ASSOCIATION) {
        ExchangeError::BadAssociation(tif)
    } else if tif.contains(Tif::SQRL_DISABLED) {
        ExchangeError::SqrlDisabled
    } else {
        ExchangeError::CommandFailed(tif)
    }
}

impl Exchange<'static> {
    /// [`start`](Exchange::start) for an exchange that owns a share of its keys, so that it
    /// can be kept between calls (by an app, through FFI) without borrowing from the caller.
    pub fn start_shared(
        url: SqrlUrl,
        action: Action,
        keys: Arc<Keys>,
        config: Config,
        rlk: Rlk,
    ) -> Result<(Self, Request), Error> {
        Self::start_with(url, action, KeysRef::Shared(keys), config, rlk)
    }
}

impl<'k> Exchange<'k> {
    /// Starts an exchange for a scanned SQRL URL; returns it with the first `query`.
    /// `rlk` is a fresh random lock key, used only if the site turns out not to know the
    /// identity (or knows a previous one).
    pub fn start(
        url: SqrlUrl,
        action: Action,
        keys: &'k Keys,
        config: Config,
        rlk: Rlk,
    ) -> Result<(Self, Request), Error> {
        Self::start_with(url, action, KeysRef::Borrowed(keys), config, rlk)
    }

    fn start_with(
        url: SqrlUrl,
        action: Action,
        keys: KeysRef<'k>,
        config: Config,
        rlk: Rlk,
    ) -> Result<(Self, Request), Error> {
        let shared = keys;
        let keys = shared.get();
        if matches!(action, Action::Enable | Action::Remove) && keys.unlock.is_none() {
            return Err(ExchangeError::NeedRescueCode.into());
        }
        let domain = url.auth_domain().to_owned();
        let site = keys.imk.site_key(&domain, &config.alt_id);
        // Only a login may re-key, so only a login presents previous identities.
        let previous_sites: Vec<SiteKey> = match action {
            Action::Login => keys
                .previous
                .iter()
                .map(|iuk| iuk.imk().site_key(&domain, &config.alt_id))
                .collect(),
            _ => Vec::new(),
        };
        let mut exchange = Self {
            next_url: url.request_url(),
            server_text: b64::encode(url.as_str()),
            lock: Lock::Pending(rlk),
            presented: (!previous_sites.is_empty()).then_some(0),
            url,
            action,
            config,
            keys: shared,
            site,
            previous_sites,
            state: State::Querying,
            last_reply: None,
            last_command: Command::Query,
            transient_in_a_row: false,
            button: None,
            prompt: None,
            rescue: None,
            reenabling: false,
        };
        let request = exchange.request(Command::Query)?;
        Ok((exchange, request))
    }

    /// The auth domain the exchange is for.
    pub fn auth_domain(&self) -> &str {
        self.url.auth_domain()
    }

    /// The cancel address for a waiting browser when the exchange fails or is cancelled: the
    /// server's latest `can=`, else the URL's.
    pub fn cancel_url(&self) -> Option<&str> {
        self.last_reply
            .as_ref()
            .and_then(|r| r.can.as_deref())
            .or(self.url.cancel_url())
    }

    fn options(&self) -> sqrl_proto::Options {
        sqrl_proto::Options {
            noiptest: self.config.noiptest,
            cps: self.config.cps,
            sqrlonly: self.config.sqrlonly,
            hardlock: self.config.hardlock,
            // Always asked for, on every command, as GRC's client does: the next step may
            // need the stored suk for `urs` (enable, remove, re-keying onto a previous
            // identity) and servers need not volunteer it; and some servers fail a request
            // that carries no `opt=` line at all (`spec/protocol.md` §3).
            suk: true,
            unknown: Vec::new(),
        }
    }

    fn reply_suk(&self) -> Result<sqrl_proto::Bytes32, ExchangeError> {
        self.last_reply
            .as_ref()
            .and_then(|r| r.suk)
            .ok_or(ExchangeError::MissingSuk)
    }

    /// Builds and signs the request for `command` against the latest server text.
    fn request(&mut self, command: Command) -> Result<Request, Error> {
        let keys = self.keys.get();
        let mut params = ClientParams::new(command.clone(), self.site.public_key());
        let previous = self.presented.and_then(|i| self.previous_sites.get(i));
        params.pidk = previous.map(SiteKey::public_key);
        if let Some(sin) = self.last_reply.as_ref().and_then(|r| r.sin.as_deref()) {
            params.ins = Some(self.site.indexed_secret(sin));
            params.pins = previous.map(|p| p.indexed_secret(sin));
        }
        params.opt = self.options();
        // Decided from the query's answer, not from a later transient-error reply.
        let known = self.prompt.as_ref().is_some_and(|p| p.known);
        if command == Command::Ident && !known {
            let lock = self.lock.made(&keys.ilk);
            params.suk = Some(lock.suk);
            params.vuk = Some(lock.vuk);
        }
        params.btn = match command {
            // The query that tells the site the user cancelled (spec/protocol.md §8.1).
            Command::Query if self.state == State::Cancelling => Some(Button::Second),
            Command::Query => None,
            _ => self.button,
        };
        // urs: a re-key signs with the matched previous identity's unlock key; enable and
        // remove with the current one (from the rescue code).
        let unlock_iuk = match (&command, self.action) {
            (Command::Ident, _) if previous.is_some() => {
                self.presented.and_then(|i| keys.previous.get(i))
            }
            (Command::Enable | Command::Remove, _) => keys.unlock.as_ref().or(self.rescue.as_ref()),
            _ => None,
        };
        let suk = match unlock_iuk {
            Some(_) => Some(self.reply_suk()?),
            None => None,
        };
        let client = params.encode()?;
        let message = signing_input(&client, &self.server_text);
        let ids = self.site.sign(&message);
        let pids = previous.map(|p| p.sign(&message));
        let urs = match (unlock_iuk, suk) {
            (Some(iuk), Some(suk)) => Some(iuk.unlock_request_signing_key(&suk).sign(&message)),
            _ => None,
        };
        tracing::debug!(
            command = params.command.as_str(),
            domain = self.url.auth_domain(),
            "signed request"
        );
        self.last_command = command;
        let body = RequestBody::new(
            client,
            self.server_text.clone(),
            &ids,
            pids.as_ref(),
            urs.as_ref(),
        );
        Ok(Request {
            url: self.next_url.clone(),
            body: body.encode(),
        })
    }

    /// Takes the server's reply body (base64url text) and says what to do next.
    ///
    /// After [`Decision::Cancel`], the reply to the query that told the site ends the
    /// exchange with [`ExchangeError::Cancelled`], whatever it says.
    pub fn receive(&mut self, reply_text: &str) -> Result<Step, Error> {
        if self.state == State::Cancelling {
            self.state = State::Finished;
            return Err(ExchangeError::Cancelled.into());
        }
        if !matches!(self.state, State::Querying | State::Committing) {
            return Err(ExchangeError::OutOfOrder.into());
        }
        let reply_text = reply_text.trim_end_matches(['\r', '\n']);
        let mut reply = ServerParams::decode(reply_text)?;
        // A root-anchored `can=` is resolved against the origin, as `url=` is (§2): kept
        // resolved, so that every cancel address the exchange gives out is absolute.
        if let Some(can) = reply.can.take() {
            reply.can = Some(self.url.resolve_link(&can)?);
        }
        let version = reply.version.negotiate(&sqrl_proto::version::SUPPORTED)?;
        let unknown = reply.tif.unknown_bits(version);
        if unknown != Tif::empty() {
            self.state = State::Finished;
            return Err(ExchangeError::UnknownTifBits(unknown).into());
        }
        // From now on every request echoes this reply and goes where it says.
        let next_url = self.url.request_url_for(&reply.qry)?;
        self.next_url = next_url;
        self.server_text = reply_text.to_owned();
        let tif = reply.tif;
        tracing::debug!(tif = %tif, "sqrl reply");
        self.last_reply = Some(reply);

        if tif.contains(Tif::TRANSIENT_ERROR) {
            if self.transient_in_a_row {
                self.state = State::Finished;
                return Err(ExchangeError::TransientRepeated.into());
            }
            self.transient_in_a_row = true;
            let command = self.last_command.clone();
            return self.request(command).map(Step::Send);
        }
        self.transient_in_a_row = false;
        // Any failure bit fails, whether or not the server also set 0x40. On a query, 0x200
        // says the current identity was replaced here: every command that acts would fail
        // with 0x240, so the exchange stops before the prompt (§5, §10 item 13).
        if tif.intersects(FAILURE_BITS) {
            self.state = State::Finished;
            return Err(tif_error(tif).into());
        }
        match self.state {
            State::Querying => self.after_query(tif),
            // Re-enabled during a login: the login goes on, on this exchange, from a prompt
            // as after a query (the waiting page says "confirm in your SQRL app" again).
            State::Committing if self.reenabling => {
                self.reenabling = false;
                self.after_query(tif)
            }
            _ => self.after_commit(tif),
        }
    }

    fn after_query(&mut self, tif: Tif) -> Result<Step, Error> {
        let known = tif.contains(Tif::CURRENT_ID_MATCH);
        let previous_match = tif.contains(Tif::PREVIOUS_ID_MATCH) && !known;
        match self.action {
            Action::Login => {
                if tif.contains(Tif::SQRL_DISABLED) {
                    // The identity is known here but disabled: the user may re-enable it on
                    // this exchange with the rescue code (`reenable`), and then log in; once
                    // only, so a server that stays disabled ends the exchange.
                    self.state = State::Finished;
                    if known && self.rescue.is_none() {
                        self.state = State::Disabled;
                        // `enable` acts on the current identity only.
                        self.presented = None;
                        self.prompt = Some(Prompt {
                            action: Action::Enable,
                            auth_domain: self.url.auth_domain().to_owned(),
                            known,
                            replaces_previous: false,
                            ips_matched: tif.contains(Tif::IPS_MATCHED),
                            ask: None,
                        });
                    }
                    return Err(ExchangeError::SqrlDisabled.into());
                }
                if previous_match {
                    self.reply_suk()?;
                } else if !known {
                    // Not this previous identity: try the next older one, else associate.
                    match self.presented {
                        Some(i) if i + 1 < self.previous_sites.len() => {
                            self.presented = Some(i + 1);
                            return self.request(Command::Query).map(Step::Send);
                        }
                        _ => self.presented = None,
                    }
                }
                if known {
                    self.presented = None;
                }
            }
            Action::Disable | Action::Enable | Action::Remove => {
                if !known {
                    self.state = State::Finished;
                    return Err(ExchangeError::UnknownIdentity.into());
                }
                if self.action != Action::Disable {
                    self.reply_suk()?;
                }
            }
        }
        let prompt = Prompt {
            action: self.action,
            auth_domain: self.url.auth_domain().to_owned(),
            known,
            replaces_previous: previous_match,
            ips_matched: tif.contains(Tif::IPS_MATCHED),
            ask: self.last_reply.as_ref().and_then(|r| r.ask.clone()),
        };
        self.prompt = Some(prompt.clone());
        self.state = State::Deciding;
        Ok(Step::Confirm(prompt))
    }

    fn after_commit(&mut self, tif: Tif) -> Result<Step, Error> {
        self.state = State::Finished;
        let reply = self.last_reply.as_ref();
        // The server has done what was asked: whatever is wrong with its link is reported
        // beside the success, never instead of it.
        let (redirect, redirect_error) = match reply.and_then(|r| r.url.as_deref()) {
            Some(url) => match self.url.resolve_link(url) {
                Ok(resolved) => (Some(resolved), None),
                Err(e) => (None, Some(Error::Proto(e))),
            },
            None if self.config.cps => (None, Some(ExchangeError::MissingCpsUrl.into())),
            None => (None, None),
        };
        let prompt = self.prompt.as_ref();
        Ok(Step::Done(Outcome {
            tif,
            redirect,
            redirect_error,
            cancel: reply.and_then(|r| r.can.clone()),
            new_association: self.action == Action::Login
                && prompt.is_some_and(|p| !p.known && !p.replaces_previous),
            rekeyed: prompt.is_some_and(|p| p.replaces_previous),
            reenabled: self.action == Action::Login && self.rescue.is_some(),
        }))
    }

    /// After a login's query ended in [`ExchangeError::SqrlDisabled`]: what re-enabling would
    /// do (a [`Prompt`] whose action is [`Action::Enable`]), to show the user before asking
    /// for the rescue code. `None` when the exchange cannot go on that way.
    pub fn reenable_prompt(&self) -> Option<&Prompt> {
        match self.state {
            State::Disabled => self.prompt.as_ref(),
            _ => None,
        }
    }

    /// Re-enables SQRL login for the identity on this same exchange (the query's nut is not
    /// spent again): `iuk` comes from the rescue code. Returns the `enable` to send, signed
    /// with `urs` over the `suk` the query's reply carried; after its reply the login goes on
    /// from a login [`Prompt`] as after a query. Only after a login's query ended in
    /// [`ExchangeError::SqrlDisabled`] ([`reenable_prompt`](Self::reenable_prompt) is `Some`).
    pub fn reenable(&mut self, iuk: Iuk) -> Result<Step, Error> {
        if self.state != State::Disabled {
            return Err(ExchangeError::OutOfOrder.into());
        }
        self.state = State::Finished;
        self.reply_suk()?;
        self.rescue = Some(iuk);
        self.reenabling = true;
        self.button = None;
        self.state = State::Committing;
        self.request(Command::Enable).map(Step::Send)
    }

    /// Runs the exchange to its end: `send` posts a request and returns the reply body (HTTP,
    /// or an in-process server in tests), `decide` answers the prompt. At most 16 requests, so
    /// a hostile server cannot keep a client looping.
    pub fn drive(
        self,
        first: Request,
        send: impl FnMut(&Request) -> Result<String, Error>,
        decide: impl FnMut(&Prompt) -> Decision,
    ) -> Result<Outcome, Error> {
        self.drive_reenabling(first, send, decide, |_| None)
    }

    /// [`drive`](Self::drive), and when a login finds SQRL disabled for the identity,
    /// `rescue` is shown the [`reenable_prompt`](Self::reenable_prompt): it returns the IUK
    /// from the user's rescue code to re-enable and log in on this exchange, or `None` to stop
    /// with [`ExchangeError::SqrlDisabled`].
    pub fn drive_reenabling(
        mut self,
        first: Request,
        mut send: impl FnMut(&Request) -> Result<String, Error>,
        mut decide: impl FnMut(&Prompt) -> Decision,
        mut rescue: impl FnMut(&Prompt) -> Option<Iuk>,
    ) -> Result<Outcome, Error> {
        let mut request = first;
        // up to 5 queries (current + 4 previous identities) and the command, each possibly
        // retried once after a transient error
        for _ in 0..16 {
            let reply = match send(&request) {
                Ok(reply) => reply,
                // The user cancelled: telling the site is a courtesy, its failure no error.
                Err(_) if self.state == State::Cancelling => {
                    self.state = State::Finished;
                    return Err(ExchangeError::Cancelled.into());
                }
                Err(e) => return Err(e),
            };
            let mut step = match self.receive(&reply) {
                Err(Error::Exchange(ExchangeError::SqrlDisabled)) => {
                    let iuk = self.reenable_prompt().cloned().and_then(|p| rescue(&p));
                    match iuk {
                        Some(iuk) => self.reenable(iuk)?,
                        None => return Err(ExchangeError::SqrlDisabled.into()),
                    }
                }
                other => other?,
            };
            loop {
                match step {
                    Step::Send(next) => {
                        request = next;
                        break;
                    }
                    Step::Confirm(prompt) => step = self.decide(decide(&prompt))?,
                    Step::Done(outcome) => return Ok(outcome),
                }
            }
        }
        Err(ExchangeError::OutOfOrder.into())
    }

    /// The user's answer to the prompt: the command that acts, or (on
    /// [`Decision::Cancel`]) the query that tells the site the user declined.
    pub fn decide(&mut self, decision: Decision) -> Result<Step, Error> {
        if self.state != State::Deciding {
            return Err(ExchangeError::OutOfOrder.into());
        }
        let asked = self.prompt.as_ref().and_then(|p| p.ask.as_ref());
        self.button = match (decision, asked) {
            (Decision::Cancel, _) => {
                self.state = State::Cancelling;
                return match self.request(Command::Query) {
                    Ok(request) => Ok(Step::Send(request)),
                    Err(_) => {
                        self.state = State::Finished;
                        Err(ExchangeError::Cancelled.into())
                    }
                };
            }
            (Decision::Button(button), _) => Some(button),
            (Decision::Approve, Some(_)) => Some(Button::Ok),
            (Decision::Approve, None) => None,
        };
        let command = match self.action {
            Action::Login => Command::Ident,
            Action::Disable => Command::Disable,
            Action::Enable => Command::Enable,
            Action::Remove => Command::Remove,
        };
        self.state = State::Committing;
        self.request(command).map(Step::Send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_made_once_from_the_exchanges_rlk_and_then_kept() {
        let ilk = Iuk::from_bytes([7; 32]).ilk();
        let expected = ilk.lock(Rlk::from_bytes([9; 32]));
        let mut lock = Lock::Pending(Rlk::from_bytes([9; 32]));
        assert_eq!(lock.made(&ilk), expected);
        assert!(matches!(lock, Lock::Made(made) if made == expected));
        // A second use (an ident sent again) carries the same suk and vuk.
        assert_eq!(lock.made(&Iuk::from_bytes([8; 32]).ilk()), expected);
    }

    #[test]
    fn an_exchange_sharing_its_keys_signs_as_one_borrowing_them() {
        let iuk = Iuk::from_bytes([3; 32]);
        let keys = Arc::new(Keys::new(
            iuk.imk(),
            iuk.ilk(),
            vec![Iuk::from_bytes([4; 32])],
        ));
        let url = || SqrlUrl::parse("sqrl://example.com/sqrl?nut=n1").unwrap();
        let start = |shared: bool| {
            let rlk = Rlk::from_bytes([5; 32]);
            let (mut exchange, first) = if shared {
                Exchange::start_shared(
                    url(),
                    Action::Login,
                    Arc::clone(&keys),
                    Config::default(),
                    rlk,
                )
            } else {
                Exchange::start(url(), Action::Login, &keys, Config::default(), rlk)
            }
            .unwrap();
            let reply = ServerParams::new("n2", Tif::IPS_MATCHED, "/sqrl?nut=n2")
                .encode()
                .unwrap();
            let second = exchange.receive(&reply).unwrap();
            (first, second)
        };
        assert_eq!(start(true), start(false));
        assert_eq!(
            keys.site_public_key("example.com", "work"),
            iuk.imk().site_key("example.com", "work").public_key()
        );
        // The shared exchange owns its keys: it outlives every borrow the caller held.
        let (exchange, _) = Exchange::start_shared(
            url(),
            Action::Login,
            Arc::clone(&keys),
            Config::default(),
            Rlk::from_bytes([5; 32]),
        )
        .unwrap();
        drop(keys);
        assert_eq!(exchange.auth_domain(), "example.com");
    }
}

//! The SQRL endpoint without IO, in three steps (the quinn-proto / rustls shape):
//!
//! 1. [`Server::receive`] parses the request and checks everything that needs no stored state
//!    (body, version, every signature with `verify_strict`, the nut, the echo of a QR URL) and
//!    says what must be loaded ([`Pending::needs`]);
//! 2. the driver loads a [`Snapshot`] in one round trip;
//! 3. [`Server::decide`] returns the reply, the [`Commit`] to attempt and the status to
//!    publish. Time and randomness are inputs, so every path is testable on a virtual clock
//!    and a transcript from another server replays by calling `decide` on a hand-built
//!    snapshot ([`Server::replay`]).
//!
//! Every refusal keeps its precise [`Refusal`]; its TIF comes from one mapping.

use std::net::IpAddr;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use sqrl_proto::{b64, Bytes32, ClientParams, Command, RequestBody, ServerParams, Tif};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::account::{AccountChange, AccountGuard, AccountId};
use crate::command::{self, Outcome};
use crate::flow::{End, Flow, FlowError, Lifetimes, Status};
use crate::nut::{FlowId, Nut, NutCodec, QrNut};
use crate::refusal::Refusal;
use crate::store::{Commit, Needs, Snapshot};
use crate::useragent::BrowserInfo;

/// Whether the site asks the user to confirm each login on the phone (`ask`), naming the
/// browser that showed the code: the check against someone relaying a victim a QR code taken
/// from their own login page. See `spec/server.md` for the trade-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskPolicy {
    /// As the protocol says: ask on query replies for known, enabled accounts; an `ident`
    /// without `btn` (a client that does not implement `ask`) is accepted; `btn=2` declines
    /// and `btn=0` (no button) is refused.
    #[default]
    Offer,
    /// Ask on every query reply, also for new users, and refuse an `ident` that does not
    /// answer with the first button. Clients without `ask` cannot log in.
    Require,
    /// Never ask.
    Off,
}

/// Where the endpoint lives and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `host[:port]` as it appears in SQRL URLs (the auth domain is the host).
    pub host: String,
    /// Path of the SQRL endpoint, e.g. `/sqrl`.
    pub path: String,
    /// The site's origin for absolute links (`https://example.com`).
    pub origin: String,
    /// Lifetimes of nuts and confirmed logins.
    pub lifetimes: Lifetimes,
    /// The login question.
    pub ask: AskPolicy,
    /// Send this `sin` with every query; each `ident` must then answer with `ins`, which is
    /// stored with the account and must stay the same at every later login.
    pub secret_index: Option<String>,
    /// Login codes issued before this time (Unix seconds) are refused as expired. A server
    /// whose flows live in memory sets it to its start time: the flows of earlier codes were
    /// forgotten with the last process, and a code used before a restart must not open a new
    /// flow after it (a nut stays single use). 0 (the default) refuses nothing.
    pub codes_not_before: u64,
}

impl Config {
    /// A configuration for `https://{host}` with the endpoint at `/sqrl`.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            path: "/sqrl".into(),
            origin: format!("https://{host}"),
            lifetimes: Lifetimes::default(),
            ask: AskPolicy::default(),
            secret_index: None,
            codes_not_before: 0,
        }
    }
}

/// A new login flow for a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    /// The flow.
    pub flow: FlowId,
    /// The QR nut.
    pub nut: String,
    /// The `sqrl://` URL for the QR code.
    pub url: String,
    /// The secret only this browser holds; it must present it to see and redeem the flow.
    pub browser_secret: String,
}

/// One POST to the SQRL endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The request's query string (holds `nut=`).
    pub query: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The peer's IP address.
    pub client_ip: IpAddr,
    /// Now, seconds since the Unix epoch.
    pub now: u64,
}

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

/// What happened to an account, for the embedding app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountNotice {
    /// A new account was created.
    Created(AccountId),
    /// The account's identity was replaced (`previous` → `current`); its id stays.
    Rekeyed {
        /// The account.
        account: AccountId,
        /// The old identity key.
        previous: Bytes32,
        /// The new identity key.
        current: Bytes32,
    },
    /// SQRL login was disabled for the account.
    Disabled(AccountId),
    /// SQRL login was enabled again.
    Enabled(AccountId),
    /// The association was removed (the account, its sessions and name are gone).
    Removed(AccountId),
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

/// Where the nut of a received request points.
#[derive(Debug, Clone)]
enum Origin {
    Qr(QrNut),
    Reply { flow: FlowId, nut: String },
}

/// A request that passed every check needing no stored state.
#[derive(Debug, Clone)]
pub struct Pending {
    pub(crate) body: RequestBody,
    pub(crate) params: ClientParams,
    origin: Origin,
    pub(crate) client_ip: IpAddr,
    pub(crate) now: u64,
}

impl Pending {
    /// What the store must load for [`Server::decide`].
    pub fn needs(&self) -> Needs {
        Needs {
            flow: self.flow(),
            idk: self.params.idk,
            pidk: self.params.pidk,
        }
    }

    /// The flow.
    pub fn flow(&self) -> FlowId {
        match &self.origin {
            Origin::Qr(qr) => qr.flow,
            Origin::Reply { flow, .. } => *flow,
        }
    }

    /// `true` for the first request of an exchange (a QR nut): the one that opens a flow.
    pub fn opens_flow(&self) -> bool {
        matches!(self.origin, Origin::Qr(_))
    }

    /// The client asked for a client-provided session (`opt=cps`).
    pub fn cps(&self) -> bool {
        self.params.opt.cps
    }

    /// The client's IP address.
    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }
}

/// A refusal found by [`Server::receive`], with what is known for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The cause.
    pub refusal: Refusal,
    /// The request asked for `opt=cps` (the reply then sends the browser back to the site).
    pub cps: bool,
}

pub(crate) fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac;
    // A 32-byte key zero-padded to the block: the same MAC as HMAC with the 32-byte key.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <hmac::Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

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

/// The SQRL endpoint's decisions: configuration and the two keys, nothing else.
pub struct Server {
    config: Config,
    codec: NutCodec,
    browser_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with its two keys: nut sealing and browser secrets.
    pub fn new(config: Config, nut_key: &[u8; 32], browser_key: &[u8; 32]) -> Self {
        Self {
            config,
            codec: NutCodec::new(nut_key),
            browser_key: Zeroizing::new(*browser_key),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `sqrl://` URL of a nut.
    pub fn url_for_nut(&self, nut: &str) -> String {
        format!("sqrl://{}{}?nut={nut}", self.config.host, self.config.path)
    }

    /// Opens a nut minted by this server (`None` for anything else).
    pub fn open_nut(&self, nut: &str) -> Option<Nut> {
        self.codec.open(nut)
    }

    /// The same-device link: the QR URL plus `can=` (where the client sends the browser when
    /// the user cancels).
    pub fn link_with_cancel(&self, url: &str, cancel: &str) -> String {
        format!("{url}&can={}", b64::encode(cancel))
    }

    /// The secret of the browser that started `flow` at `issued_at`: it authenticates both,
    /// so a forged issue time in the browser's cookie is refused like a forged flow.
    fn browser_secret(&self, flow: &FlowId, issued_at: u64) -> [u8; 32] {
        hmac(
            &self.browser_key,
            &[
                b"sqrl-rs browser secret v2",
                &flow.0,
                &issued_at.to_be_bytes(),
            ],
        )
    }

    /// `true` when `secret` is the browser secret of `flow` issued at `issued_at` (constant
    /// time).
    pub fn check_browser(&self, flow: &FlowId, issued_at: u64, secret: &str) -> bool {
        b64::decode_array::<32>(secret, "secret")
            .is_ok_and(|given| bool::from(given.ct_eq(&self.browser_secret(flow, issued_at))))
    }

    /// Starts a flow for the browser loading the login page. Stores nothing.
    pub fn start_flow(
        &self,
        browser_ip: IpAddr,
        user_agent: &str,
        now: u64,
        rng: &mut impl CryptoRngCore,
    ) -> NewFlow {
        let flow = FlowId::generate(rng);
        let nut = self.codec.mint_qr(&QrNut {
            flow,
            issued_at: now,
            browser_ip,
            browser: BrowserInfo::from_user_agent(user_agent),
        });
        NewFlow {
            flow,
            url: self.url_for_nut(&nut),
            nut,
            browser_secret: b64::encode(self.browser_secret(&flow, now)),
        }
    }

    /// Step 1: every check that needs no stored state.
    pub fn receive(&self, incoming: &Incoming<'_>) -> Result<Pending, Refused> {
        let plain = |refusal| Refused {
            refusal,
            cps: false,
        };
        let body = RequestBody::parse(incoming.body).map_err(|_| plain(Refusal::MalformedBody))?;
        let params = body.client().map_err(|_| plain(Refusal::MalformedBody))?;
        let refused = |refusal| Refused {
            refusal,
            cps: params.opt.cps,
        };
        params
            .version
            .negotiate(&sqrl_proto::version::SUPPORTED)
            .map_err(|_| refused(Refusal::UnsupportedVersion))?;
        body.verify_identity_signatures(&params)
            .map_err(|_| refused(Refusal::BadSignature))?;
        if matches!(params.command, Command::Other(_)) {
            return Err(refused(Refusal::UnsupportedCommand));
        }
        let nut = incoming
            .query
            .split('&')
            .find_map(|pair| pair.strip_prefix("nut="))
            .ok_or(refused(Refusal::MissingNut))?;
        let origin = match self.codec.open(nut).ok_or(refused(Refusal::UnknownNut))? {
            Nut::Qr(qr) => {
                // The first request echoes the very URL we issued for this nut (with or
                // without the same-device `can=`), byte for byte.
                let echoed =
                    b64::decode(body.server_text()).map_err(|_| refused(Refusal::EchoMismatch))?;
                let expected = self.url_for_nut(nut);
                let tail = echoed
                    .strip_prefix(expected.as_bytes())
                    .ok_or(refused(Refusal::EchoMismatch))?;
                let can_ok = tail.is_empty()
                    || tail
                        .strip_prefix(b"&can=")
                        .is_some_and(|c| !c.is_empty() && c.iter().all(|&b| b64::is_alphabet(b)));
                if !can_ok {
                    return Err(refused(Refusal::EchoMismatch));
                }
                if params.command != Command::Query {
                    return Err(refused(Refusal::FirstNotQuery));
                }
                if qr.issued_at < self.config.codes_not_before {
                    return Err(refused(Refusal::Expired));
                }
                Flow::scanned(&qr, params.idk, incoming.now, self.config.lifetimes)
                    .map_err(|_| refused(Refusal::Expired))?;
                Origin::Qr(qr)
            }
            Nut::Reply(flow) => Origin::Reply {
                flow,
                nut: nut.to_owned(),
            },
        };
        Ok(Pending {
            body,
            params,
            origin,
            // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; nuts keep them as
            // IPv4, so compare like with like.
            client_ip: incoming.client_ip.to_canonical(),
            now: incoming.now,
        })
    }

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
        match command::run(self, &pending, &flow, snapshot, rng) {
            Ok(outcome) => self.reply(pending, flow, expected_version, outcome, guards, rng),
            // A refused command changes nothing: the phone may still send a corrected one.
            Err((refusal, state)) => self.detached(refusal, state, cps, rng),
        }
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

    /// The reply to a refusal found before the snapshot was loaded.
    pub fn refuse(&self, refused: Refused, rng: &mut impl CryptoRngCore) -> Response {
        self.detached(refused.refusal, Tif::empty(), refused.cps, rng)
            .response
    }

    /// A reply that belongs to no flow: its nut leads nowhere, so a retry ends in a second
    /// transient error and the user is told to reload.
    fn detached(
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
                body: reply.encode().unwrap_or_default(),
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

    pub(crate) fn home(&self) -> String {
        format!("{}/", self.config.origin)
    }

    /// Builds the reply of a command that continues the flow, and the commit behind it.
    fn reply(
        &self,
        pending: Pending,
        mut flow: Flow,
        expected_version: Option<u64>,
        mut outcome: Outcome,
        guards: Vec<AccountGuard>,
        rng: &mut impl CryptoRngCore,
    ) -> Decision {
        let life = self.config.lifetimes;
        let now = pending.now;
        let cps = pending.params.opt.cps;
        let before = expected_version.map(|_| flow.status(now, life));
        // Declined: the site's second button on an `ident`, or a `query` carrying it (the
        // user cancelled at the client's own prompt).
        let declined = outcome.declined || outcome.refusal == Some(Refusal::Declined);
        if declined && flow.reject(now, life).is_err() {
            return self.detached(Refusal::FlowClosed, outcome.tif, cps, rng);
        }
        if outcome.declined {
            tracing::debug!(flow = ?flow.id(), "sqrl login declined at the client's prompt");
        }
        // `disable` and `remove` end the conversation: the page says so.
        let end = match (outcome.refusal, outcome.notice) {
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
        let body = reply.encode().unwrap_or_default();
        // Once the user was asked in this flow, every later ident must answer: a refusal in
        // between (an IP mismatch, say) must not clear the question.
        flow.replied(nut, sha256(&body), outcome.ask.is_some());
        flow.advance(expected_version);
        if let Some(refusal) = outcome.refusal {
            tracing::debug!(refusal = refusal.code(), flow = ?flow.id(), "sqrl command refused");
        }
        // A refused command changes no account.
        let (account, notice) = match outcome.refusal {
            Some(_) => (AccountChange::Keep, None),
            None => (outcome.account, outcome.notice),
        };
        let after = flow.status(now, life);
        let status = (before != Some(after)).then_some(after);
        // A login or an account change holds only if the accounts are still as read.
        let guards = if outcome.login.is_some() || account != AccountChange::Keep {
            guards
        } else {
            Vec::new()
        };
        Decision {
            response: Response {
                body,
                tif: outcome.tif,
                refusal: outcome.refusal,
                login: outcome.login,
                flow: Some(flow.id()),
            },
            commit: Some(Commit {
                flow,
                expected_version,
                account,
                guards,
            }),
            status,
            notice,
        }
    }

    /// Decides a transcript recorded against another server as if its nut were fresh, its
    /// `server` echo ours and its IP the browser's: a hand-built snapshot in which the flow
    /// is new and the accounts are `snapshot`'s. Every signature is still verified.
    pub fn replay(
        &self,
        body: &[u8],
        snapshot: Snapshot,
        now: u64,
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
            issued_at: now,
            browser_ip: ip,
            browser: BrowserInfo::from_codes(0, 0),
        };
        let pending = Pending {
            body,
            params,
            origin: Origin::Qr(qr),
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

//! The SQRL endpoint's logic without IO: every request verified, every command applied
//! atomically, every reply a TIF (`spec/protocol.md` §7-§10). Time and randomness are inputs.

use std::net::IpAddr;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use sqrl_proto::{
    b64, Ask, Button, Bytes32, ClientParams, Command, RequestBody, ServerParams, Tif,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::flow::{Flow, FlowError, Lifetimes, Status};
use crate::nut::{FlowId, Nut, NutCodec, QrNut};
use crate::store::{Account, AccountChange, Commit, Store, StoreError};
use crate::useragent::BrowserInfo;

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
    /// Ask the phone to confirm, naming the browser that asks (recommended).
    pub ask: bool,
    /// Send this `sin` with every query; each `ident` must then answer with `ins`, which is
    /// stored with the account and must stay the same at every later login.
    pub secret_index: Option<String>,
    /// Most flows opened (scanned) within one nut lifetime; beyond it new scans get a
    /// transient error. Unscanned codes cost nothing and do not count.
    pub max_open_flows: usize,
}

impl Config {
    /// A configuration for `https://{host}` with the endpoint at `/sqrl`.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            path: "/sqrl".into(),
            origin: format!("https://{host}"),
            lifetimes: Lifetimes::default(),
            ask: true,
            secret_index: None,
            max_open_flows: 100_000,
        }
    }
}

/// A new login flow for a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    /// The flow.
    pub flow: FlowId,
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
    /// The account that logged in, if the command completed a login.
    pub login: Option<Bytes32>,
    /// The flow the request belonged to.
    pub flow: Option<FlowId>,
}

/// Why the browser side was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserError {
    /// Unknown flow, or the secret does not match.
    #[error("unknown login")]
    Unknown,
    /// The flow cannot be redeemed now.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The store failed or another request won.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SQRL endpoint.
pub struct SqrlService<S> {
    config: Config,
    codec: NutCodec,
    browser_key: Zeroizing<[u8; 32]>,
    store: S,
}

impl<S> core::fmt::Debug for SqrlService<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqrlService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac;
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <hmac::Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn clock(now: u64) -> String {
    let seconds = now % 86_400;
    format!("{:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

/// Parses the body, negotiates the version and verifies `ids` (and `pids`).
fn verify_request(bytes: &[u8]) -> Result<(RequestBody, ClientParams), Tif> {
    let body = RequestBody::parse(bytes).map_err(|_| CLIENT_FAILED)?;
    let params = body.client().map_err(|_| CLIENT_FAILED)?;
    params
        .version
        .negotiate(&sqrl_proto::version::SUPPORTED)
        .map_err(|_| UNSUPPORTED)?;
    body.verify_identity_signatures(&params)
        .map_err(|_| CLIENT_FAILED)?;
    Ok((body, params))
}

/// What the checks before a command found.
struct Context {
    params: ClientParams,
    body: RequestBody,
    flow: Flow,
    expected_version: Option<u64>,
    ips_matched: bool,
}

/// The result of a command before its reply is built.
struct Effect {
    tif: Tif,
    account: AccountChange,
    suk: Option<Bytes32>,
    url: Option<String>,
    ask: Option<Ask>,
    sin: Option<String>,
    login: Option<Bytes32>,
    declined: bool,
}

impl Effect {
    fn new(tif: Tif) -> Self {
        Self {
            tif,
            account: AccountChange::Keep,
            suk: None,
            url: None,
            ask: None,
            sin: None,
            login: None,
            declined: false,
        }
    }
}

const FAILED: Tif = Tif::from_bits(0x40);
const CLIENT_FAILED: Tif = Tif::from_bits(0xC0);
const TRANSIENT: Tif = Tif::from_bits(0x60);
const UNSUPPORTED: Tif = Tif::from_bits(0x50);

impl<S: Store> SqrlService<S> {
    /// A service with its two keys (nut sealing, browser secrets) and a store.
    pub fn new(config: Config, nut_key: &[u8; 32], browser_key: &[u8; 32], store: S) -> Self {
        Self {
            config,
            codec: NutCodec::new(nut_key),
            browser_key: Zeroizing::new(*browser_key),
            store,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn url_for(&self, nut: &str) -> String {
        format!("sqrl://{}{}?nut={nut}", self.config.host, self.config.path)
    }

    /// The `sqrl://` URL of a QR nut.
    pub fn url_for_nut(&self, nut: &str) -> String {
        self.url_for(nut)
    }

    /// Opens a nut minted by this service (`None` for anything else).
    pub fn open_nut(&self, nut: &str) -> Option<Nut> {
        self.codec.open(nut)
    }

    /// The same-device link: the QR URL plus `can=` (where the client sends the browser when
    /// the user cancels).
    pub fn link_with_cancel(&self, url: &str, cancel: &str) -> String {
        format!("{url}&can={}", b64::encode(cancel))
    }

    fn browser_secret(&self, flow: &FlowId) -> [u8; 32] {
        hmac(&self.browser_key, &[b"sqrl-rs browser secret", &flow.0])
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
            url: self.url_for(&nut),
            browser_secret: b64::encode(self.browser_secret(&flow)),
        }
    }

    fn check_browser(&self, flow: &FlowId, secret: &str) -> Result<(), BrowserError> {
        let given = b64::decode_array::<32>(secret, "secret").map_err(|_| BrowserError::Unknown)?;
        if bool::from(given.ct_eq(&self.browser_secret(flow))) {
            Ok(())
        } else {
            Err(BrowserError::Unknown)
        }
    }

    /// What the waiting page should show (needs the browser's secret).
    pub fn status(
        &self,
        flow: &FlowId,
        secret: &str,
        issued_at: Option<u64>,
        now: u64,
    ) -> Result<Status, BrowserError> {
        self.check_browser(flow, secret)?;
        let life = self.config.lifetimes;
        match self.store.flow(flow)? {
            Some(stored) => Ok(stored.status(now, life)),
            None => match issued_at {
                Some(t) if now < t.saturating_add(life.nut) => Ok(Status::New),
                _ => Ok(Status::Expired),
            },
        }
    }

    /// The browser that holds the secret turns the confirmed login into its session, once.
    pub fn redeem(&self, flow: &FlowId, secret: &str, now: u64) -> Result<Bytes32, BrowserError> {
        self.check_browser(flow, secret)?;
        let mut stored = self.store.flow(flow)?.ok_or(BrowserError::Unknown)?;
        let version = stored.version;
        let account = stored.redeem(now, self.config.lifetimes)?;
        stored.version = version + 1;
        self.store.update_flow(stored, version)?;
        Ok(account)
    }

    /// Redeems a CPS token (the `url=` a client opened), once.
    pub fn redeem_cps(&self, token: &str, now: u64) -> Result<Bytes32, BrowserError> {
        let bytes = b64::decode_array::<32>(token, "token").map_err(|_| BrowserError::Unknown)?;
        let flow = FlowId(bytes[..16].try_into().map_err(|_| BrowserError::Unknown)?);
        let mut stored = self.store.flow(&flow)?.ok_or(BrowserError::Unknown)?;
        let matches = stored
            .cps_token_hash
            .is_some_and(|h| bool::from(h.ct_eq(&sha256(token))));
        if !matches {
            return Err(BrowserError::Unknown);
        }
        let version = stored.version;
        let account = stored.redeem_cps(now, self.config.lifetimes)?;
        stored.version = version + 1;
        self.store.update_flow(stored, version)?;
        Ok(account)
    }

    /// A reply that belongs to no flow: its nut leads nowhere, so a retry ends in a second
    /// transient error and the user is told to reload.
    fn detached(&self, tif: Tif, rng: &mut impl CryptoRngCore) -> Response {
        let nut = NutCodec::mint_reply(&FlowId::generate(rng), rng);
        let reply = ServerParams::new(nut.clone(), tif, format!("{}?nut={nut}", self.config.path));
        Response {
            body: reply.encode().unwrap_or_default(),
            tif,
            login: None,
            flow: None,
        }
    }

    /// Handles one POST to the SQRL endpoint. Never panics; every failure is a TIF.
    pub fn handle(&self, incoming: &Incoming<'_>, rng: &mut impl CryptoRngCore) -> Response {
        let context = match self.check(incoming) {
            Ok(context) => context,
            Err(tif) => return self.detached(tif, rng),
        };
        let flow_id = context.flow.id;
        let effect = match self.command(&context, incoming.now) {
            Ok(effect) => effect,
            Err(tif) => return self.detached(tif, rng),
        };
        match self.reply(context, effect, incoming.now, rng) {
            Ok(response) => response,
            // Another request on this nut won the race, or the store failed: nothing changed.
            Err(StoreError::Conflict) => self.detached(TRANSIENT, rng),
            Err(StoreError::Backend(e)) => {
                tracing::error!(error = %e, flow = ?flow_id, "store failure");
                self.detached(TRANSIENT, rng)
            }
        }
    }

    /// Every check that does not depend on the command: body, signatures, nut, echo, flow.
    fn check(&self, incoming: &Incoming<'_>) -> Result<Context, Tif> {
        let (body, params) = verify_request(incoming.body)?;
        let nut = incoming
            .query
            .split('&')
            .find_map(|pair| pair.strip_prefix("nut="))
            .ok_or(CLIENT_FAILED)?;
        let life = self.config.lifetimes;
        let (flow, expected_version) = match self.codec.open(nut).ok_or(CLIENT_FAILED)? {
            Nut::Qr(qr) => {
                // The first request echoes the very URL we issued for this nut (with or
                // without the same-device `can=`), byte for byte.
                let echoed = b64::decode(body.server_text()).map_err(|_| CLIENT_FAILED)?;
                let expected = self.url_for(nut);
                let tail = echoed
                    .strip_prefix(expected.as_bytes())
                    .ok_or(CLIENT_FAILED)?;
                let can_ok = tail.is_empty()
                    || tail
                        .strip_prefix(b"&can=")
                        .is_some_and(|c| !c.is_empty() && c.iter().all(|&b| b64::is_alphabet(b)));
                if !can_ok {
                    return Err(CLIENT_FAILED);
                }
                if self.store.flow(&qr.flow).map_err(|_| TRANSIENT)?.is_some() {
                    return Err(TRANSIENT); // this QR nut was used already
                }
                if params.command != Command::Query {
                    return Err(CLIENT_FAILED); // an exchange starts with a query
                }
                // Open: issued less than one lifetime ago (a nut expires at issue + lifetime).
                let since = incoming.now.saturating_sub(life.nut).saturating_add(1);
                if self.store.count_flows_since(since).map_err(|_| TRANSIENT)?
                    >= self.config.max_open_flows
                {
                    return Err(TRANSIENT); // too many logins in progress: try again shortly
                }
                let flow =
                    Flow::scanned(&qr, params.idk, incoming.now, life).map_err(|_| TRANSIENT)?;
                (flow, None)
            }
            Nut::Reply(id) => {
                let flow = self
                    .store
                    .flow(&id)
                    .map_err(|_| TRANSIENT)?
                    .ok_or(TRANSIENT)?;
                if !bool::from(flow.expected_nut.as_bytes().ct_eq(nut.as_bytes())) {
                    return Err(TRANSIENT); // used or stale
                }
                if !bool::from(flow.reply_hash.ct_eq(&sha256(body.server_text()))) {
                    return Err(CLIENT_FAILED); // not the reply we sent
                }
                if flow.idk != params.idk {
                    return Err(Tif::BAD_ID_ASSOCIATION | CLIENT_FAILED);
                }
                match flow.check_open(incoming.now, life) {
                    Ok(()) => {}
                    Err(FlowError::Expired) => return Err(TRANSIENT),
                    Err(FlowError::WrongState) => return Err(FAILED),
                }
                let version = flow.version;
                (flow, Some(version))
            }
        };
        Ok(Context {
            ips_matched: flow.browser_ip == incoming.client_ip,
            params,
            body,
            flow,
            expected_version,
        })
    }

    fn command(&self, c: &Context, now: u64) -> Result<Effect, Tif> {
        let p = &c.params;
        let ip_bit = if c.ips_matched {
            Tif::IPS_MATCHED
        } else {
            Tif::empty()
        };
        fn store<T>(r: Result<T, StoreError>) -> Result<T, Tif> {
            r.map_err(|_| TRANSIENT)
        }
        if store(self.store.is_superseded(&p.idk))? {
            let failed = if p.command == Command::Query {
                Tif::empty()
            } else {
                FAILED
            };
            return Ok(Effect::new(Tif::IDENTITY_SUPERSEDED | ip_bit | failed));
        }
        let current = store(self.store.account(&p.idk))?;
        let previous = match (&current, p.pidk) {
            (None, Some(pidk)) => store(self.store.account(&pidk))?,
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
        // The stored SUK goes back when asked, when the account is disabled, or when a
        // previous identity matched (the client needs it to sign urs).
        let suk = match (&current, &previous) {
            (Some(a), _) if a.disabled || p.opt.suk => Some(a.suk),
            (None, Some(prev)) => Some(prev.suk),
            _ => None,
        };
        let mut effect = Effect {
            suk,
            ..Effect::new(tif)
        };
        if p.command == Command::Query {
            if self.config.ask && !tif.contains(Tif::SQRL_DISABLED) {
                effect.ask = Some(self.login_question(&c.flow));
            }
            effect.sin = self.config.secret_index.clone();
            return Ok(effect);
        }
        if !c.ips_matched && !p.opt.noiptest {
            effect.tif |= FAILED;
            return Ok(effect);
        }
        match &p.command {
            Command::Ident => self.ident(c, current, previous, effect, now),
            Command::Disable => {
                let mut account = current.ok_or(FAILED | tif)?;
                account.disabled = true;
                effect.suk = Some(account.suk);
                effect.tif |= Tif::SQRL_DISABLED;
                effect.account = AccountChange::Put(account);
                effect.url = p.opt.cps.then(|| format!("{}/", self.config.origin));
                Ok(effect)
            }
            Command::Enable | Command::Remove => {
                let mut account = current.ok_or(FAILED | tif)?;
                c.body
                    .verify_unlock_signature(&account.vuk)
                    .map_err(|_| CLIENT_FAILED | tif)?;
                effect.suk = None;
                effect.url = p.opt.cps.then(|| format!("{}/", self.config.origin));
                if p.command == Command::Enable {
                    account.disabled = false;
                    effect.tif = effect.tif.without(Tif::SQRL_DISABLED);
                    effect.account = AccountChange::Put(account);
                } else {
                    effect.tif = effect
                        .tif
                        .without(Tif::CURRENT_ID_MATCH | Tif::SQRL_DISABLED);
                    effect.account = AccountChange::Remove(account.idk);
                }
                Ok(effect)
            }
            _ => Err(UNSUPPORTED | tif),
        }
    }

    /// The question that names the browser which opened the login page: the defence against
    /// someone showing the user a QR code taken from their own login page.
    fn login_question(&self, flow: &Flow) -> Ask {
        let host = self.config.host.split(':').next().unwrap_or_default();
        let message = format!(
            "Log in to {host} in {} from {}? The login page was opened at {}.",
            flow.browser,
            flow.browser_ip,
            clock(flow.issued_at)
        );
        Ask::new(message.clone())
            .with_button("Log in", None)
            .and_then(|a| a.with_button("Cancel", None))
            .unwrap_or_else(|_| Ask::new(message))
    }

    fn ident(
        &self,
        c: &Context,
        current: Option<Account>,
        previous: Option<Account>,
        mut effect: Effect,
        now: u64,
    ) -> Result<Effect, Tif> {
        let p = &c.params;
        if c.flow.asked {
            match p.btn {
                None => return Err(CLIENT_FAILED | effect.tif),
                Some(Button::Second) => {
                    effect.declined = true;
                    effect.tif |= FAILED;
                    return Ok(effect);
                }
                Some(_) => {}
            }
        }
        // With a secret index, every ident carries `ins`; a known account's must match the
        // stored one, and on a re-key the previous identity's `pins` must match instead.
        let ins = match &self.config.secret_index {
            Some(_) => Some(p.ins.ok_or(CLIENT_FAILED | effect.tif)?),
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
                effect.tif |= FAILED;
                return Ok(effect);
            }
            (Some(account), _) => {
                if ins.is_some() && !matches(account.ins, ins) {
                    return Err(CLIENT_FAILED | effect.tif);
                }
                let account = with_options(account);
                effect.account = AccountChange::Put(account.clone());
                account
            }
            (None, Some(old)) => {
                c.body
                    .verify_unlock_signature(&old.vuk)
                    .map_err(|_| CLIENT_FAILED | effect.tif)?;
                let (suk, vuk) = p.suk.zip(p.vuk).ok_or(CLIENT_FAILED | effect.tif)?;
                if ins.is_some() && !matches(old.ins, p.pins) {
                    return Err(CLIENT_FAILED | effect.tif);
                }
                if old.disabled {
                    effect.tif |= Tif::SQRL_DISABLED | FAILED;
                    return Ok(effect);
                }
                let account = with_options(Account {
                    idk: p.idk,
                    suk,
                    vuk,
                    ..old.clone()
                });
                effect.account = AccountChange::Rekey {
                    previous: old.idk,
                    account: account.clone(),
                };
                effect.tif = effect.tif.without(Tif::PREVIOUS_ID_MATCH);
                effect.suk = None;
                account
            }
            (None, None) => {
                let (suk, vuk) = p.suk.zip(p.vuk).ok_or(CLIENT_FAILED | effect.tif)?;
                let account = with_options(Account {
                    idk: p.idk,
                    suk,
                    vuk,
                    disabled: false,
                    sqrlonly: false,
                    hardlock: false,
                    created_at: now,
                    ins: None,
                });
                effect.account = AccountChange::Put(account.clone());
                account
            }
        };
        effect.tif |= Tif::CURRENT_ID_MATCH;
        effect.login = Some(account.idk);
        Ok(effect)
    }

    fn reply(
        &self,
        c: Context,
        mut effect: Effect,
        now: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Response, StoreError> {
        let life = self.config.lifetimes;
        let mut flow = c.flow;
        let command = c.params.command.clone();
        // Apply the flow transition the command implies.
        if effect.declined && flow.reject(now, life).is_err() {
            return Ok(self.detached(FAILED, rng));
        }
        if command == Command::Ident && !effect.tif.contains(FAILED) {
            if let Some(account) = effect.login {
                {
                    if flow.confirm(account, c.params.opt.cps, now, life).is_err() {
                        return Ok(self.detached(FAILED, rng));
                    }
                    if c.params.opt.cps {
                        let mut token = [0u8; 32];
                        token[..16].copy_from_slice(&flow.id.0);
                        rng.fill_bytes(&mut token[16..]);
                        let token = b64::encode(token);
                        flow.cps_token_hash = Some(sha256(&token));
                        effect.url = Some(format!(
                            "{}{}/cps?token={token}",
                            self.config.origin, self.config.path
                        ));
                    }
                }
            }
        }
        if c.params.opt.cps && command != Command::Query && effect.url.is_none() {
            // A failed command with CPS sends the browser back to the site.
            effect.url = Some(format!("{}/", self.config.origin));
        }
        let nut = NutCodec::mint_reply(&flow.id, rng);
        let mut reply = ServerParams::new(
            nut.clone(),
            effect.tif,
            format!("{}?nut={nut}", self.config.path),
        );
        reply.suk = effect.suk;
        reply.url = effect.url;
        reply.ask = effect.ask.clone();
        reply.sin = effect.sin;
        let body = reply.encode().unwrap_or_default();
        flow.expected_nut = nut;
        flow.reply_hash = sha256(&body);
        flow.asked = effect.ask.is_some();
        flow.version = c.expected_version.map_or(0, |v| v + 1);
        // A failed command changes no account.
        let account = if effect.tif.contains(FAILED) {
            AccountChange::Keep
        } else {
            effect.account
        };
        let login = if effect.tif.contains(FAILED) {
            None
        } else {
            effect.login
        };
        let flow_id = flow.id;
        self.store.commit(Commit {
            flow,
            expected_version: c.expected_version,
            account,
        })?;
        Ok(Response {
            body,
            tif: effect.tif,
            login,
            flow: Some(flow_id),
        })
    }
}

#[cfg(feature = "danger-test-hooks")]
impl<S: Store> SqrlService<S> {
    /// **DANGER, tests only** (feature `danger-test-hooks`): handles a request as if its nut
    /// were fresh, its `server` echo ours and its IP the browser's — every signature is still
    /// verified. For replaying transcripts recorded against other servers.
    pub fn danger_replay(&self, body: &[u8], now: u64, rng: &mut impl CryptoRngCore) -> Response {
        let (body, params) = match verify_request(body) {
            Ok(checked) => checked,
            Err(tif) => return self.detached(tif, rng),
        };
        let ip = IpAddr::from([127, 0, 0, 1]);
        let flow = Flow {
            id: FlowId::generate(rng),
            version: 0,
            issued_at: now,
            browser_ip: ip,
            browser: BrowserInfo::from_codes(0, 0),
            idk: params.idk,
            phase: crate::flow::Phase::Scanned,
            expected_nut: String::new(),
            reply_hash: [0; 32],
            asked: false,
            cps_token_hash: None,
        };
        let context = Context {
            params,
            body,
            flow,
            expected_version: None,
            ips_matched: true,
        };
        let effect = match self.command(&context, now) {
            Ok(effect) => effect,
            Err(tif) => return self.detached(tif, rng),
        };
        self.reply(context, effect, now, rng)
            .unwrap_or_else(|_| self.detached(TRANSIENT, rng))
    }
}

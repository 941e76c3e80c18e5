//! A small SQRL server written for the client's tests: in memory, one site, no code from the
//! server crate. It checks what a strict server checks (echoed `server` text byte for byte,
//! every signature with `verify_strict`, single-use nuts, `urs` against the stored `vuk`) and
//! records what it saw, so tests can assert on the client's behaviour.
// A test helper module: `pub` is for the tests that include it, not an API.
#![allow(unreachable_pub)]

use std::collections::{HashMap, HashSet};

use sqrl_proto::{b64, Ask, Button, Bytes32, Command, RequestBody, ServerEcho, ServerParams, Tif};

#[derive(Debug, Clone)]
pub struct Account {
    pub suk: Bytes32,
    pub vuk: Bytes32,
    pub disabled: bool,
    pub logins: u32,
}

#[derive(Debug, Default)]
pub struct MiniServer {
    pub host: String,
    pub accounts: HashMap<Bytes32, Account>,
    pub superseded: HashSet<Bytes32>,
    /// nut → the exact `server` text the next request must echo.
    nuts: HashMap<String, String>,
    counter: u64,
    /// Reply with a transient error this many more times.
    pub transient: u32,
    /// Put this `ask` in query replies.
    pub ask: Option<Ask>,
    /// Put this `sin` in query replies.
    pub sin: Option<String>,
    /// Clear the IP-matched bit.
    pub ip_mismatch: bool,
    /// Extra TIF bits to add to every reply (to test unknown bits).
    pub extra_tif: u32,
    /// What the server saw, one line per request: "cmd tif".
    pub log: Vec<String>,
    /// `btn` values received with non-query commands.
    pub buttons: Vec<Option<Button>>,
    /// `btn` values received with queries (`btn=2`: the user cancelled at the client).
    pub query_buttons: Vec<Option<Button>>,
    /// `ins` values received.
    pub ins: Vec<Bytes32>,
    /// CPS tokens issued.
    pub cps_tokens: Vec<String>,
    /// Return a previous identity's `suk` only when asked with `opt=suk` (some servers do
    /// not volunteer it).
    pub withhold_unasked_suk: bool,
    /// Send this `url=` (as is) in every reply to a non-query command.
    pub url_override: Option<String>,
    /// `opt=suk` seen, per request.
    pub asked_suk: Vec<bool>,
}

impl MiniServer {
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            ..Self::default()
        }
    }

    fn nut(&mut self) -> String {
        self.counter += 1;
        b64::encode(self.counter.to_be_bytes())
    }

    /// A fresh SQRL URL for a login page.
    pub fn issue_url(&mut self) -> String {
        let nut = self.nut();
        let url = format!("sqrl://{}/sqrl?nut={nut}", self.host);
        self.nuts.insert(nut, b64::encode(&url));
        url
    }

    fn reply(&mut self, tif: Tif, build: impl FnOnce(&mut ServerParams)) -> String {
        let nut = self.nut();
        let mut params = ServerParams::new(
            nut.clone(),
            tif | Tif::from_bits(self.extra_tif),
            format!("/sqrl?nut={nut}"),
        );
        build(&mut params);
        let text = params.encode().unwrap();
        self.nuts.insert(nut, text.clone());
        text
    }

    /// Handles one POST to `path_and_query`, returning the reply body.
    pub fn handle(&mut self, path_and_query: &str, body: &str) -> String {
        let (text, cmd) = self.process(path_and_query, body);
        let tif = ServerParams::decode(&text)
            .map(|p| p.tif.to_string())
            .unwrap_or_default();
        self.log.push(format!("{cmd} {tif}"));
        text
    }

    fn process(&mut self, path_and_query: &str, body: &str) -> (String, String) {
        let failure = Tif::COMMAND_FAILED | Tif::CLIENT_FAILURE;
        let Ok(body) = RequestBody::parse(body.as_bytes()) else {
            return (self.reply(failure, |_| {}), "malformed".into());
        };
        let Ok(params) = body.client() else {
            return (self.reply(failure, |_| {}), "malformed".into());
        };
        let cmd = params.command.as_str().to_owned();
        if body.verify_identity_signatures(&params).is_err() {
            return (self.reply(failure, |_| {}), cmd);
        }
        let nut = path_and_query
            .split("nut=")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let Some(expected) = self.nuts.remove(&nut) else {
            return (
                self.reply(Tif::TRANSIENT_ERROR | Tif::COMMAND_FAILED, |_| {}),
                cmd,
            );
        };
        if body.server_text() != expected || body.server().is_err() {
            return (self.reply(failure, |_| {}), cmd);
        }
        if self.transient > 0 {
            self.transient -= 1;
            return (
                self.reply(Tif::TRANSIENT_ERROR | Tif::COMMAND_FAILED, |_| {}),
                cmd,
            );
        }
        if let Some(ins) = params.ins {
            self.ins.push(ins);
        }
        let asked = matches!(body.server(), Ok(ServerEcho::Reply(ref r)) if r.ask.is_some());
        let mut tif = if self.ip_mismatch {
            Tif::empty()
        } else {
            Tif::IPS_MATCHED
        };
        if self.superseded.contains(&params.idk) {
            tif |= Tif::IDENTITY_SUPERSEDED;
            if params.command != Command::Query {
                tif |= Tif::COMMAND_FAILED;
            }
            return (self.reply(tif, |_| {}), cmd);
        }
        let current = self.accounts.get(&params.idk).cloned();
        let previous = params.pidk.and_then(|p| self.accounts.get(&p).cloned());
        if current.is_some() {
            tif |= Tif::CURRENT_ID_MATCH;
        }
        if previous.is_some() {
            tif |= Tif::PREVIOUS_ID_MATCH;
        }
        if current.as_ref().is_some_and(|a| a.disabled) {
            tif |= Tif::SQRL_DISABLED;
        }
        let mut suk = None;
        if current.as_ref().is_some_and(|a| a.disabled) || (params.opt.suk && current.is_some()) {
            suk = current.as_ref().map(|a| a.suk);
        }
        self.asked_suk.push(params.opt.suk);
        if current.is_none() && (params.opt.suk || !self.withhold_unasked_suk) {
            if let Some(p) = &previous {
                suk = Some(p.suk);
            }
        }
        let mut url = None;
        match params.command {
            Command::Query => self.query_buttons.push(params.btn),
            Command::Ident => {
                if asked {
                    self.buttons.push(params.btn);
                    if params.btn.is_none() {
                        return (self.reply(failure, |_| {}), cmd);
                    }
                }
                if tif.contains(Tif::SQRL_DISABLED) {
                    tif |= Tif::COMMAND_FAILED;
                } else if let Some(account) = self.accounts.get_mut(&params.idk) {
                    account.logins += 1;
                } else if let (Some(pidk), Some(old)) = (params.pidk, previous) {
                    let (Some(new_suk), Some(new_vuk)) = (params.suk, params.vuk) else {
                        return (self.reply(failure, |_| {}), cmd);
                    };
                    if body.verify_unlock_signature(&old.vuk).is_err() {
                        return (self.reply(failure, |_| {}), cmd);
                    }
                    self.accounts.remove(&pidk);
                    self.superseded.insert(pidk);
                    self.accounts.insert(
                        params.idk,
                        Account {
                            suk: new_suk,
                            vuk: new_vuk,
                            disabled: false,
                            logins: 1,
                        },
                    );
                    tif = tif.without(Tif::PREVIOUS_ID_MATCH) | Tif::CURRENT_ID_MATCH;
                } else {
                    let (Some(suk), Some(vuk)) = (params.suk, params.vuk) else {
                        return (self.reply(failure, |_| {}), cmd);
                    };
                    self.accounts.insert(
                        params.idk,
                        Account {
                            suk,
                            vuk,
                            disabled: false,
                            logins: 1,
                        },
                    );
                    tif |= Tif::CURRENT_ID_MATCH;
                }
                if params.opt.cps && !tif.contains(Tif::COMMAND_FAILED) {
                    let token = self.nut();
                    self.cps_tokens.push(token.clone());
                    url = Some(format!("https://{}/cps?token={token}", self.host));
                }
            }
            Command::Disable => match self.accounts.get_mut(&params.idk) {
                Some(account) => {
                    account.disabled = true;
                    tif |= Tif::SQRL_DISABLED;
                    suk = Some(account.suk);
                }
                None => tif |= Tif::COMMAND_FAILED,
            },
            Command::Enable | Command::Remove => {
                let Some(account) = current else {
                    return (self.reply(tif | Tif::COMMAND_FAILED, |_| {}), cmd);
                };
                if body.verify_unlock_signature(&account.vuk).is_err() {
                    return (self.reply(failure | tif, |_| {}), cmd);
                }
                if params.command == Command::Enable {
                    if let Some(a) = self.accounts.get_mut(&params.idk) {
                        a.disabled = false;
                    }
                    tif = tif.without(Tif::SQRL_DISABLED);
                    suk = None;
                } else {
                    self.accounts.remove(&params.idk);
                    tif = tif.without(Tif::CURRENT_ID_MATCH | Tif::SQRL_DISABLED);
                    suk = None;
                }
            }
            Command::Other(_) => tif |= Tif::FUNCTION_NOT_SUPPORTED | Tif::COMMAND_FAILED,
        }
        if params.opt.cps && params.command != Command::Query && url.is_none() {
            url = Some(format!("https://{}/account", self.host));
        }
        if params.command != Command::Query && self.url_override.is_some() {
            url = self.url_override.clone();
        }
        let ask = (params.command == Command::Query)
            .then(|| self.ask.clone())
            .flatten();
        let sin = (params.command == Command::Query)
            .then(|| self.sin.clone())
            .flatten();
        let text = self.reply(tif, |p| {
            p.suk = suk;
            p.url = url;
            p.ask = ask;
            p.sin = sin;
        });
        (text, cmd)
    }
}

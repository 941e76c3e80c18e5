//! The phone: the real client driven over a transport, and a phone driven by hand.

use super::*;

/// The query string of a URL (after `?`; empty without one).
pub fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

/// An identity's keys (no previous identities).
pub fn keys(iuk: &Iuk) -> Keys {
    Keys::new(iuk.imk(), iuk.ilk(), vec![])
}

/// The identity's public key for [`HOST`].
pub fn idk_of(imk: &Imk) -> Bytes32 {
    imk.site_key(HOST, "").public_key()
}

/// Drives the real client's exchange over `t`, every request from `phone_ip`.
pub fn drive<T: Transport>(
    t: &T,
    url: &str,
    keys: &Keys,
    action: Action,
    config: ClientConfig,
    phone_ip: IpAddr,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, sqrl_client::Error> {
    let (exchange, first) = Exchange::start(
        SqrlUrl::parse(url).unwrap(),
        action,
        keys,
        config,
        Rlk::generate(&mut OsRng),
    )?;
    let send = |request: &sqrl_client::exchange::Request| {
        Ok(t.post(query_of(&request.url), request.body.as_bytes(), phone_ip))
    };
    exchange.drive(first, send, decide)
}

/// [`drive`] for a login with the client's defaults, the phone on the browser's network.
pub fn login_with<T: Transport>(
    t: &T,
    url: &str,
    keys: &Keys,
    decide: impl FnMut(&Prompt) -> Decision,
) -> Result<Outcome, sqrl_client::Error> {
    drive(
        t,
        url,
        keys,
        Action::Login,
        ClientConfig::default(),
        browser_ip(),
        decide,
    )
}

/// `action` with the real client on a new code, phone and browser on one network,
/// answering any question with the first button.
pub fn act<T: Transport>(
    t: &T,
    keys: &Keys,
    action: Action,
) -> (Page, Result<Outcome, sqrl_client::Error>) {
    let page = t.start();
    let outcome = drive(
        t,
        &page.url,
        keys,
        action,
        ClientConfig::default(),
        browser_ip(),
        |_| Decision::Button(Button::First),
    );
    (page, outcome)
}

/// A login with the real client on a new code (see [`act`]).
pub fn log_in<T: Transport>(t: &T, keys: &Keys) -> (Page, Outcome) {
    let (page, outcome) = act(t, keys, Action::Login);
    (page, outcome.unwrap())
}

/// A phone driven by hand: it signs whatever it is told to, as a faithful or a hostile client.
#[derive(Clone)]
pub struct Phone {
    /// The identity's key for [`HOST`].
    pub site: SiteKey,
    /// The query string of the next request (`nut=…`).
    pub query: String,
    /// What the next request echoes as `server`.
    pub server_text: String,
    /// Where the requests come from.
    pub ip: IpAddr,
}

impl Phone {
    /// The identity `imk` scans `page`'s code, from the browser's network.
    pub fn scan(page: &Page, imk: &Imk) -> Self {
        Self {
            site: imk.site_key(HOST, ""),
            query: page.query(),
            server_text: b64::encode(&page.url),
            ip: browser_ip(),
        }
    }

    /// A new code from `t`, scanned by `imk`.
    pub fn new<T: Transport>(t: &T, imk: &Imk) -> Self {
        Self::scan(&t.start(), imk)
    }

    /// The parameters of `command`; an `ident` carries new unlock keys and `btn=1`.
    pub fn params(&self, command: Command) -> ClientParams {
        let mut p = ClientParams::new(command, self.site.public_key());
        if p.command == Command::Ident {
            let suk = Bytes32([5; 32]);
            p.suk = Some(suk);
            p.vuk = Some(
                Iuk::from_bytes([6; 32])
                    .unlock_request_signing_key(&suk)
                    .verify_key(),
            );
            p.btn = Some(Button::First);
        }
        p
    }

    /// A body signed by this identity, echoing `server_text`.
    pub fn body(&self, params: &ClientParams) -> String {
        let client = params.encode().unwrap();
        let ids = self.site.sign(&signing_input(&client, &self.server_text));
        RequestBody::new(client, self.server_text.clone(), &ids, None, None).encode()
    }

    /// Sends a body: the reply text.
    pub fn send<T: Transport>(&self, t: &T, body: &str) -> String {
        t.post(&self.query, body.as_bytes(), self.ip)
    }

    /// Sends a body: the reply.
    pub fn reply<T: Transport>(&self, t: &T, body: &str) -> ServerParams {
        ServerParams::decode(&self.send(t, body)).unwrap()
    }

    /// Sends a body: the reply's TIF.
    pub fn tif<T: Transport>(&self, t: &T, body: &str) -> u32 {
        self.reply(t, body).tif.bits()
    }

    /// Continues from `reply` like a client: echo it, use its `qry`.
    pub fn follow(&mut self, reply: &str) {
        let parsed = ServerParams::decode(reply).unwrap();
        self.server_text = reply.to_owned();
        self.query = query_of(&parsed.qry).to_owned();
    }

    /// Sends `params` and follows a successful reply: the TIF and the body sent.
    pub fn step_with<T: Transport>(&mut self, t: &T, params: &ClientParams) -> (u32, String) {
        let body = self.body(params);
        let reply = self.send(t, &body);
        let tif = ServerParams::decode(&reply).unwrap().tif;
        if !tif.contains(Tif::COMMAND_FAILED) {
            self.follow(&reply);
        }
        (tif.bits(), body)
    }

    /// Sends `command` with default parameters and follows a successful reply.
    pub fn step<T: Transport>(&mut self, t: &T, command: Command) -> (u32, String) {
        let params = self.params(command);
        self.step_with(t, &params)
    }
}

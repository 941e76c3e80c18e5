//! The battery's client: throwaway identities, and requests built right or deliberately
//! wrong. No IO.

use rand_core::OsRng;
use sqrl_client::keys::{IdentityLock, Iuk, Rlk, SiteKey};
use sqrl_proto::{
    b64, signing_input, Button, Bytes32, ClientParams, Command, Options, RequestBody, ServerParams,
    SqrlUrl,
};

/// A throwaway identity: its unlock key and the lock it gives every new account.
pub(crate) struct Person {
    iuk: Iuk,
    pub(crate) lock: IdentityLock,
}

impl Person {
    /// A random identity.
    pub(crate) fn random() -> Self {
        let iuk = Iuk::generate(&mut OsRng);
        let lock = iuk.ilk().lock(Rlk::generate(&mut OsRng));
        Self { iuk, lock }
    }

    fn site(&self, url: &SqrlUrl) -> SiteKey {
        self.iuk.imk().site_key(url.auth_domain(), "")
    }
}

/// One exchange in progress: where the next request goes and what it echoes.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) url: SqrlUrl,
    pub(crate) next: String,
    pub(crate) echo: String,
    pub(crate) last: Option<ServerParams>,
}

impl Session {
    /// The start of an exchange on the code `code`.
    pub(crate) fn start(code: &str) -> Result<Self, String> {
        let url =
            SqrlUrl::parse(code.trim()).map_err(|e| format!("not a SQRL URL ({e}): {code}"))?;
        Ok(Self {
            next: url.request_url(),
            echo: b64::encode(url.as_str()),
            url,
            last: None,
        })
    }

    /// Moves on after a reply that decoded.
    pub(crate) fn advance(&mut self, text: &str, reply: ServerParams) -> Result<(), String> {
        self.next = self
            .url
            .request_url_for(&reply.qry)
            .map_err(|e| format!("cannot follow qry={}: {e}", reply.qry))?;
        self.echo = text.trim_end_matches(['\r', '\n']).to_owned();
        self.last = Some(reply);
        Ok(())
    }
}

/// What to send.
pub(crate) struct Ask<'p> {
    pub(crate) cmd: Command,
    pub(crate) opt: Options,
    /// Send the person's `suk`/`vuk` (a new association or a re-key).
    pub(crate) lock: bool,
    pub(crate) btn: Option<Button>,
    /// A previous identity presented with `pidk`/`pids`.
    pub(crate) previous: Option<&'p Person>,
    /// Sign `urs` with this person's unlock key for this stored `suk`.
    pub(crate) urs: Option<(&'p Person, Bytes32)>,
    /// Write `ver` as the last line of `client` instead of the first.
    pub(crate) ver_last: bool,
}

impl Ask<'_> {
    /// A bare command.
    pub(crate) fn new(cmd: Command) -> Self {
        Self {
            cmd,
            opt: Options::default(),
            lock: false,
            btn: None,
            previous: None,
            urs: None,
            ver_last: false,
        }
    }
}

/// A request's parts, kept apart so a test can change one after signing.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub(crate) url: String,
    pub(crate) client: String,
    pub(crate) server: String,
    pub(crate) ids: [u8; 64],
    pub(crate) pids: Option<[u8; 64]>,
    pub(crate) urs: Option<[u8; 64]>,
}

/// Readable text of base64url-encoded lines.
pub(crate) fn decoded(text: &str) -> String {
    match b64::decode(text.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .trim_end()
            .replace("\r\n", " / "),
        Err(_) => text.chars().take(300).collect(),
    }
}

impl Parts {
    /// Builds and signs `ask` on `session` as `me`.
    pub(crate) fn build(session: &Session, me: &Person, ask: &Ask<'_>) -> Result<Self, String> {
        let site = me.site(&session.url);
        let mut params = ClientParams::new(ask.cmd.clone(), site.public_key());
        let previous = ask.previous.map(|p| p.site(&session.url));
        params.pidk = previous.as_ref().map(SiteKey::public_key);
        if ask.lock {
            params.suk = Some(me.lock.suk);
            params.vuk = Some(me.lock.vuk);
        }
        params.btn = ask.btn;
        params.opt = ask.opt.clone();
        let mut client = params.encode().map_err(|e| e.to_string())?;
        if ask.ver_last {
            client = ver_last(&client);
        }
        let message = signing_input(&client, &session.echo);
        Ok(Self {
            url: session.next.clone(),
            ids: site.sign(&message),
            pids: previous.map(|p| p.sign(&message)),
            urs: ask
                .urs
                .as_ref()
                .map(|(person, suk)| person.iuk.unlock_request_signing_key(suk).sign(&message)),
            client,
            server: session.echo.clone(),
        })
    }

    /// The form body.
    pub(crate) fn body(&self) -> String {
        RequestBody::new(
            self.client.clone(),
            self.server.clone(),
            &self.ids,
            self.pids.as_ref(),
            self.urs.as_ref(),
        )
        .encode()
    }

    /// What was sent, for people.
    pub(crate) fn describe(&self) -> String {
        let mut extra = String::new();
        if self.pids.is_some() {
            extra.push_str(" +pids");
        }
        if self.urs.is_some() {
            extra.push_str(" +urs");
        }
        format!(
            "POST {} client: {}; server: {}{extra}",
            self.url,
            decoded(&self.client),
            decoded(&self.server)
        )
    }

    /// One byte of `client` changed after signing (a character of the `idk` value).
    pub(crate) fn tamper_client(&mut self) {
        if let Ok(mut bytes) = b64::decode(&self.client) {
            let at = bytes
                .windows(4)
                .position(|w| w == b"idk=")
                .map_or(0, |p| p.saturating_add(10));
            if let Some(byte) = bytes.get_mut(at) {
                *byte = if *byte == b'A' { b'B' } else { b'A' };
            }
            self.client = b64::encode(bytes);
        }
    }

    /// One byte of `ids` changed.
    pub(crate) fn tamper_ids(&mut self) {
        if let Some(byte) = self.ids.get_mut(40) {
            *byte ^= 0x01;
        }
    }
}

/// An encoded `client` list with its `ver` line moved to the end.
fn ver_last(client: &str) -> String {
    let Ok(bytes) = b64::decode(client) else {
        return client.to_owned();
    };
    let text = String::from_utf8_lossy(&bytes);
    let (ver, rest): (Vec<&str>, Vec<&str>) = text
        .split_terminator("\r\n")
        .partition(|line| line.starts_with("ver="));
    let mut out = String::new();
    for line in rest.iter().chain(ver.iter()) {
        out.push_str(line);
        out.push_str("\r\n");
    }
    b64::encode(out)
}

/// `echo` (a previous reply) with one byte changed: the last digit of its `tif` value (or,
/// without one, its last letter's case), still a well-formed list.
pub(crate) fn tampered_echo(echo: &str) -> String {
    let Ok(mut bytes) = b64::decode(echo) else {
        return echo.to_owned();
    };
    let at = match bytes.windows(4).position(|w| w == b"tif=") {
        Some(p) => {
            let start = p.saturating_add(4);
            let len = bytes
                .get(start..)
                .and_then(|rest| rest.iter().position(|b| *b == b'\r' || *b == b'\n'))
                .unwrap_or(1);
            start.saturating_add(len.saturating_sub(1))
        }
        None => bytes.iter().rposition(u8::is_ascii_alphabetic).unwrap_or(0),
    };
    if let Some(byte) = bytes.get_mut(at) {
        *byte = match *byte {
            b'0' => b'1',
            b if b.is_ascii_digit() || (b'A'..=b'F').contains(&b) || (b'a'..=b'f').contains(&b) => {
                b'0'
            }
            b => b ^ 0x20,
        };
    }
    b64::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_exactly_what_it_says() {
        let session = Session::start("sqrl://example.com/sqrl?nut=abc").unwrap();
        let me = Person::random();
        let good = Parts::build(&session, &me, &Ask::new(Command::Query)).unwrap();
        let body = RequestBody::parse(good.body().as_bytes()).unwrap();
        body.verify_identity_signatures(&body.client().unwrap())
            .unwrap();

        let mut client = good.clone();
        client.tamper_client();
        assert_ne!(client.client, good.client);
        let body = RequestBody::parse(client.body().as_bytes()).unwrap();
        let params = body.client().unwrap();
        assert!(body.verify_identity_signatures(&params).is_err());

        let mut ids = good.clone();
        ids.tamper_ids();
        let body = RequestBody::parse(ids.body().as_bytes()).unwrap();
        assert!(body
            .verify_identity_signatures(&body.client().unwrap())
            .is_err());

        let moved = Parts::build(
            &session,
            &me,
            &Ask {
                ver_last: true,
                ..Ask::new(Command::Query)
            },
        )
        .unwrap();
        let text = String::from_utf8(b64::decode(&moved.client).unwrap()).unwrap();
        assert!(text.starts_with("cmd=query\r\n") && text.ends_with("\r\nver=1\r\n"));
        let body = RequestBody::parse(moved.body().as_bytes()).unwrap();
        body.verify_identity_signatures(&body.client().unwrap())
            .unwrap();

        let reply = b64::encode("ver=1\r\nnut=x\r\ntif=C4\r\nqry=/s?nut=x\r\n");
        assert_eq!(
            b64::decode(&tampered_echo(&reply)).unwrap(),
            b"ver=1\r\nnut=x\r\ntif=C0\r\nqry=/s?nut=x\r\n"
        );
    }
}

//! The `client=` parameters: what the client asks and asserts.

use core::fmt;

use crate::namevalue::{Limits, NameValueList};
use crate::version::VersionSet;
use crate::{b64, Error, Result};

/// A public 32-byte value sent as base64url (`idk`, `pidk`, `suk`, `vuk`, `ins`, `pins`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes32(pub [u8; 32]);

impl Bytes32 {
    /// Decodes base64url text that must hold 32 bytes; `field` names it in errors.
    pub fn decode(text: &str, field: &'static str) -> Result<Self> {
        b64::decode_array(text, field).map(Bytes32)
    }

    /// The base64url text.
    pub fn encode(&self) -> String {
        b64::encode(self.0)
    }
}

impl fmt::Debug for Bytes32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Display for Bytes32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// `cmd=`: what the client asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// Ask what the server knows; changes nothing.
    Query,
    /// Assert the identity: log in, or associate it.
    Ident,
    /// Disable SQRL login for this identity.
    Disable,
    /// Re-enable it (needs `urs`).
    Enable,
    /// Remove the association (needs `urs`).
    Remove,
    /// A command this version does not know; kept so a server can answer "not supported".
    Other(String),
}

impl Command {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Command::Query => "query",
            Command::Ident => "ident",
            Command::Disable => "disable",
            Command::Enable => "enable",
            Command::Remove => "remove",
            Command::Other(other) => other,
        }
    }

    /// Parses a wire name; names are case-sensitive (lower case), anything else is `Other`.
    pub fn parse(text: &str) -> Self {
        match text {
            "query" => Command::Query,
            "ident" => Command::Ident,
            "disable" => Command::Disable,
            "enable" => Command::Enable,
            "remove" => Command::Remove,
            other => Command::Other(other.to_owned()),
        }
    }
}

/// `opt=`: tilde-separated client options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `noiptest`: do not require the query to come from the browser's IP.
    pub noiptest: bool,
    /// `sqrlonly`: the user asks the site to allow only SQRL login.
    pub sqrlonly: bool,
    /// `hardlock`: the user asks the site to disable other recovery paths.
    pub hardlock: bool,
    /// `cps`: client provided session; the server returns `url=` instead of logging in the
    /// waiting browser.
    pub cps: bool,
    /// `suk`: return the stored SUK.
    pub suk: bool,
    /// Options this version does not know, in order; kept and re-sent as received.
    pub unknown: Vec<String>,
}

impl Options {
    /// Parses `cps~suk`. Empty tokens are ignored; unknown tokens are kept.
    pub fn parse(text: &str) -> Result<Self> {
        let mut options = Options::default();
        for token in text.split('~').filter(|t| !t.is_empty()) {
            match token {
                "noiptest" => options.noiptest = true,
                "sqrlonly" => options.sqrlonly = true,
                "hardlock" => options.hardlock = true,
                "cps" => options.cps = true,
                "suk" => options.suk = true,
                other => {
                    if !other.bytes().all(b64::is_alphabet) {
                        return Err(Error::InvalidValue {
                            name: "opt",
                            reason: "an option is made of base64url characters",
                        });
                    }
                    if options.unknown.len() >= 16 {
                        return Err(Error::TooMany {
                            what: "opt",
                            limit: 16,
                        });
                    }
                    options.unknown.push(other.to_owned());
                }
            }
        }
        Ok(options)
    }

    /// `true` when no option is set.
    pub fn is_empty(&self) -> bool {
        !(self.noiptest || self.sqrlonly || self.hardlock || self.cps || self.suk)
            && self.unknown.is_empty()
    }
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = [
            (self.noiptest, "noiptest"),
            (self.sqrlonly, "sqrlonly"),
            (self.hardlock, "hardlock"),
            (self.cps, "cps"),
            (self.suk, "suk"),
        ];
        let tokens = known
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .chain(self.unknown.iter().map(String::as_str));
        for (i, token) in tokens.enumerate() {
            if i > 0 {
                f.write_str("~")?;
            }
            f.write_str(token)?;
        }
        Ok(())
    }
}

/// The answer to an `ask`: `btn=0` (acknowledged, no button), `1` or `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Button {
    /// `btn=0`: the user saw the message and pressed OK.
    Ok,
    /// `btn=1`: the first button.
    First,
    /// `btn=2`: the second button.
    Second,
}

impl Button {
    fn parse(text: &str) -> Result<Self> {
        match text {
            "0" => Ok(Button::Ok),
            "1" => Ok(Button::First),
            "2" => Ok(Button::Second),
            _ => Err(Error::InvalidValue {
                name: "btn",
                reason: "must be 0, 1 or 2",
            }),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Button::Ok => "0",
            Button::First => "1",
            Button::Second => "2",
        }
    }
}

/// The typed `client=` parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientParams {
    /// `ver`: versions the client speaks.
    pub version: VersionSet,
    /// `cmd`.
    pub command: Command,
    /// `idk`: the current identity's site public key.
    pub idk: Bytes32,
    /// `pidk`: a previous identity's site public key.
    pub pidk: Option<Bytes32>,
    /// `suk`: the Server Unlock Key for a new association.
    pub suk: Option<Bytes32>,
    /// `vuk`: the Verify Unlock Key for a new association.
    pub vuk: Option<Bytes32>,
    /// `ins`: indexed secret answering the server's `sin`.
    pub ins: Option<Bytes32>,
    /// `pins`: the previous identity's indexed secret.
    pub pins: Option<Bytes32>,
    /// `btn`: the answer to the server's `ask`.
    pub btn: Option<Button>,
    /// `opt`.
    pub opt: Options,
    /// Names this version does not know, in order, with their values.
    pub extra: Vec<(String, String)>,
}

impl ClientParams {
    /// A `ver=1` request with no optional fields.
    pub fn new(command: Command, idk: Bytes32) -> Self {
        Self {
            version: crate::version::SUPPORTED,
            command,
            idk,
            pidk: None,
            suk: None,
            vuk: None,
            ins: None,
            pins: None,
            btn: None,
            opt: Options::default(),
            extra: Vec::new(),
        }
    }

    /// Reads the typed parameters from a parsed list. `ver`, `cmd` and `idk` are required,
    /// each once (a list never holds a name twice), in any order: GRC's server accepts `ver`
    /// anywhere, and the signature covers the text as sent (spec/protocol.md §3). We write it
    /// first.
    pub fn from_list(list: &NameValueList) -> Result<Self> {
        let version = VersionSet::parse(
            list.get("ver")
                .ok_or(Error::MissingParameter { name: "ver" })?,
        )?;
        let command = Command::parse(
            list.get("cmd")
                .ok_or(Error::MissingParameter { name: "cmd" })?,
        );
        let idk = Bytes32::decode(
            list.get("idk")
                .ok_or(Error::MissingParameter { name: "idk" })?,
            "idk",
        )?;
        let key = |name: &'static str| -> Result<Option<Bytes32>> {
            list.get(name).map(|v| Bytes32::decode(v, name)).transpose()
        };
        let mut params = Self {
            version,
            command,
            idk,
            pidk: key("pidk")?,
            suk: key("suk")?,
            vuk: key("vuk")?,
            ins: key("ins")?,
            pins: key("pins")?,
            btn: list.get("btn").map(Button::parse).transpose()?,
            opt: list
                .get("opt")
                .map(Options::parse)
                .transpose()?
                .unwrap_or_default(),
            extra: Vec::new(),
        };
        params.extra = list
            .iter()
            .filter(|(name, _)| !KNOWN.contains(name))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Ok(params)
    }

    /// Decodes the base64url `client=` value.
    pub fn decode(text: &str) -> Result<Self> {
        Self::from_list(&NameValueList::decode(text, Limits::DEFAULT)?)
    }

    /// The list in canonical order: ver, cmd, idk, pidk, ins, pins, suk, vuk, btn, opt, then
    /// unknown names as given.
    pub fn to_list(&self) -> Result<NameValueList> {
        let mut list = NameValueList::new();
        list.push("ver", self.version.to_string())?;
        list.push("cmd", self.command.as_str())?;
        list.push("idk", self.idk.encode())?;
        for (name, value) in [
            ("pidk", &self.pidk),
            ("ins", &self.ins),
            ("pins", &self.pins),
            ("suk", &self.suk),
            ("vuk", &self.vuk),
        ] {
            if let Some(value) = value {
                list.push(name, value.encode())?;
            }
        }
        if let Some(btn) = self.btn {
            list.push("btn", btn.as_str())?;
        }
        if !self.opt.is_empty() {
            list.push("opt", self.opt.to_string())?;
        }
        for (name, value) in &self.extra {
            list.push(name.as_str(), value.as_str())?;
        }
        Ok(list)
    }

    /// The base64url `client=` value.
    pub fn encode(&self) -> Result<String> {
        Ok(self.to_list()?.encode())
    }
}

const KNOWN: [&str; 10] = [
    "ver", "cmd", "idk", "pidk", "suk", "vuk", "ins", "pins", "btn", "opt",
];

#[cfg(test)]
mod tests {
    use super::*;

    const IDK: &str = "2jgB-cR-EnlYglPdGToOucKYI6CD6sUqf4k9MtkuiXs";

    #[test]
    fn grc_query_round_trips() {
        // GRC's published query (grc-spec-identity.md)
        let text = "dmVyPTENCmNtZD1xdWVyeQ0KaWRrPTJqZ0ItY1ItRW5sWWdsUGRHVG9PdWNLWUk2Q0Q2c1VxZjRrOU10a3VpWHMNCm9wdD1jcHN-c3VrDQo";
        let params = ClientParams::decode(text).unwrap();
        assert_eq!(params.command, Command::Query);
        assert_eq!(params.idk.encode(), IDK);
        assert!(params.opt.cps && params.opt.suk && !params.opt.noiptest);
        assert_eq!(params.encode().unwrap(), text);
    }

    #[test]
    fn keeps_unknown_names_and_options() {
        let text = format!("ver=1\r\ncmd=frob\r\nidk={IDK}\r\nopt=cps~future\r\nzzz=1\r\n");
        let list = NameValueList::parse(&text, Limits::DEFAULT).unwrap();
        let params = ClientParams::from_list(&list).unwrap();
        assert_eq!(params.command, Command::Other("frob".into()));
        assert_eq!(params.opt.unknown, ["future"]);
        assert_eq!(params.extra, [("zzz".to_owned(), "1".to_owned())]);
        assert_eq!(params.to_list().unwrap().to_text(), text);
    }

    /// Before, a client that wrote `cmd` before `ver` was refused (`version-not-first`, TIF
    /// 0xC0), though GRC's own server takes `ver` anywhere and the signature covers the text as
    /// sent; `ver` is still required, and once.
    #[test]
    fn ver_after_cmd_is_accepted_as_grc_does() {
        let parse = |text: &str| {
            ClientParams::from_list(&NameValueList::parse(text, Limits::DEFAULT).unwrap())
        };
        let late = parse(&format!("cmd=query\r\nidk={IDK}\r\nver=1\r\n")).unwrap();
        let first = parse(&format!("ver=1\r\ncmd=query\r\nidk={IDK}\r\n")).unwrap();
        assert_eq!(late, first);
        assert!(NameValueList::parse(
            &format!("cmd=query\r\nver=1\r\nidk={IDK}\r\nver=1\r\n"),
            Limits::DEFAULT
        )
        .is_err());
    }

    #[test]
    fn rejects_bad_parameters() {
        let parse = |text: &str| {
            ClientParams::from_list(&NameValueList::parse(text, Limits::DEFAULT).unwrap())
        };
        assert_eq!(
            parse(&format!("cmd=query\r\nidk={IDK}\r\n")),
            Err(Error::MissingParameter { name: "ver" })
        );
        assert_eq!(
            parse("ver=1\r\ncmd=query\r\n"),
            Err(Error::MissingParameter { name: "idk" })
        );
        assert_eq!(
            parse(&format!("ver=1\r\nidk={IDK}\r\n")),
            Err(Error::MissingParameter { name: "cmd" })
        );
        assert!(matches!(
            parse("ver=1\r\ncmd=query\r\nidk=AAAA\r\n"),
            Err(Error::WrongLength { field: "idk", .. })
        ));
        assert!(matches!(
            parse(&format!("ver=1\r\ncmd=query\r\nidk={IDK}\r\nbtn=3\r\n")),
            Err(Error::InvalidValue { name: "btn", .. })
        ));
        assert!(matches!(
            parse(&format!("ver=x\r\ncmd=query\r\nidk={IDK}\r\n")),
            Err(Error::InvalidVersion { .. })
        ));
        assert!(matches!(
            parse(&format!(
                "ver=1\r\ncmd=query\r\nidk={}\r\n",
                IDK.replace('-', "+")
            )),
            Err(Error::Base64Alphabet { .. })
        ));
    }

    #[test]
    fn options_format_in_canonical_order() {
        let opt = Options::parse("suk~~cps~noiptest").unwrap();
        assert_eq!(opt.to_string(), "noiptest~cps~suk");
        assert!(Options::parse("").unwrap().is_empty());
        assert!(Options::parse("bad opt").is_err());
    }
}

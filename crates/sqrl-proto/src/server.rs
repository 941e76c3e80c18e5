//! The server's reply parameters, and the `ask` prompt they may carry.

use crate::client::Bytes32;
use crate::namevalue::{Limits, NameValueList};
use crate::tif::Tif;
use crate::url::{check_absolute_http_url, check_root_anchored, scheme_error, scheme_of};
use crate::version::VersionSet;
use crate::{b64, Error, Result};

/// One button of an `ask`: its label and an optional root-anchored URL to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskButton {
    /// The text on the button (UTF-8, no `;` or `~`).
    pub label: String,
    /// A root-anchored path the client opens when the button is chosen.
    pub url: Option<String>,
}

/// `ask=`: a message for the user, with up to two buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The message (UTF-8).
    pub message: String,
    /// Zero, one or two buttons.
    pub buttons: Vec<AskButton>,
}

const MAX_ASK_TEXT: usize = 1024;

fn decode_text(text: &str, reason: &'static str) -> Result<String> {
    let bytes = b64::decode(text)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidValue {
        name: "ask",
        reason,
    })?;
    if text.len() > MAX_ASK_TEXT {
        return Err(Error::TooLarge {
            what: "ask text",
            limit: MAX_ASK_TEXT,
            found: text.len(),
        });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::InvalidValue {
            name: "ask",
            reason: "control character in the text",
        });
    }
    Ok(text)
}

impl Ask {
    /// A message without buttons.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            buttons: Vec::new(),
        }
    }

    /// Adds a button (at most two; labels may not contain `;` or `~`).
    pub fn with_button(mut self, label: impl Into<String>, url: Option<String>) -> Result<Self> {
        let label = label.into();
        if self.buttons.len() >= 2 {
            return Err(Error::TooMany {
                what: "ask buttons",
                limit: 2,
            });
        }
        if label.contains([';', '~']) {
            return Err(Error::InvalidValue {
                name: "ask",
                reason: "a button label may not contain ';' or '~'",
            });
        }
        if let Some(url) = &url {
            check_root_anchored(url, "ask")?;
            if url.contains('~') {
                return Err(Error::InvalidValue {
                    name: "ask",
                    reason: "a button URL may not contain '~'",
                });
            }
        }
        self.buttons.push(AskButton { label, url });
        Ok(self)
    }

    /// Parses `b64(message)[~b64(label)[;url]][~b64(label)[;url]]`. The URL part is plain
    /// text and must be root-anchored.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split('~');
        let message = decode_text(parts.next().unwrap_or_default(), "message is not UTF-8")?;
        let mut ask = Ask::new(message);
        for part in parts {
            let (label, url) = match part.split_once(';') {
                Some((label, url)) => (label, Some(url.to_owned())),
                None => (part, None),
            };
            let label = decode_text(label, "button label is not UTF-8")?;
            ask = ask.with_button(label, url)?;
        }
        Ok(ask)
    }

    /// The wire form.
    pub fn encode(&self) -> String {
        let mut out = b64::encode(self.message.as_bytes());
        for button in &self.buttons {
            out.push('~');
            out.push_str(&b64::encode(button.label.as_bytes()));
            if let Some(url) = &button.url {
                out.push(';');
                out.push_str(url);
            }
        }
        out
    }
}

/// The typed reply of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerParams {
    /// `ver`: versions the server speaks.
    pub version: VersionSet,
    /// `nut`: the nonce for the next request.
    pub nut: String,
    /// `tif`.
    pub tif: Tif,
    /// `qry`: root-anchored path and query for the next request.
    pub qry: String,
    /// `url`: where to send the browser (CPS), as sent: an absolute http(s) URL, or a
    /// root-anchored path some servers send (see `SqrlUrl::resolve_link`).
    pub url: Option<String>,
    /// `can`: replacement cancel URL (sent base64url encoded; held decoded here): an absolute
    /// http(s) URL, or a root-anchored path the client resolves against the site's origin
    /// (`SqrlUrl::resolve_link`).
    pub can: Option<String>,
    /// `sin`: secret index; the next request must carry `ins`.
    pub sin: Option<String>,
    /// `suk`: the stored Server Unlock Key.
    pub suk: Option<Bytes32>,
    /// `ask`: a question for the user.
    pub ask: Option<Ask>,
    /// Names this version does not know, in order, with their values (echoed and signed).
    pub extra: Vec<(String, String)>,
}

const KNOWN: [&str; 9] = [
    "ver", "nut", "tif", "qry", "url", "can", "sin", "suk", "ask",
];

impl ServerParams {
    /// A `ver=1` reply with the required fields.
    pub fn new(nut: impl Into<String>, tif: Tif, qry: impl Into<String>) -> Self {
        Self {
            version: crate::version::SUPPORTED,
            nut: nut.into(),
            tif,
            qry: qry.into(),
            url: None,
            can: None,
            sin: None,
            suk: None,
            ask: None,
            extra: Vec::new(),
        }
    }

    /// Reads the typed reply. `ver` comes first; `ver`, `nut`, `tif`, `qry` are required.
    pub fn from_list(list: &NameValueList) -> Result<Self> {
        if list.first_name() != Some("ver") {
            return Err(match list.get("ver") {
                Some(_) => Error::VersionNotFirst,
                None => Error::MissingParameter { name: "ver" },
            });
        }
        let required = |name: &'static str| list.get(name).ok_or(Error::MissingParameter { name });
        let version = VersionSet::parse(required("ver")?)?;
        let nut = required("nut")?;
        if nut.is_empty() || !nut.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(Error::InvalidValue {
                name: "nut",
                reason: "must be non-empty printable ASCII",
            });
        }
        let tif = Tif::parse_hex(required("tif")?)?;
        let qry = required("qry")?;
        check_root_anchored(qry, "qry")?;
        // Kept as text: a reply whose link is unusable still reports what the command did.
        // A client follows it through `SqrlUrl::resolve_link`.
        let url = list.get("url").map(str::to_owned);
        let can = match list.get("can") {
            None => None,
            Some(text) => {
                let url =
                    String::from_utf8(b64::decode(text)?).map_err(|_| Error::InvalidValue {
                        name: "can",
                        reason: "not UTF-8",
                    })?;
                // A root-anchored path is accepted as it is for `url=` (some servers send
                // one); the client resolves it against the site's origin
                // (`SqrlUrl::resolve_link`). Anything else is refused.
                if url.starts_with('/') {
                    check_root_anchored(&url, "can")?;
                } else if !check_absolute_http_url(&url) {
                    return Err(Error::InvalidValue {
                        name: "can",
                        reason: "must be an absolute http(s) URL or a root-anchored path",
                    });
                }
                Some(url)
            }
        };
        let sin = match list.get("sin") {
            Some("") => {
                return Err(Error::InvalidValue {
                    name: "sin",
                    reason: "must not be empty",
                })
            }
            other => other.map(str::to_owned),
        };
        Ok(Self {
            version,
            nut: nut.to_owned(),
            tif,
            qry: qry.to_owned(),
            url,
            can,
            sin,
            suk: list
                .get("suk")
                .map(|v| Bytes32::decode(v, "suk"))
                .transpose()?,
            ask: list.get("ask").map(Ask::parse).transpose()?,
            extra: list
                .iter()
                .filter(|(name, _)| !KNOWN.contains(name))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        })
    }

    /// Decodes a base64url reply body.
    pub fn decode(text: &str) -> Result<Self> {
        Self::from_list(&NameValueList::decode(text, Limits::DEFAULT)?)
    }

    /// The list in canonical order (GRC's): ver, nut, tif, qry, suk, url, can, sin, ask, then unknown
    /// names as given.
    pub fn to_list(&self) -> Result<NameValueList> {
        let mut list = NameValueList::new();
        list.push("ver", self.version.to_string())?;
        list.push("nut", self.nut.as_str())?;
        list.push("tif", self.tif.to_string())?;
        list.push("qry", self.qry.as_str())?;
        if let Some(suk) = &self.suk {
            list.push("suk", suk.encode())?;
        }
        if let Some(url) = &self.url {
            list.push("url", url.as_str())?;
        }
        if let Some(can) = &self.can {
            list.push("can", b64::encode(can.as_bytes()))?;
        }
        if let Some(sin) = &self.sin {
            list.push("sin", sin.as_str())?;
        }
        if let Some(ask) = &self.ask {
            list.push("ask", ask.encode())?;
        }
        for (name, value) in &self.extra {
            list.push(name.as_str(), value.as_str())?;
        }
        Ok(list)
    }

    /// The base64url reply body.
    pub fn encode(&self) -> Result<String> {
        Ok(self.to_list()?.encode())
    }
}

/// What a client echoes as `server=`: the SQRL URL on the first query, the previous reply after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEcho {
    /// The first request of an exchange echoes the SQRL URL text.
    Url(String),
    /// Later requests echo the previous reply.
    Reply(Box<ServerParams>),
}

impl ServerEcho {
    /// Decodes a `server=` value: a SQRL URL (starting `sqrl://`) or a reply list.
    pub fn decode(text: &str) -> Result<Self> {
        let list_limit = Limits::DEFAULT;
        let encoded_limit = list_limit.encoded_max_bytes();
        if text.len() > encoded_limit {
            return Err(Error::TooLarge {
                what: "server",
                limit: encoded_limit,
                found: text.len(),
            });
        }
        let bytes = b64::decode(text)?;
        if bytes.len() >= 7
            && bytes
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"sqrl://"))
        {
            let url = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 { what: "server" })?;
            return Ok(ServerEcho::Url(url));
        }
        // Another URL scheme (old servers issued `qrl://`): say so, rather than failing to
        // read it as a name=value list.
        if scheme_of(&bytes).is_some() {
            return Err(scheme_error(&bytes));
        }
        let list = NameValueList::parse_bytes(&bytes, list_limit)?;
        ServerParams::from_list(&list).map(|p| ServerEcho::Reply(Box::new(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrl_echo_in_server_is_an_unsupported_scheme_not_a_bad_name() {
        for (url, scheme) in [
            ("qrl://example.com/sqrl?nut=abc", "qrl"),
            ("QRL://example.com/sqrl?nut=abc", "QRL"),
            ("https://example.com/sqrl?nut=abc", "https"),
        ] {
            let error = ServerEcho::decode(&b64::encode(url)).unwrap_err();
            assert_eq!(
                error,
                Error::UnsupportedScheme {
                    scheme: scheme.into()
                }
            );
            assert_eq!(error.code(), "url-scheme");
            let message = error.to_string();
            assert!(
                message.contains("unsupported scheme") && message.contains(&format!("{scheme}://")),
                "{message}"
            );
        }
        // A reply list whose values hold URLs is still read as a list.
        let mut reply = ServerParams::new("n", Tif::IPS_MATCHED, "/s?nut=n");
        reply.url = Some("https://example.com/x".into());
        assert!(ServerEcho::decode(&reply.encode().unwrap()).is_ok());
    }

    #[test]
    fn relative_url_in_a_reply_is_kept_for_the_client_to_resolve() {
        let mut reply = ServerParams::new("n", Tif::CURRENT_ID_MATCH, "/s?nut=n");
        reply.url = Some("/account".into());
        let decoded = ServerParams::decode(&reply.encode().unwrap()).unwrap();
        assert_eq!(decoded.url.as_deref(), Some("/account"));
        // Even a link no client would follow does not hide the reply's TIF.
        reply.url = Some("javascript:alert(1)".into());
        let decoded = ServerParams::decode(&reply.encode().unwrap()).unwrap();
        assert_eq!(decoded.tif, Tif::CURRENT_ID_MATCH);
    }

    #[test]
    fn path_only_can_in_a_reply_does_not_fail_the_reply() {
        let mut reply = ServerParams::new("n", Tif::IPS_MATCHED, "/s?nut=n");
        reply.can = Some("/sqrl/cancel?x=1".into());
        let decoded = ServerParams::decode(&reply.encode().unwrap()).unwrap();
        assert_eq!(decoded.can.as_deref(), Some("/sqrl/cancel?x=1"));
        assert_eq!(decoded.tif, Tif::IPS_MATCHED);
        // Anything neither absolute nor root-anchored is still refused, and says which field.
        for bad in [
            "sqrl/cancel",
            "//evil.example/x",
            "javascript:alert(1)",
            "/a b",
        ] {
            reply.can = Some(bad.into());
            let error = ServerParams::decode(&reply.encode().unwrap()).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidValue { name: "can", .. }
                        | Error::NotRootAnchored { name: "can" }
                ),
                "{bad}: {error:?}"
            );
        }
    }

    #[test]
    fn grc_reply_round_trips() {
        let text = "dmVyPTENCm51dD1CRUZBSTF0SllmQm0NCnRpZj01DQpxcnk9L2NsaS5zcXJsP251dD1CRUZBSTF0SllmQm0NCnN1az1CTUZEbTdiUGxzUW9qdUpzb0RUdmxTMU1jbndnU2N2a3RGODR2TGpzY0drDQp1cmw9aHR0cHM6Ly9zcXJsLmdyYy5jb20vYXV0aC50ZXN0PzRoVlRlOUxHSGhNVHV4el9tbTZ2UmNfcQ0K";
        let reply = ServerParams::decode(text).unwrap();
        assert_eq!(reply.tif, Tif::CURRENT_ID_MATCH | Tif::IPS_MATCHED);
        assert_eq!(reply.nut, "BEFAI1tJYfBm");
        assert_eq!(reply.qry, "/cli.sqrl?nut=BEFAI1tJYfBm");
        assert_eq!(
            reply.url.as_deref(),
            Some("https://sqrl.grc.com/auth.test?4hVTe9LGHhMTuxz_mm6vRc_q")
        );
        assert_eq!(reply.encode().unwrap(), text);
    }

    #[test]
    fn ask_encodings_from_other_implementations() {
        let ask =
            Ask::parse("VHdvIGJ1dHRvbnMgdy8gVVJMcw~QnV0dG9uIDE;/url1~QnV0dG9uIDI;/url2").unwrap();
        assert_eq!(ask.message, "Two buttons w/ URLs");
        assert_eq!(ask.buttons[0].label, "Button 1");
        assert_eq!(ask.buttons[1].url.as_deref(), Some("/url2"));
        assert_eq!(
            ask.encode(),
            "VHdvIGJ1dHRvbnMgdy8gVVJMcw~QnV0dG9uIDE;/url1~QnV0dG9uIDI;/url2"
        );
        assert_eq!(
            Ask::parse("U2ltcGxlIHF1ZXN0aW9u").unwrap().message,
            "Simple question"
        );
        assert!(Ask::parse("YQ~Yg~Yw~ZA").is_err()); // three buttons
        assert!(Ask::parse("YQ~Yg;https://evil.example/").is_err());
        assert!(Ask::parse("_w").is_err()); // not UTF-8
    }

    #[test]
    fn rejects_bad_replies() {
        let parse = |text: &str| {
            ServerParams::from_list(&NameValueList::parse(text, Limits::DEFAULT).unwrap())
        };
        assert_eq!(
            parse("ver=1\r\nnut=a\r\ntif=5\r\n"),
            Err(Error::MissingParameter { name: "qry" })
        );
        assert_eq!(
            parse("nut=a\r\nver=1\r\ntif=5\r\nqry=/\r\n"),
            Err(Error::VersionNotFirst)
        );
        assert_eq!(
            parse("ver=1\r\nnut=a\r\ntif=0x5\r\nqry=/\r\n"),
            Err(Error::InvalidTif)
        );
        assert_eq!(
            parse("ver=1\r\nnut=a\r\ntif=5\r\nqry=https://evil.example/\r\n"),
            Err(Error::NotRootAnchored { name: "qry" })
        );
        // An unusable url= is the client's to refuse to follow, not a reason to drop the TIF.
        assert!(parse("ver=1\r\nnut=a\r\ntif=5\r\nqry=/\r\nurl=javascript:x\r\n").is_ok());
        assert!(parse("ver=1\r\nnut=\r\ntif=5\r\nqry=/\r\n").is_err());
        assert!(parse("ver=1\r\nnut=a\r\ntif=5\r\nqry=/\r\nsuk=short\r\n").is_err());
    }

    #[test]
    fn server_echo_distinguishes_url_and_reply() {
        let url = b64::encode("sqrl://example.com/?nut=a");
        assert_eq!(
            ServerEcho::decode(&url).unwrap(),
            ServerEcho::Url("sqrl://example.com/?nut=a".into())
        );
        let reply = ServerParams::new("n", Tif::IPS_MATCHED, "/s?nut=n");
        assert_eq!(
            ServerEcho::decode(&reply.encode().unwrap()).unwrap(),
            ServerEcho::Reply(Box::new(reply))
        );
    }
}

//! Step 1 of a SQRL request: every check that needs no stored state (body, version, every
//! signature with `verify_strict`, the nut, the echo of a QR URL), and what must be loaded
//! for the decision ([`Pending::needs`]).

use std::net::IpAddr;

use sqrl_proto::{b64, ClientParams, Command, RequestBody};

use crate::endpoint::Endpoint;
use crate::flow::Flow;
use crate::nut::{FlowId, Nut, QrNut};
use crate::refusal::Refusal;
use crate::store::Needs;
use crate::time::UnixTime;

/// One POST to the SQRL endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The request's query string (holds `nut=`).
    pub query: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The peer's IP address.
    pub client_ip: IpAddr,
    /// Now.
    pub now: UnixTime,
}

/// Where the nut of a received request points.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Qr(QrNut),
    Reply { flow: FlowId, nut: String },
}

/// A request that passed every check needing no stored state.
#[derive(Debug, Clone)]
pub struct Pending {
    pub(crate) body: RequestBody,
    pub(crate) params: ClientParams,
    pub(crate) origin: Origin,
    /// The application the code was minted for (`&app=` in its URL; only on the first
    /// request of an exchange, which is the one asked).
    pub(crate) app: Option<String>,
    pub(crate) client_ip: IpAddr,
    pub(crate) now: UnixTime,
}

impl Pending {
    /// What the store must load for [`Endpoint::decide`].
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

/// A refusal found by [`Endpoint::receive`], with what is known for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The cause.
    pub refusal: Refusal,
    /// The request asked for `opt=cps` (the reply then sends the browser back to the site).
    pub cps: bool,
    /// For a malformed body, the stable code of the wire-format error behind it
    /// (`sqrl_proto::Error::code`), for the logs.
    pub cause: Option<&'static str>,
}

impl Endpoint {
    /// Step 1: every check that needs no stored state.
    pub fn receive(&self, incoming: &Incoming<'_>) -> Result<Pending, Refused> {
        let malformed = |e: sqrl_proto::Error| Refused {
            refusal: Refusal::MalformedBody,
            cps: false,
            cause: Some(e.code()),
        };
        let body = RequestBody::parse(incoming.body).map_err(malformed)?;
        let params = body.client().map_err(malformed)?;
        let refused = |refusal| Refused {
            refusal,
            cps: params.opt.cps,
            cause: None,
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
        let mut nuts = incoming
            .query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("nut="));
        let nut = nuts.next().ok_or(refused(Refusal::MissingNut))?;
        if nuts.next().is_some() {
            return Err(refused(Refusal::DuplicatedNut));
        }
        // A code minted for an application names it in its URL (`&app=`, sealed with the
        // nut), which the first request echoes: read it there (a client may trim the request
        // URL's query, never the echo). A name that is not the minted one, or two of them,
        // opens no nut.
        let app = match app_in_echo(body.server_text()) {
            Ok(app) => app,
            Err(()) => return Err(refused(Refusal::UnknownNut)),
        };
        let opened = self
            .codec
            .open_for(nut, &app)
            .ok_or(refused(Refusal::UnknownNut))?;
        let qr_app = matches!(opened, Nut::Qr(_)).then_some(app);
        let origin = match opened {
            Nut::Qr(qr) => {
                // The first request echoes the very URL we issued for this nut (with or
                // without the same-device `can=`), byte for byte.
                let echoed =
                    b64::decode(body.server_text()).map_err(|_| refused(Refusal::EchoMismatch))?;
                let expected = self.url_for_app(nut, qr_app.as_deref().unwrap_or_default());
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
            app: qr_app.filter(|name| !name.is_empty()),
            // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; nuts keep them as
            // IPv4, so compare like with like.
            client_ip: incoming.client_ip.to_canonical(),
            now: incoming.now,
        })
    }
}

/// The application named by an echoed `sqrl://` URL (`""` for none, and for an echo that is
/// not a URL: a reply); `Err` for a name that cannot be ours (not base64url of UTF-8, empty,
/// or given twice).
fn app_in_echo(server_text: &str) -> Result<String, ()> {
    let Some(url) = b64::decode(server_text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.starts_with("sqrl://"))
    else {
        return Ok(String::new());
    };
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mut apps = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("app="));
    match (apps.next(), apps.next()) {
        (None, _) => Ok(String::new()),
        (Some(text), None) => b64::decode(text)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|name| !name.is_empty())
            .ok_or(()),
        (Some(_), Some(_)) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Before, a malformed body was refused as `malformed-body` alone: the wire-format error
    /// that said what was wrong with it was dropped, so a log could not tell a bad base64
    /// from a missing field.
    #[test]
    fn a_malformed_body_keeps_the_wire_error_s_code() {
        let endpoint = Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32]);
        let incoming = |body: &'static [u8]| Incoming {
            query: "nut=x",
            body,
            client_ip: IpAddr::from([192, 0, 2, 1]),
            now: UnixTime::from_secs(1_800_000_000),
        };
        for body in [&b"client=%%%"[..], b"garbage", b""] {
            let Err(refused) = endpoint.receive(&incoming(body)) else {
                panic!("{body:?} was received");
            };
            assert_eq!(refused.refusal, Refusal::MalformedBody);
            let expected = match RequestBody::parse(body) {
                Err(e) => e.code(),
                Ok(parsed) => parsed.client().err().map(|e| e.code()).unwrap(),
            };
            assert_eq!(refused.cause, Some(expected), "{body:?}");
        }
    }
}

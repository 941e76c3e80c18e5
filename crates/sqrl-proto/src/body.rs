//! The POST body (`client`, `server`, `ids`, `pids`, `urs`), the exact text that is signed,
//! and strict Ed25519 verification.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::client::{Bytes32, ClientParams};
use crate::server::ServerEcho;
use crate::{b64, Error, Result};

/// Largest POST body accepted by [`RequestBody::parse`].
pub const MAX_BODY_LEN: usize = 8192;

/// The bytes every signature covers: the `client` text immediately followed by the `server`
/// text, exactly as transmitted (base64url, no separator).
pub fn signing_input(client: &str, server: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(client.len() + server.len());
    message.extend_from_slice(client.as_bytes());
    message.extend_from_slice(server.as_bytes());
    message
}

/// Verifies an Ed25519 signature with `verify_strict`: rejects small-order keys, small-order
/// `R`, non-canonical `S` and non-canonical point encodings.
pub fn verify_signature(
    public_key: &Bytes32,
    key_field: &'static str,
    message: &[u8],
    signature: &[u8; 64],
    signature_field: &'static str,
) -> Result<()> {
    let key = VerifyingKey::from_bytes(&public_key.0)
        .map_err(|_| Error::InvalidPublicKey { field: key_field })?;
    if key.is_weak() {
        return Err(Error::InvalidPublicKey { field: key_field });
    }
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| Error::BadSignature {
            field: signature_field,
        })
}

/// A client's POST body, keeping the exact text of every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBody {
    client: String,
    server: String,
    ids: String,
    pids: Option<String>,
    urs: Option<String>,
}

/// The fields of a POST body, in their slot order.
const FIELDS: [&str; 5] = ["client", "server", "ids", "pids", "urs"];

fn decode_signature(text: &str, field: &'static str) -> Result<[u8; 64]> {
    b64::decode_array(text, field)
}

impl RequestBody {
    /// A body from the encoded `client` and `server` texts and the signatures over them.
    pub fn new(
        client: String,
        server: String,
        ids: &[u8; 64],
        pids: Option<&[u8; 64]>,
        urs: Option<&[u8; 64]>,
    ) -> Self {
        Self {
            client,
            server,
            ids: b64::encode(ids),
            pids: pids.map(b64::encode),
            urs: urs.map(b64::encode),
        }
    }

    /// Parses an `application/x-www-form-urlencoded` body. Values must be base64url text
    /// (which never needs percent-encoding); `client`, `server` and `ids` are required;
    /// unknown fields are ignored; repeated fields are an error.
    pub fn parse(body: &[u8]) -> Result<Self> {
        if body.len() > MAX_BODY_LEN {
            return Err(Error::TooLarge {
                what: "request body",
                limit: MAX_BODY_LEN,
                found: body.len(),
            });
        }
        let text = core::str::from_utf8(body).map_err(|_| Error::NotUtf8 {
            what: "request body",
        })?;
        let text = text.trim_end_matches(['\r', '\n']);
        let mut fields: [Option<&str>; 5] = [None; 5];
        let mut count = 0;
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            count += 1;
            if count > 16 {
                return Err(Error::TooMany {
                    what: "form fields",
                    limit: 16,
                });
            }
            let malformed = || Error::MalformedField {
                name: pair
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(32)
                    .collect(),
            };
            let (name, value) = pair.split_once('=').ok_or_else(malformed)?;
            let Some(index) = FIELDS.iter().position(|&known| known == name) else {
                continue;
            };
            // base64url, optionally with correct `=` padding (protocol.md §1.1). The value is
            // kept as sent, padding included: signatures cover the exact text.
            let unpadded = value.trim_end_matches('=');
            if unpadded.is_empty() || !unpadded.bytes().all(b64::is_alphabet) {
                return Err(malformed());
            }
            if b64::check_padding(value).is_err() {
                return Err(Error::FieldPadding {
                    name: FIELDS.get(index).copied().unwrap_or("?"),
                });
            }
            let slot = fields.get_mut(index).ok_or_else(malformed)?;
            if slot.replace(value).is_some() {
                return Err(Error::DuplicateName {
                    name: name.to_owned(),
                });
            }
        }
        let [client, server, ids, pids, urs] = fields;
        let required = |value: Option<&str>, name| {
            value
                .map(str::to_owned)
                .ok_or(Error::MissingParameter { name })
        };
        Ok(Self {
            client: required(client, "client")?,
            server: required(server, "server")?,
            ids: required(ids, "ids")?,
            pids: pids.map(str::to_owned),
            urs: urs.map(str::to_owned),
        })
    }

    /// The form-encoded body: `client=..&server=..&ids=..[&pids=..][&urs=..]`.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "client={}&server={}&ids={}",
            self.client, self.server, self.ids
        );
        if let Some(pids) = &self.pids {
            out.push_str("&pids=");
            out.push_str(pids);
        }
        if let Some(urs) = &self.urs {
            out.push_str("&urs=");
            out.push_str(urs);
        }
        out
    }

    /// The `client` text as received.
    pub fn client_text(&self) -> &str {
        &self.client
    }

    /// The `server` text as received.
    pub fn server_text(&self) -> &str {
        &self.server
    }

    /// The signed message: `client` text followed by `server` text.
    pub fn signing_input(&self) -> Vec<u8> {
        signing_input(&self.client, &self.server)
    }

    /// The typed client parameters.
    pub fn client(&self) -> Result<ClientParams> {
        ClientParams::decode(&self.client)
    }

    /// The decoded `server` echo.
    pub fn server(&self) -> Result<ServerEcho> {
        ServerEcho::decode(&self.server)
    }

    /// `true` if a `urs` signature is present.
    pub fn has_urs(&self) -> bool {
        self.urs.is_some()
    }

    /// `true` if a `pids` signature is present.
    pub fn has_pids(&self) -> bool {
        self.pids.is_some()
    }

    /// Verifies `ids` with `idk`, and `pids` with `pidk` when either is present (one
    /// without the other is an error).
    pub fn verify_identity_signatures(&self, params: &ClientParams) -> Result<()> {
        let message = self.signing_input();
        let ids = decode_signature(&self.ids, "ids")?;
        verify_signature(&params.idk, "idk", &message, &ids, "ids")?;
        match (&params.pidk, &self.pids) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(Error::MissingParameter { name: "pids" }),
            (None, Some(_)) => Err(Error::MissingParameter { name: "pidk" }),
            (Some(pidk), Some(pids)) => {
                let pids = decode_signature(pids, "pids")?;
                verify_signature(pidk, "pidk", &message, &pids, "pids")
            }
        }
    }

    /// Verifies `urs` with a stored Verify Unlock Key; a missing `urs` is an error.
    pub fn verify_unlock_signature(&self, vuk: &Bytes32) -> Result<()> {
        let urs = self
            .urs
            .as_deref()
            .ok_or(Error::MissingParameter { name: "urs" })?;
        let urs = decode_signature(urs, "urs")?;
        verify_signature(vuk, "vuk", &self.signing_input(), &urs, "urs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Command;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(key: &SigningKey, client: &ClientParams, server: &str) -> RequestBody {
        let client_text = client.encode().unwrap();
        let sig = key.sign(&signing_input(&client_text, server)).to_bytes();
        RequestBody::new(client_text, server.to_owned(), &sig, None, None)
    }

    #[test]
    fn parse_round_trips_and_verifies() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let params = ClientParams::new(Command::Query, Bytes32(key.verifying_key().to_bytes()));
        let server = b64::encode("sqrl://example.com/?nut=abc");
        let body = signed(&key, &params, &server);
        let parsed = RequestBody::parse(body.encode().as_bytes()).unwrap();
        assert_eq!(parsed, body);
        let client = parsed.client().unwrap();
        parsed.verify_identity_signatures(&client).unwrap();
    }

    #[test]
    fn rejects_malformed_bodies() {
        let err = |b: &str| RequestBody::parse(b.as_bytes()).unwrap_err();
        assert_eq!(
            err("server=YQ&ids=YQ"),
            Error::MissingParameter { name: "client" }
        );
        assert_eq!(
            err("client=YQ&ids=YQ"),
            Error::MissingParameter { name: "server" }
        );
        assert_eq!(
            err("client=YQ&server=YQ"),
            Error::MissingParameter { name: "ids" }
        );
        assert!(matches!(
            err("client=Y%51&server=YQ&ids=YQ"),
            Error::MalformedField { .. }
        ));
        assert!(matches!(
            err("client=YQ&server=YQ&ids"),
            Error::MalformedField { .. }
        ));
        assert!(matches!(
            err("client=&server=YQ&ids=YQ"),
            Error::MalformedField { .. }
        ));
        assert!(matches!(
            err("client=YQ&client=YQ&server=YQ&ids=YQ"),
            Error::DuplicateName { .. }
        ));
        assert!(matches!(
            RequestBody::parse(&[b'a'; MAX_BODY_LEN + 1]),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            RequestBody::parse(b"client=\xff&server=YQ&ids=YQ"),
            Err(Error::NotUtf8 { .. })
        ));
    }

    /// Pads base64url text with `=` to a multiple of four characters.
    fn padded(text: &str) -> String {
        let mut out = text.to_owned();
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
        out
    }

    #[test]
    fn padded_client_server_and_signatures_are_accepted_and_verified_as_sent() {
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let mut params = ClientParams::new(Command::Query, Bytes32(key.verifying_key().to_bytes()));
        params.opt.cps = true;
        params.opt.suk = true;
        let client = padded(&params.encode().unwrap());
        let server = padded(&b64::encode("sqrl://example.com/sqrl?nut=abcd"));
        assert!(client.ends_with('=') && server.ends_with('='));
        let message = signing_input(&client, &server);
        let ids = key.sign(&message).to_bytes();
        let body = format!(
            "client={client}&server={server}&ids={}",
            padded(&b64::encode(ids))
        );
        let parsed = RequestBody::parse(body.as_bytes()).unwrap();
        // The text is kept as sent, padding included, and the signature covers it.
        assert_eq!(parsed.client_text(), client);
        assert_eq!(parsed.server_text(), server);
        assert_eq!(parsed.encode(), body);
        let decoded = parsed.client().unwrap();
        assert_eq!(decoded, params);
        parsed.verify_identity_signatures(&decoded).unwrap();
        assert_eq!(
            parsed.server().unwrap(),
            ServerEcho::Url("sqrl://example.com/sqrl?nut=abcd".into())
        );
        // A signature over the unpadded text does not cover what was sent.
        let unpadded_ids = key
            .sign(&signing_input(
                client.trim_end_matches('='),
                server.trim_end_matches('='),
            ))
            .to_bytes();
        let other = format!(
            "client={client}&server={server}&ids={}",
            b64::encode(unpadded_ids)
        );
        let other = RequestBody::parse(other.as_bytes()).unwrap();
        assert_eq!(
            other.verify_identity_signatures(&decoded),
            Err(Error::BadSignature { field: "ids" })
        );
    }

    #[test]
    fn wrong_padding_in_a_form_field_is_refused_by_name() {
        let err = |b: &str| RequestBody::parse(b.as_bytes()).unwrap_err();
        assert_eq!(
            err("client=YQ=&server=YQ&ids=YQ"),
            Error::FieldPadding { name: "client" }
        );
        assert_eq!(
            err("client=YQ&server=YWI==&ids=YQ"),
            Error::FieldPadding { name: "server" }
        );
        assert_eq!(
            err("client=YQ&server=YQ&ids=YQ==="),
            Error::FieldPadding { name: "ids" }
        );
        assert_eq!(
            err("client=YQ&server=YQ&ids=YQ&pids=YWJj="),
            Error::FieldPadding { name: "pids" }
        );
        assert_eq!(
            err("client=YQ&server=YQ&ids=YQ&urs=YQ="),
            Error::FieldPadding { name: "urs" }
        );
        assert_eq!(Error::FieldPadding { name: "ids" }.code(), "base64-padding");
        // Padding in the middle, or nothing but padding, is malformed.
        assert!(matches!(
            err("client=Y=Q&server=YQ&ids=YQ"),
            Error::MalformedField { .. }
        ));
        assert!(matches!(
            err("client===&server=YQ&ids=YQ"),
            Error::MalformedField { .. }
        ));
        // Correct padding everywhere parses.
        RequestBody::parse(b"client=YQ==&server=YWI=&ids=YWJj&pids=YQ==&urs=YWI=").unwrap();
    }

    #[test]
    fn every_byte_flip_fails() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let params = ClientParams::new(Command::Query, Bytes32(key.verifying_key().to_bytes()));
        let server = b64::encode("sqrl://example.com/?nut=abc");
        let body = signed(&key, &params, &server);
        let message = body.signing_input();
        let ids = decode_signature(&body.ids, "ids").unwrap();
        for i in 0..message.len() {
            let mut m = message.clone();
            m[i] ^= 1;
            assert!(verify_signature(&params.idk, "idk", &m, &ids, "ids").is_err());
        }
        for i in 0..64 {
            let mut s = ids;
            s[i] ^= 0x10;
            assert!(verify_signature(&params.idk, "idk", &message, &s, "ids").is_err());
        }
    }

    #[test]
    fn small_order_key_is_refused() {
        // The identity point with R = identity, S = 0 passes non-strict verification.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        assert_eq!(
            verify_signature(&Bytes32(identity), "idk", b"anything", &sig, "ids"),
            Err(Error::InvalidPublicKey { field: "idk" })
        );
    }

    #[test]
    fn pids_and_urs_are_checked() {
        let current = SigningKey::from_bytes(&[1u8; 32]);
        let previous = SigningKey::from_bytes(&[2u8; 32]);
        let unlock = SigningKey::from_bytes(&[3u8; 32]);
        let mut params =
            ClientParams::new(Command::Ident, Bytes32(current.verifying_key().to_bytes()));
        params.pidk = Some(Bytes32(previous.verifying_key().to_bytes()));
        let client = params.encode().unwrap();
        let server = b64::encode("sqrl://example.com/?nut=abc");
        let msg = signing_input(&client, &server);
        let ids = current.sign(&msg).to_bytes();
        let pids = previous.sign(&msg).to_bytes();
        let urs = unlock.sign(&msg).to_bytes();
        let vuk = Bytes32(unlock.verifying_key().to_bytes());

        let good = RequestBody::new(
            client.clone(),
            server.clone(),
            &ids,
            Some(&pids),
            Some(&urs),
        );
        good.verify_identity_signatures(&params).unwrap();
        good.verify_unlock_signature(&vuk).unwrap();

        let no_pids = RequestBody::new(client.clone(), server.clone(), &ids, None, None);
        assert_eq!(
            no_pids.verify_identity_signatures(&params),
            Err(Error::MissingParameter { name: "pids" })
        );
        assert_eq!(
            no_pids.verify_unlock_signature(&vuk),
            Err(Error::MissingParameter { name: "urs" })
        );
        // pids made by the wrong key, urs made by the identity key
        let swapped = RequestBody::new(client, server, &ids, Some(&ids), Some(&ids));
        assert_eq!(
            swapped.verify_identity_signatures(&params),
            Err(Error::BadSignature { field: "pids" })
        );
        assert_eq!(
            swapped.verify_unlock_signature(&vuk),
            Err(Error::BadSignature { field: "urs" })
        );
    }
}

//! The SQRL v1 wire format, without IO, async or clocks.
//!
//! Everything a SQRL client and server exchange, as values: [`SqrlUrl`] (and its auth domain,
//! the string that selects the per-site key), base64url ([`b64`]), the CRLF `name=value` list
//! ([`NameValueList`]), typed [`ClientParams`] and [`ServerParams`], [`Tif`] flags, version
//! negotiation ([`VersionSet`]), and the POST [`RequestBody`] whose exact `client ‖ server` text
//! is what every signature covers. Signatures are checked with `verify_strict` only.
//!
//! Parsers never panic: bad input is an [`Error`] naming the failed check. Rules and decisions
//! are written down in `spec/protocol.md` at the repository root.
//!
//! # The whole flow
//!
//! ```
//! use ed25519_dalek::{Signer, SigningKey};
//! use sqrl_proto::{b64, Bytes32, ClientParams, Command, RequestBody, ServerEcho, ServerParams, SqrlUrl, Tif};
//!
//! // The site shows a SQRL URL (in a QR code or a link).
//! let url = SqrlUrl::parse("sqrl://Example.com:8443/sqrl?nut=4LXbE0K9b0rJ")?;
//! assert_eq!(url.auth_domain(), "example.com");
//! assert_eq!(url.request_url(), "https://example.com:8443/sqrl?nut=4LXbE0K9b0rJ");
//!
//! // The client signs a query with its key for that auth domain (derived elsewhere).
//! let site_key = SigningKey::from_bytes(&[42; 32]);
//! let params = ClientParams::new(Command::Query, Bytes32(site_key.verifying_key().to_bytes()));
//! let client = params.encode()?;
//! let server = b64::encode(url.as_str());
//! let ids = site_key.sign(&sqrl_proto::signing_input(&client, &server)).to_bytes();
//! let post = RequestBody::new(client, server, &ids, None, None).encode();
//!
//! // The server parses the body, verifies the signature over the exact received text,
//! // and checks what was echoed.
//! let body = RequestBody::parse(post.as_bytes())?;
//! let request = body.client()?;
//! body.verify_identity_signatures(&request)?;
//! assert_eq!(body.server()?, ServerEcho::Url(url.as_str().to_owned()));
//!
//! // It answers: unknown identity, same IP, next request goes to `qry`.
//! let reply = ServerParams::new("3tPo1m5Ctc7E", Tif::IPS_MATCHED, "/sqrl?nut=3tPo1m5Ctc7E").encode()?;
//! let decoded = ServerParams::decode(&reply)?;
//! assert!(!decoded.tif.contains(Tif::CURRENT_ID_MATCH));
//! assert_eq!(url.request_url_for(&decoded.qry)?, "https://example.com:8443/sqrl?nut=3tPo1m5Ctc7E");
//! # Ok::<(), sqrl_proto::Error>(())
//! ```

pub mod b64;
mod body;
mod client;
mod error;
pub mod namevalue;
mod server;
mod tif;
mod url;
pub mod version;

pub use body::{signing_input, verify_signature, RequestBody, MAX_BODY_LEN};
pub use client::{Button, Bytes32, ClientParams, Command, Options};
pub use error::{Error, Result};
pub use namevalue::{Limits, NameValueList};
pub use server::{Ask, AskButton, ServerEcho, ServerParams};
pub use tif::Tif;
pub use url::{check_root_anchored, split_authority, SqrlUrl, MAX_URL_LEN};
pub use version::VersionSet;

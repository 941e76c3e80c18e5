//! The client (phone) side of SQRL: the identity's key hierarchy, and (in later steps) S4
//! storage and the signed exchange.
//!
//! An identity is a 256-bit Identity Unlock Key. Its master key (`IMK = EnHash(IUK)`) derives
//! one Ed25519 key pair per site from the site's auth domain, so sites cannot link users.
//! Secrets are zeroized on drop and print as `<redacted>`.
//!
//! ```
//! use sqrl_client::keys::{Iuk, Rlk};
//! use sqrl_proto::{b64, signing_input, ClientParams, Command, RequestBody, SqrlUrl};
//!
//! let iuk = Iuk::from_bytes([7; 32]);           // normally Iuk::generate(&mut OsRng)
//! let imk = iuk.imk();
//! let url = SqrlUrl::parse("sqrl://example.com/sqrl?nut=abc123")?;
//! let site = imk.site_key(url.auth_domain(), "");
//!
//! // A new association sends suk/vuk made with a one-time random lock key.
//! let lock = iuk.ilk().lock(Rlk::from_bytes([9; 32]));
//! let mut params = ClientParams::new(Command::Ident, site.public_key());
//! params.suk = Some(lock.suk);
//! params.vuk = Some(lock.vuk);
//! let client = params.encode()?;
//! let server = b64::encode(url.as_str());
//! let ids = site.sign(&signing_input(&client, &server));
//! let body = RequestBody::new(client, server, &ids, None, None);
//! body.verify_identity_signatures(&params)?;
//!
//! // Later the rescue code recovers the IUK, which can sign for that vuk.
//! let ursk = iuk.unlock_request_signing_key(&lock.suk);
//! assert_eq!(ursk.verify_key(), lock.vuk);
//! # Ok::<(), sqrl_client::Error>(())
//! ```

mod error;
pub mod exchange;
pub mod identity;
pub mod keys;
pub mod storage;
pub mod transport;

pub use error::{Error, ExchangeError, IdentityError, TransportError};
pub use identity::{Identity, Password, Progress, RescueCode, Stage, Stretch, Unlocked};

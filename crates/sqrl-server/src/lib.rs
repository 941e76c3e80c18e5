//! The website side of SQRL: nuts, login flows, verification, stores and an axum router.
//!
//! Not yet implemented; see the server issue. The wire format it will speak lives in
//! [`sqrl_proto`].

pub use sqrl_proto as proto;

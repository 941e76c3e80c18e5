//! SQRL for phone apps: `sqrl-client` through uniffi, for Kotlin (Android, JVM), Swift (iOS)
//! and Python. Nothing is re-implemented here: every step is sqrl-client's.
//!
//! - [`create_identity`], [`Identity`]: make, import, export, unlock, change the password,
//!   re-key. These block while EnScrypt runs (seconds) and report to a
//!   [`ProgressListener`], which can cancel.
//! - [`SqrlExchange`]: the signed exchange without IO. The app POSTs each request with its
//!   own HTTP client and trust store and feeds back the status and body; the exchange answers
//!   with the next request, a [`Prompt`] for the user, or the [`Outcome`].
//! - [`SqrlError`]: one error, its message fit for users.
//!
//! Secrets stay in Rust: the identity's keys live in [`UnlockedIdentity`] (never returned),
//! and are wiped when the last object holding them is dropped. Passwords and rescue codes
//! arrive as strings; the Rust copies are wiped, the app's own copies are the app's to clear.
//! A panic (there should be none) reaches the app as uniffi's internal-error exception,
//! never as a crash across the boundary.

uniffi::setup_scaffolding!();

#[cfg(feature = "vectors")]
mod bench;
mod error;
mod exchange;
mod identity;
mod link;
#[cfg(feature = "vectors")]
mod vectors;

#[cfg(feature = "vectors")]
pub use bench::{bench_replies, bench_rust_logins, BENCH_LINK};
pub use error::SqrlError;
pub use exchange::{
    tif_sqrl_disabled, Decision, ExchangeOptions, ExchangeStep, HttpRequest, Outcome, OutcomeKind,
    Prompt, QuestionButton, SiteQuestion, SqrlAction, SqrlExchange,
};
pub use identity::{
    create_identity, normalize_rescue_code, Identity, NewIdentity, ProgressListener, RescueCode,
    Stretch, StretchStage, UnlockedIdentity,
};
#[cfg(feature = "vectors")]
pub use vectors::{
    vector_base56_decode, vector_base56_line, vector_base56_textual, vector_enscrypt,
    vector_identity, vector_identity_lock, vector_ins, VectorKeys, VectorLock,
};

//! The client crate's error type.

/// Every way a client-side operation can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// EnScrypt was asked for zero iterations.
    #[error("EnScrypt needs at least one iteration")]
    ZeroIterations,
    /// scrypt refused its parameters (cannot happen with SQRL's fixed ones).
    #[error("scrypt rejected its parameters")]
    ScryptParameters,
    /// A wire-format error.
    #[error(transparent)]
    Proto(#[from] sqrl_proto::Error),
}

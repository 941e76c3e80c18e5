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
    /// AES-GCM refused to encrypt (cannot happen with these sizes).
    #[error("encryption failed")]
    Encryption,
    /// The password does not open the identity.
    #[error("wrong password")]
    WrongPassword,
    /// The rescue code does not open the identity.
    #[error("wrong rescue code")]
    WrongRescueCode,
    /// Not 24 digits (dashes and spaces aside).
    #[error("a rescue code is 24 digits")]
    InvalidRescueCode,
    /// The identity lacks a block the operation needs.
    #[error("the identity has no type {block_type} block")]
    MissingBlock {
        /// 1 = password, 2 = rescue code, 3 = previous keys.
        block_type: u16,
    },
    /// The S4 container is malformed.
    #[error("not a SQRL identity: {0}")]
    S4Container(&'static str),
    /// A block is malformed.
    #[error("identity block type {block_type}: {reason}")]
    S4Block {
        /// The block's type.
        block_type: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// A block type that may appear once appears twice.
    #[error("identity has two type {block_type} blocks")]
    S4DuplicateBlock {
        /// The block's type.
        block_type: u16,
    },
    /// The textual identity has a typo (line 1-based; 0 when no line is to blame).
    #[error("textual identity, line {line}: {reason}")]
    TextualIdentity {
        /// The line with the error.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A wire-format error.
    #[error(transparent)]
    Proto(#[from] sqrl_proto::Error),
}

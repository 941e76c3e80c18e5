//! The client crate's errors, one enum per layer.
//!
//! [`Error`] says which layer failed: the identity (keys, S4 storage, secrets), the exchange
//! (what the server or the user answered), the transport (reaching the server) or the wire
//! format. Each layer's enum names what went wrong there. Functions that touch one layer only
//! return that layer's error (an [`Identity`](crate::Identity) operation returns an
//! [`IdentityError`]); `?` lifts it into [`Error`].
//!
//! [`Error`] itself is exhaustive on purpose: a caller that maps failures (an exit code, an
//! HTTP status) handles the four layers, and a new layer would show up at compile time. The
//! layers' own enums are `#[non_exhaustive]`, so a caller decides what a layer's new variant
//! means by the layer it belongs to.

/// Every way a client-side operation can fail, by layer. Its message is the layer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The identity: its keys, its S4 storage, the password or rescue code.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The exchange: the server refused or the user cancelled.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The transport: the server could not be reached over HTTP(S).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A wire-format error (in a URL we were given, or in the server's reply).
    #[error(transparent)]
    Proto(#[from] sqrl_proto::Error),
}

/// The identity could not be made, opened or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// EnScrypt was asked for zero iterations.
    #[error("EnScrypt needs at least one iteration")]
    ZeroIterations,
    /// More EnScrypt iterations than this client runs (`keys::MAX_ITERATIONS`).
    #[error("{found} EnScrypt iterations is over this client's limit of {limit}")]
    TooManyIterations {
        /// The count asked for.
        found: u32,
        /// The limit.
        limit: u32,
    },
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
    /// The caller stopped EnScrypt through its progress callback.
    #[error("cancelled")]
    Cancelled,
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
}

/// The exchange with a server ended without doing what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The reply sets TIF bits this protocol version does not define: abort.
    #[error("the server replied with unknown TIF bits {0}")]
    UnknownTifBits(sqrl_proto::Tif),
    /// Two transient errors in a row: the login page has to be reloaded.
    #[error("the server reported a transient error twice; reload the login page for a new code")]
    TransientRepeated,
    /// The server does not support the command.
    #[error("the server does not support this command (tif {0})")]
    NotSupported(sqrl_proto::Tif),
    /// The server found the request malformed or a signature invalid.
    #[error("the server rejected the request as malformed (tif {0})")]
    ClientFailure(sqrl_proto::Tif),
    /// The server says the code belongs to an exchange of another identity (`0x100`).
    #[error("the server says this code belongs to another identity's exchange (tif {0})")]
    BadAssociation(sqrl_proto::Tif),
    /// The command failed for another reason.
    #[error("the server refused the command (tif {0})")]
    CommandFailed(sqrl_proto::Tif),
    /// This identity was replaced by a newer one at this site.
    #[error("this identity has been replaced by a newer one at this site")]
    Superseded,
    /// SQRL login is disabled for this identity at this site; `enable` needs the rescue code.
    #[error(
        "SQRL login is disabled for this identity at this site; enable it with the rescue code"
    )]
    SqrlDisabled,
    /// The site does not know this identity (for disable, enable, remove).
    #[error("this site does not know this identity")]
    UnknownIdentity,
    /// The server did not return the `suk` the next step needs.
    #[error("the server did not return the stored unlock key (suk)")]
    MissingSuk,
    /// `enable`/`remove` need the identity unlock key from the rescue code.
    #[error("this command needs the rescue code")]
    NeedRescueCode,
    /// `opt=cps` was sent but the reply has no `url=` (reported in
    /// [`Outcome::redirect_error`](crate::exchange::Outcome::redirect_error), beside the
    /// command's success).
    #[error("the server did not return the url to open the session")]
    MissingCpsUrl,
    /// The user declined at the client's prompt (the site was then sent a `query` with
    /// `btn=2`, whatever became of it).
    #[error("cancelled")]
    Cancelled,
    /// A method was called in the wrong state of the exchange.
    #[error("the exchange is not waiting for that")]
    OutOfOrder,
}

/// The server could not be reached, or did not answer over HTTP as SQRL needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The SQRL URL asks for plain HTTP to a host that is not loopback, or plain HTTP was not
    /// allowed.
    #[error("refusing plain HTTP to {0}")]
    InsecureTransport(String),
    /// Network failure (connect, TLS, timeout).
    #[error("could not reach the server: {0}")]
    Network(String),
    /// The server answered with a non-200 status and no SQRL reply.
    #[error("the server answered HTTP {0}")]
    HttpStatus(u16),
    /// The reply is larger than the client accepts.
    #[error("the server's reply is too large")]
    ReplyTooLarge,
    /// Extra CA certificates could not be read or used.
    #[error("cannot use CA certificates from {0}")]
    CaCertificate(String),
}

impl TransportError {
    /// A network failure because the server's TLS certificate is signed by a CA not trusted
    /// here (a private or test CA): the fix is to trust that CA (an extra CA file), never to
    /// turn TLS off.
    pub fn is_unknown_issuer(&self) -> bool {
        matches!(self, TransportError::Network(detail)
            if detail.ends_with(crate::transport::UNKNOWN_ISSUER))
    }
}

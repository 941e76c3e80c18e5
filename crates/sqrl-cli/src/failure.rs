//! How a run ends: a [`Failure`] is one sentence and a [`Kind`], whose number is the exit code.
//!
//! The client's errors map to a kind by layer ([`From<sqrl_client::Error>`]): a layer's new
//! error takes its layer's kind, and a new layer does not compile until it has one.

use sqrl_client::{ExchangeError, IdentityError, TransportError};

/// How a run ended; the process exit code tells scripts which kind of failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 1: anything not below.
    Other = 1,
    /// 3: wrong password or rescue code, missing or damaged identity file.
    Identity = 3,
    /// 4: the server could not be reached or answered with something that is not SQRL.
    Network = 4,
    /// 5: the server refused (unknown identity, disabled, superseded, failed command).
    Refused = 5,
    /// 6: the user cancelled.
    Cancelled = 6,
    /// 7: bad input: not a SQRL URL, unreadable QR image.
    Input = 7,
}

impl Kind {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }
}

/// A failure to report: one sentence, and its kind.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// What a command returns.
pub(crate) type Outcome = Result<(), Failure>;

/// The kind of an identity failure: the file, the password or the rescue code is to blame,
/// except for stretching limits and primitives that refuse their input.
fn identity_kind(error: &IdentityError) -> Kind {
    match error {
        IdentityError::ZeroIterations
        | IdentityError::TooManyIterations { .. }
        | IdentityError::ScryptParameters
        | IdentityError::Encryption => Kind::Other,
        _ => Kind::Identity,
    }
}

/// The kind of an exchange failure: the site refused, unless the user cancelled or this
/// client called the exchange out of turn.
fn exchange_kind(error: &ExchangeError) -> Kind {
    match error {
        ExchangeError::Cancelled => Kind::Cancelled,
        ExchangeError::OutOfOrder => Kind::Other,
        _ => Kind::Refused,
    }
}

/// The kind of a transport failure: the network, except for a CA file that cannot be used.
fn transport_kind(error: &TransportError) -> Kind {
    match error {
        TransportError::CaCertificate(_) => Kind::Other,
        _ => Kind::Network,
    }
}

impl From<sqrl_client::Error> for Failure {
    fn from(error: sqrl_client::Error) -> Self {
        use sqrl_client::Error as E;
        match &error {
            E::Identity(e) => Failure::new(identity_kind(e), error.to_string()),
            E::Exchange(e) => Failure::new(exchange_kind(e), error.to_string()),
            E::Transport(e) => Failure::new(transport_kind(e), error.to_string()),
            E::Proto(e) => Failure::new(
                Kind::Network,
                format!("the server's reply is not valid SQRL: {e}"),
            ),
        }
    }
}

impl From<IdentityError> for Failure {
    fn from(error: IdentityError) -> Self {
        Failure::from(sqrl_client::Error::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqrl_proto::Tif;

    #[test]
    fn client_errors_keep_their_exit_codes() {
        let cases: [(sqrl_client::Error, u8); 12] = [
            (IdentityError::WrongPassword.into(), 3),
            (IdentityError::S4Container("no blocks").into(), 3),
            (IdentityError::ZeroIterations.into(), 1),
            (
                IdentityError::TooManyIterations { found: 9, limit: 1 }.into(),
                1,
            ),
            (ExchangeError::CommandFailed(Tif::COMMAND_FAILED).into(), 5),
            (ExchangeError::MissingCpsUrl.into(), 5),
            (ExchangeError::Cancelled.into(), 6),
            (ExchangeError::OutOfOrder.into(), 1),
            (TransportError::HttpStatus(502).into(), 4),
            (
                TransportError::InsecureTransport("example.com".into()).into(),
                4,
            ),
            (TransportError::CaCertificate("ca.pem".into()).into(), 1),
            (sqrl_proto::Error::UrlMissingNut.into(), 4),
        ];
        for (error, code) in cases {
            let shown = format!("{error:?}");
            assert_eq!(Failure::from(error).kind.code(), code, "{shown}");
        }
    }

    #[test]
    fn a_failure_says_what_the_client_error_says() {
        let failure = Failure::from(sqrl_client::Error::from(IdentityError::WrongPassword));
        assert_eq!(failure.message, "wrong password");
        let failure = Failure::from(sqrl_client::Error::from(sqrl_proto::Error::UrlMissingNut));
        assert_eq!(
            failure.message,
            "the server's reply is not valid SQRL: the SQRL URL has no nut"
        );
    }
}

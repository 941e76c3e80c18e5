//! The one error of the bindings, with a message fit to show a user.

use sqrl_client::{ExchangeError, IdentityError, TransportError};

/// Everything that can go wrong through the bindings. Its message can be shown as it is;
/// the variant tells an app what to offer next (type the password again, ask for the rescue
/// code, reload the login page). Kotlin and Swift see one exception class per variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum SqrlError {
    /// The password does not open the identity.
    #[error("Wrong password.")]
    WrongPassword,
    /// The rescue code does not open the identity.
    #[error("This rescue code does not open this identity.")]
    WrongRescueCode,
    /// What was typed is not a rescue code.
    #[error("A rescue code is 24 digits (dashes and spaces do not matter).")]
    InvalidRescueCode,
    /// The app stopped EnScrypt through its progress listener.
    #[error("Cancelled.")]
    Cancelled,
    /// The data is not a SQRL identity, or a typed one has a typo.
    #[error("This is not a readable SQRL identity: {0}.")]
    InvalidIdentity(String),
    /// The identity lacks what the operation needs (a password, a rescue code block).
    #[error("This identity cannot do that: {0}.")]
    IncompleteIdentity(String),
    /// The scanned or clicked link is not a usable SQRL link.
    #[error("This is not a usable SQRL link: {0}.")]
    InvalidLink(String),
    /// The site's answer could not be read.
    #[error("The site's answer could not be read: {0}.")]
    InvalidReply(String),
    /// The app's HTTP client could not reach the site.
    #[error("The site could not be reached: {0}.")]
    Unreachable(String),
    /// The site answered with an HTTP error and no SQRL reply.
    #[error("The site answered with HTTP error {0}.")]
    HttpStatus(u16),
    /// The login code expired or was used: the page has to be reloaded.
    #[error("The login code has expired; reload the login page and scan again.")]
    Expired,
    /// SQRL login is disabled for this identity at this site.
    #[error("SQRL login is disabled for you at this site; enable it with your rescue code.")]
    SqrlDisabled,
    /// The site does not know this identity (for disable, enable, remove).
    #[error("This site does not know your identity.")]
    UnknownIdentity,
    /// The identity was replaced by a newer one at this site.
    #[error("This identity has been replaced by a newer one at this site.")]
    Superseded,
    /// Enable and remove need the rescue code.
    #[error("This needs your rescue code.")]
    NeedsRescueCode,
    /// The site refused the command.
    #[error("The site refused: {0}.")]
    Refused(String),
    /// The user declined (the site was told).
    #[error("You declined; the site was told.")]
    Declined,
    /// The app called the exchange in the wrong order (a bug in the app).
    #[error("The login was used out of order: {0}.")]
    OutOfOrder(String),
}

impl From<IdentityError> for SqrlError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::WrongPassword => Self::WrongPassword,
            IdentityError::WrongRescueCode => Self::WrongRescueCode,
            IdentityError::InvalidRescueCode => Self::InvalidRescueCode,
            IdentityError::Cancelled => Self::Cancelled,
            IdentityError::MissingBlock { .. } => Self::IncompleteIdentity(error.to_string()),
            other => Self::InvalidIdentity(other.to_string()),
        }
    }
}

impl From<ExchangeError> for SqrlError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::TransientRepeated => Self::Expired,
            ExchangeError::SqrlDisabled => Self::SqrlDisabled,
            ExchangeError::UnknownIdentity => Self::UnknownIdentity,
            ExchangeError::Superseded => Self::Superseded,
            ExchangeError::NeedRescueCode => Self::NeedsRescueCode,
            ExchangeError::Cancelled => Self::Declined,
            ExchangeError::OutOfOrder => Self::OutOfOrder(error.to_string()),
            ExchangeError::UnknownTifBits(_) | ExchangeError::MissingSuk => {
                Self::InvalidReply(error.to_string())
            }
            other => Self::Refused(other.to_string()),
        }
    }
}

impl From<sqrl_client::Error> for SqrlError {
    fn from(error: sqrl_client::Error) -> Self {
        match error {
            sqrl_client::Error::Identity(e) => e.into(),
            sqrl_client::Error::Exchange(e) => e.into(),
            sqrl_client::Error::Transport(TransportError::HttpStatus(status)) => {
                Self::HttpStatus(status)
            }
            sqrl_client::Error::Transport(e) => Self::InvalidReply(e.to_string()),
            sqrl_client::Error::Proto(e) => Self::InvalidReply(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_a_sentence_without_internal_names() {
        let all = [
            SqrlError::from(IdentityError::WrongPassword),
            IdentityError::MissingBlock { block_type: 1 }.into(),
            IdentityError::S4Container("too short").into(),
            ExchangeError::TransientRepeated.into(),
            ExchangeError::Cancelled.into(),
            sqrl_client::Error::from(TransportError::HttpStatus(503)).into(),
        ];
        for error in all {
            let text = error.to_string();
            assert!(text.ends_with('.'), "{text}");
            assert!(!text.contains("Error"), "{text}");
        }
        assert_eq!(
            SqrlError::from(sqrl_client::Error::from(TransportError::HttpStatus(503))),
            SqrlError::HttpStatus(503)
        );
    }
}

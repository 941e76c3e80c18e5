//! Why a request was refused: one precise cause, kept for logs and tests, and mapped to the
//! wire's TIF bits in exactly one place ([`Refusal::tif`]), the way rustls maps its errors to
//! alerts.

use sqrl_proto::Tif;

/// The precise reason a SQRL request was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not a SQRL request (`client`, `server`, `ids` missing or malformed).
    MalformedBody,
    /// `ver=` names no version this server speaks.
    UnsupportedVersion,
    /// `ids` (or `pids`) does not verify under `idk` (or `pidk`).
    BadSignature,
    /// The request URL has no `nut=`.
    MissingNut,
    /// The request URL names `nut=` more than once: which one the client meant is not ours to
    /// guess.
    DuplicatedNut,
    /// The nut was not minted by this server (or was tampered with).
    UnknownNut,
    /// The first request does not echo the URL we issued for its nut.
    EchoMismatch,
    /// A later request does not echo the reply we sent.
    ReplyEchoMismatch,
    /// The QR nut was already used by another exchange.
    NutReused,
    /// The reply nut is not the one the flow expects next (used, stale, or unknown flow).
    StaleNut,
    /// The login code's lifetime is over.
    Expired,
    /// An exchange must start with `query`.
    FirstNotQuery,
    /// A command this server does not implement.
    UnsupportedCommand,
    /// The request is signed by another identity than the one that began the exchange.
    IdentityChanged,
    /// The flow has ended (confirmed, rejected or redeemed): nothing more can happen on it.
    FlowClosed,
    /// This address (or its network prefix) opened too many logins recently.
    RateLimited,
    /// The command came from another IP than the browser's and the client did not set
    /// `opt=noiptest`.
    IpMismatch,
    /// The identity was replaced by a re-key.
    Superseded,
    /// The command needs an account this identity does not have.
    NoAccount,
    /// SQRL login is disabled for this account (`disable`); `enable` with the rescue code
    /// lifts it.
    Disabled,
    /// The site asked a question with buttons and the reply has no valid answer (missing
    /// `btn`, or `btn=0`, which answers a message without buttons).
    MissingAnswer,
    /// The user chose the second button ("Cancel") on the site's question.
    Declined,
    /// `urs` is missing or does not verify under the stored VUK.
    BadUnlockSignature,
    /// A new association or re-key without `suk` and `vuk`.
    MissingUnlockKeys,
    /// The site sends `sin`, and `ins` (or `pins`) is missing or does not match the stored
    /// value.
    IndexedSecretMismatch,
    /// Another request on the same flow won the race; nothing changed.
    Conflict,
    /// The store (or another backend) failed; nothing changed.
    Backend,
    /// The reply could not be written as `name=value` lines (the site's `ask`, `url=` or
    /// `sin` holds a character the wire forbids: a configuration fault); nothing changed.
    Unencodable,
}

impl Refusal {
    /// A stable, lower-case code for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MalformedBody => "malformed-body",
            Refusal::UnsupportedVersion => "unsupported-version",
            Refusal::BadSignature => "bad-signature",
            Refusal::MissingNut => "missing-nut",
            Refusal::DuplicatedNut => "duplicated-nut",
            Refusal::UnknownNut => "unknown-nut",
            Refusal::EchoMismatch => "echo-mismatch",
            Refusal::ReplyEchoMismatch => "reply-echo-mismatch",
            Refusal::NutReused => "nut-reused",
            Refusal::StaleNut => "stale-nut",
            Refusal::Expired => "expired",
            Refusal::FirstNotQuery => "first-not-query",
            Refusal::UnsupportedCommand => "unsupported-command",
            Refusal::IdentityChanged => "identity-changed",
            Refusal::FlowClosed => "flow-closed",
            Refusal::RateLimited => "rate-limited",
            Refusal::IpMismatch => "ip-mismatch",
            Refusal::Superseded => "superseded",
            Refusal::NoAccount => "no-account",
            Refusal::Disabled => "disabled",
            Refusal::MissingAnswer => "missing-answer",
            Refusal::Declined => "declined",
            Refusal::BadUnlockSignature => "bad-unlock-signature",
            Refusal::MissingUnlockKeys => "missing-unlock-keys",
            Refusal::IndexedSecretMismatch => "indexed-secret-mismatch",
            Refusal::Conflict => "conflict",
            Refusal::Backend => "backend",
            Refusal::Unencodable => "reply-unencodable",
        }
    }

    /// The failure bits this refusal puts on the wire (the reply adds the bits that describe
    /// what the server knows: id matches, IPs matched, disabled).
    ///
    /// - `0x60` (transient + failed): the client may retry with the fresh nut, or reload;
    ///   said of anything that a new login code or a moment's wait cures.
    /// - `0xC0` (client failure + failed): the request itself is wrong.
    /// - `0x50` (not supported + failed): a command we do not implement.
    /// - `0x140`/`0x1C0`: the identity does not belong to this exchange.
    /// - `0x40` alone: a valid request the server will not carry out.
    pub fn tif(self) -> Tif {
        let bits = match self {
            Refusal::MalformedBody
            | Refusal::BadSignature
            | Refusal::MissingNut
            | Refusal::DuplicatedNut
            | Refusal::UnknownNut
            | Refusal::EchoMismatch
            | Refusal::ReplyEchoMismatch
            | Refusal::FirstNotQuery
            | Refusal::MissingAnswer
            | Refusal::BadUnlockSignature
            | Refusal::MissingUnlockKeys
            | Refusal::IndexedSecretMismatch => 0xC0,
            Refusal::UnsupportedVersion | Refusal::UnsupportedCommand => 0x50,
            Refusal::NutReused
            | Refusal::StaleNut
            | Refusal::Expired
            | Refusal::RateLimited
            | Refusal::Conflict
            | Refusal::Backend => 0x60,
            Refusal::IdentityChanged => 0x1C0,
            Refusal::Superseded => 0x240,
            Refusal::FlowClosed
            | Refusal::IpMismatch
            | Refusal::NoAccount
            | Refusal::Disabled
            | Refusal::Declined
            | Refusal::Unencodable => 0x40,
        };
        Tif::from_bits(bits)
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_says_the_command_failed_and_codes_are_distinct() {
        let all = [
            Refusal::MalformedBody,
            Refusal::UnsupportedVersion,
            Refusal::BadSignature,
            Refusal::MissingNut,
            Refusal::DuplicatedNut,
            Refusal::UnknownNut,
            Refusal::EchoMismatch,
            Refusal::ReplyEchoMismatch,
            Refusal::NutReused,
            Refusal::StaleNut,
            Refusal::Expired,
            Refusal::FirstNotQuery,
            Refusal::UnsupportedCommand,
            Refusal::IdentityChanged,
            Refusal::FlowClosed,
            Refusal::RateLimited,
            Refusal::IpMismatch,
            Refusal::Superseded,
            Refusal::NoAccount,
            Refusal::Disabled,
            Refusal::MissingAnswer,
            Refusal::Declined,
            Refusal::BadUnlockSignature,
            Refusal::MissingUnlockKeys,
            Refusal::IndexedSecretMismatch,
            Refusal::Conflict,
            Refusal::Backend,
            Refusal::Unencodable,
        ];
        let mut codes = std::collections::HashSet::new();
        for refusal in all {
            assert!(refusal.tif().contains(Tif::COMMAND_FAILED), "{refusal}");
            assert!(codes.insert(refusal.code()), "duplicate code {refusal}");
        }
        assert_eq!(Refusal::UnsupportedCommand.tif().bits(), 0x50);
    }
}

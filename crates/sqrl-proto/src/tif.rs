//! Transaction Information Flags: the bit field a server returns as `tif=` (hexadecimal).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

use crate::{Error, Result};

/// The `tif=` value of a server reply.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Tif(u32);

const NAMES: [(u32, &str); 10] = [
    (0x001, "CURRENT_ID_MATCH"),
    (0x002, "PREVIOUS_ID_MATCH"),
    (0x004, "IPS_MATCHED"),
    (0x008, "SQRL_DISABLED"),
    (0x010, "FUNCTION_NOT_SUPPORTED"),
    (0x020, "TRANSIENT_ERROR"),
    (0x040, "COMMAND_FAILED"),
    (0x080, "CLIENT_FAILURE"),
    (0x100, "BAD_ID_ASSOCIATION"),
    (0x200, "IDENTITY_SUPERSEDED"),
];

impl Tif {
    /// The presented `idk` is associated with an account.
    pub const CURRENT_ID_MATCH: Tif = Tif(0x001);
    /// The presented `pidk` is associated with an account.
    pub const PREVIOUS_ID_MATCH: Tif = Tif(0x002);
    /// The request came from the IP address that fetched the SQRL URL.
    pub const IPS_MATCHED: Tif = Tif(0x004);
    /// SQRL login is disabled for this identity.
    pub const SQRL_DISABLED: Tif = Tif(0x008);
    /// The command (or an option it needs) is not supported; sent with `COMMAND_FAILED`.
    pub const FUNCTION_NOT_SUPPORTED: Tif = Tif(0x010);
    /// Retry with the new nut and `qry` (stale nut, for example); sent with `COMMAND_FAILED`.
    pub const TRANSIENT_ERROR: Tif = Tif(0x020);
    /// The command failed and changed nothing.
    pub const COMMAND_FAILED: Tif = Tif(0x040);
    /// The request was malformed or a signature failed; sent with `COMMAND_FAILED`.
    pub const CLIENT_FAILURE: Tif = Tif(0x080);
    /// The nut belongs to another identity's exchange.
    pub const BAD_ID_ASSOCIATION: Tif = Tif(0x100);
    /// The `idk` has been replaced by a newer identity.
    pub const IDENTITY_SUPERSEDED: Tif = Tif(0x200);

    /// Every bit defined by protocol version 1.
    pub const KNOWN_V1: Tif = Tif(0x3FF);

    /// The empty set.
    pub const fn empty() -> Self {
        Tif(0)
    }

    /// From raw bits.
    pub const fn from_bits(bits: u32) -> Self {
        Tif(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// `true` when every bit of `other` is set.
    pub const fn contains(self, other: Tif) -> bool {
        self.0 & other.0 == other.0
    }

    /// `true` when any bit of `other` is set.
    pub const fn intersects(self, other: Tif) -> bool {
        self.0 & other.0 != 0
    }

    /// This value without the bits of `other`.
    pub const fn without(self, other: Tif) -> Self {
        Tif(self.0 & !other.0)
    }

    /// Bits not defined by protocol `version`; a client must abort when any are set.
    pub const fn unknown_bits(self, version: u16) -> Tif {
        match version {
            1 => Tif(self.0 & !Self::KNOWN_V1.0),
            _ => Tif(self.0),
        }
    }

    /// Parses 1 to 8 hexadecimal digits of either case, leading zeros allowed, no `0x`.
    pub fn parse_hex(text: &str) -> Result<Self> {
        let digits = text.trim_start_matches('0');
        if text.is_empty()
            || text.len() > 16
            || digits.len() > 8
            || !text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(Error::InvalidTif);
        }
        if digits.is_empty() {
            return Ok(Tif(0));
        }
        u32::from_str_radix(digits, 16)
            .map(Tif)
            .map_err(|_| Error::InvalidTif)
    }
}

impl BitOr for Tif {
    type Output = Tif;
    fn bitor(self, rhs: Tif) -> Tif {
        Tif(self.0 | rhs.0)
    }
}

impl BitOrAssign for Tif {
    fn bitor_assign(&mut self, rhs: Tif) {
        self.0 |= rhs.0;
    }
}

/// Upper-case hexadecimal without leading zeros (`0` for none), as sent on the wire.
impl fmt::Display for Tif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", self.0)
    }
}

impl fmt::Debug for Tif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tif(0x{:X}", self.0)?;
        let mut sep = ": ";
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        let unknown = self.0 & !Self::KNOWN_V1.0;
        if unknown != 0 {
            write!(f, "{sep}0x{unknown:X}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_width() {
        for (text, bits) in [
            ("5", 5),
            ("c5", 0xC5),
            ("C5", 0xC5),
            ("0005", 5),
            ("0", 0),
            ("240", 0x240),
            ("FFFFFFFF", u32::MAX),
        ] {
            assert_eq!(Tif::parse_hex(text), Ok(Tif(bits)), "{text}");
        }
        for bad in ["", "0x5", "g", " 5", "5 ", "-1", "100000000", "+5"] {
            assert_eq!(Tif::parse_hex(bad), Err(Error::InvalidTif), "{bad:?}");
        }
    }

    #[test]
    fn formats_upper_case_without_leading_zeros() {
        assert_eq!(Tif(0xc5).to_string(), "C5");
        assert_eq!(Tif(0).to_string(), "0");
        assert_eq!(
            (Tif::COMMAND_FAILED | Tif::IDENTITY_SUPERSEDED).to_string(),
            "240"
        );
        assert_eq!(
            format!("{:?}", Tif(0x405)),
            "Tif(0x405: CURRENT_ID_MATCH|IPS_MATCHED|0x400)"
        );
    }

    #[test]
    fn unknown_bits_for_v1() {
        assert_eq!(Tif(0x3FF).unknown_bits(1), Tif(0));
        assert_eq!(Tif(0x405).unknown_bits(1), Tif(0x400));
    }
}

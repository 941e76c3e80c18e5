//! base64url (RFC 4648 §5) as SQRL uses it: encoded without padding; decoding also accepts
//! correct `=` padding, and rejects every other alphabet with an error naming the character.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::{Error, Result};

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    ENGINE.encode(bytes)
}

/// `true` for the 64 characters of the base64url alphabet.
pub fn is_alphabet(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Decodes base64url text, with or without padding.
///
/// Errors name the first character outside the alphabet (`+`, `/`, whitespace, ...), misplaced
/// padding, and non-canonical encodings (a dangling character or non-zero unused bits).
pub fn decode(text: &str) -> Result<Vec<u8>> {
    let unpadded = text.trim_end_matches('=');
    for (position, &byte) in unpadded.as_bytes().iter().enumerate() {
        if byte == b'=' {
            return Err(Error::Base64Padding);
        }
        if !is_alphabet(byte) {
            return Err(Error::Base64Alphabet { position, byte });
        }
    }
    check_padding(text)?;
    ENGINE
        .decode(unpadded)
        .map_err(|_| Error::Base64NonCanonical {
            len: unpadded.len(),
        })
}

/// Checks the trailing `=` padding of base64url text: none at all, or exactly the amount
/// that makes the length a multiple of four (`YQ==`, `YWI=`; never `YQ=` or `YWJj=`).
/// Only the end of `text` is looked at; the alphabet is checked elsewhere.
pub fn check_padding(text: &str) -> Result<()> {
    let padding = text.len().saturating_sub(text.trim_end_matches('=').len());
    if padding > 0 && (padding > 2 || !text.len().is_multiple_of(4)) {
        return Err(Error::Base64Padding);
    }
    Ok(())
}

/// Decodes base64url text that must hold exactly `N` bytes; `field` names it in the error.
pub fn decode_array<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N]> {
    // Reject absurd input before allocating for it.
    if text.len() > (N * 4).div_ceil(3) + 2 {
        return Err(Error::WrongLength {
            field,
            expected: N,
            found: text.len() * 3 / 4,
        });
    }
    let bytes = decode(text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| Error::WrongLength {
        field,
        expected: N,
        found: bytes.len(),
    })
}

/// Decodes base64url or standard base64, padded or not, ignoring nothing else.
///
/// Only for places where a peer is known to produce sloppy encodings (GRC's sample page
/// builds the localhost CPS path with a non-global replace, leaving some `+` and `/`).
pub fn decode_lenient(text: &str) -> Result<Vec<u8>> {
    let normalised: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    decode(&normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..70 {
            let text = encode(&data[..n]);
            assert!(!text.contains('='));
            assert_eq!(decode(&text).unwrap(), &data[..n]);
        }
    }

    #[test]
    fn accepts_padding_when_correct() {
        assert_eq!(decode("YQ==").unwrap(), b"a");
        assert_eq!(decode("YWI=").unwrap(), b"ab");
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn rejects_wrong_padding() {
        assert_eq!(decode("YQ="), Err(Error::Base64Padding));
        assert_eq!(decode("YQ==="), Err(Error::Base64Padding));
        assert_eq!(decode("Y=Q="), Err(Error::Base64Padding));
        assert_eq!(decode("===="), Err(Error::Base64Padding));
    }

    #[test]
    fn rejects_standard_alphabet_by_name() {
        assert_eq!(
            decode("ab+d"),
            Err(Error::Base64Alphabet {
                position: 2,
                byte: b'+'
            })
        );
        assert_eq!(
            decode("abc/"),
            Err(Error::Base64Alphabet {
                position: 3,
                byte: b'/'
            })
        );
        assert!(matches!(
            decode("ab cd"),
            Err(Error::Base64Alphabet { byte: b' ', .. })
        ));
        assert!(matches!(
            decode("ab\u{e9}"),
            Err(Error::Base64Alphabet { position: 2, .. })
        ));
    }

    #[test]
    fn rejects_non_canonical() {
        // one dangling character
        assert!(matches!(
            decode("abcde"),
            Err(Error::Base64NonCanonical { .. })
        ));
        // "YR" has non-zero unused bits ("YQ" is canonical for "a")
        assert!(matches!(
            decode("YR"),
            Err(Error::Base64NonCanonical { .. })
        ));
    }

    #[test]
    fn fixed_size_decoding_reports_lengths() {
        let text = encode([1u8; 31]);
        assert_eq!(
            decode_array::<32>(&text, "idk"),
            Err(Error::WrongLength {
                field: "idk",
                expected: 32,
                found: 31
            })
        );
        assert_eq!(
            decode_array::<32>(&encode([9u8; 32]), "idk").unwrap(),
            [9u8; 32]
        );
        // oversized input is refused before decoding
        let huge = "A".repeat(100_000);
        assert!(matches!(
            decode_array::<32>(&huge, "idk"),
            Err(Error::WrongLength { .. })
        ));
    }

    #[test]
    fn lenient_accepts_standard_alphabet() {
        assert_eq!(decode_lenient("-_+/").unwrap(), decode("-_-_").unwrap());
    }
}

//! The textual identity: base56 with a check character per line (`spec/keys.md` §9.5).
//!
//! Bytes are read as one little-endian number and written least-significant digit first, with
//! as many digits as the same number of `0xFF` bytes needs. Every 19 digits get a check
//! character — SHA-256 of those digits followed by the 0-based line number, as a little-endian
//! number, mod 56 — and the last, shorter line gets one too. Shown as groups of four, one line
//! of 20 per row.

use sha2::{Digest, Sha256};

use crate::error::IdentityError;

/// The 56 characters: digits and letters without 0, 1, I, O, l, o.
pub const ALPHABET: &[u8; 56] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";

const DATA_PER_LINE: usize = 19;

/// Largest input accepted by [`encode`]/[`decode`] (an identity is at most a few hundred bytes).
pub const MAX_BYTES: usize = 1024;

/// The character for a digit 0..56 (always a remainder of division by 56).
fn digit_char(d: u8) -> char {
    ALPHABET.get(usize::from(d)).map_or('2', |&c| char::from(c))
}

fn digit_value(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

/// log2(56) × 10⁹, rounded down.
const LOG2_56_NANO: u64 = 5_807_354_922;

/// Number of base56 digits for `len` bytes: the number of divisions by 56 that reduce an
/// all-`0xFF` number of that length to zero, i.e. the smallest `k` with `56^k ≥ 256^len`,
/// which is `⌈8·len / log2 56⌉`. Computed in integers; for every `len` up to [`MAX_BYTES`]
/// the quotient is at least 10⁻⁴ away from an integer, far more than the rounding of
/// `LOG2_56_NANO` can move it (a test compares it with the repeated division). Lengths over
/// [`MAX_BYTES`] give `usize::MAX`.
pub fn digits_for(len: usize) -> usize {
    if len > MAX_BYTES {
        return usize::MAX;
    }
    let bits_nano = (len as u64).saturating_mul(8_000_000_000);
    usize::try_from(bits_nano.div_ceil(LOG2_56_NANO)).unwrap_or(usize::MAX)
}

/// Characters of the full textual form (digits and one check character per line, no
/// spaces) for `len` bytes.
pub fn textual_len(len: usize) -> usize {
    let digits = digits_for(len);
    digits.saturating_add(digits.div_ceil(DATA_PER_LINE))
}

/// The byte length whose digit count is `digits`, if there is one (at most [`MAX_BYTES`]).
fn len_for_digits(digits: usize) -> Option<usize> {
    // len ≈ digits · log2 56 / 8; the exact one, if any, is next to that estimate.
    let estimate = (digits as u64)
        .saturating_mul(LOG2_56_NANO)
        .checked_div(8_000_000_000)
        .and_then(|n| usize::try_from(n).ok())?;
    (estimate.saturating_sub(1)..=estimate.saturating_add(1))
        .find(|&n| n <= MAX_BYTES && digits_for(n) == digits)
}

/// Divides a little-endian number in place, returning the remainder.
fn divide_in_place(number: &mut [u8], divisor: u32) -> u8 {
    let mut remainder = 0u32;
    for byte in number.iter_mut().rev() {
        let value = (remainder << 8) | u32::from(*byte);
        *byte = (value / divisor) as u8;
        remainder = value % divisor;
    }
    remainder as u8
}

/// The plain base56 digits of `bytes` (no check characters).
pub fn encode_digits(bytes: &[u8]) -> String {
    let mut number = bytes.to_vec();
    let mut out = String::with_capacity(digits_for(bytes.len()));
    for _ in 0..digits_for(bytes.len()) {
        let d = divide_in_place(&mut number, 56);
        out.push(digit_char(d));
    }
    out
}

/// The check character of one line of data digits.
pub fn check_char(data: &str, line: u8) -> char {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(data.as_bytes())
        .chain_update([line])
        .finalize()
        .into();
    let mut number = digest;
    digit_char(divide_in_place(&mut number, 56))
}

/// The full textual form: lines of 19 digits plus a check character, groups of four separated
/// by spaces, lines separated by `\n`.
pub fn encode(bytes: &[u8]) -> String {
    let digits = encode_digits(bytes);
    let mut lines = Vec::new();
    for (index, chunk) in digits.as_bytes().chunks(DATA_PER_LINE).enumerate() {
        let data = String::from_utf8_lossy(chunk);
        let mut line: Vec<u8> = chunk.to_vec();
        line.push(check_char(&data, index as u8) as u8);
        let groups: Vec<String> = line
            .chunks(4)
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect();
        lines.push(groups.join(" "));
    }
    lines.join("\n")
}

/// Decodes the textual form: spaces, tabs and line breaks anywhere are ignored; each line's
/// check character is verified and a mismatch names the (1-based) line; the result has the
/// byte length whose digit count matches.
pub fn decode(text: &str) -> Result<Vec<u8>, IdentityError> {
    let chars: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    if chars.len() > 2 * MAX_BYTES {
        return Err(IdentityError::TextualIdentity {
            line: 0,
            reason: "too long",
        });
    }
    if chars.is_empty() {
        return Err(IdentityError::TextualIdentity {
            line: 0,
            reason: "empty",
        });
    }
    let mut digits = Vec::with_capacity(chars.len());
    for (index, line) in chars.chunks(DATA_PER_LINE + 1).enumerate() {
        let number = index + 1;
        let bad = |reason| IdentityError::TextualIdentity {
            line: number,
            reason,
        };
        if line.iter().any(|&c| digit_value(c).is_none()) {
            return Err(bad("character not in the base56 alphabet"));
        }
        let (data, check) = line.split_at(line.len().saturating_sub(1));
        if data.is_empty() {
            return Err(bad("line has no data before its check character"));
        }
        let data_text = String::from_utf8_lossy(data);
        if check.first().copied() != Some(check_char(&data_text, index as u8) as u8) {
            return Err(bad("check character does not match: a typo on this line"));
        }
        digits.extend_from_slice(data);
    }
    decode_digits_bytes(&digits)
        .map_err(|reason| IdentityError::TextualIdentity { line: 0, reason })
}

/// Decodes plain base56 digits (no check characters).
pub fn decode_digits(digits: &str) -> Result<Vec<u8>, IdentityError> {
    decode_digits_bytes(digits.as_bytes())
        .map_err(|reason| IdentityError::TextualIdentity { line: 0, reason })
}

fn decode_digits_bytes(digits: &[u8]) -> Result<Vec<u8>, &'static str> {
    let len =
        len_for_digits(digits.len()).ok_or("the number of characters matches no byte length")?;
    let mut number = vec![0u8; len];
    for &c in digits.iter().rev() {
        let d = digit_value(c).ok_or("character not in the base56 alphabet")?;
        // number = number * 56 + d
        let mut carry = u32::from(d);
        for byte in number.iter_mut() {
            let value = u32::from(*byte) * 56 + carry;
            *byte = value as u8;
            carry = value >> 8;
        }
        if carry != 0 {
            return Err("value too large for its length");
        }
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for len in 1..80 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes, "{len}");
            assert_eq!(decode_digits(&encode_digits(&bytes)).unwrap(), bytes);
        }
        assert_eq!(digits_for(73), 101);
    }

    /// The digit count by repeated division, as the format defines it.
    fn digits_by_division(len: usize) -> usize {
        let mut number = vec![0xFFu8; len];
        let mut count = 0;
        while number.iter().any(|&b| b != 0) {
            divide_in_place(&mut number, 56);
            count += 1;
        }
        count
    }

    #[test]
    fn digit_count_formula_matches_repeated_division() {
        for len in (0..=200).chain([255, 256, 511, 512, 700, 1000, MAX_BYTES]) {
            assert_eq!(digits_for(len), digits_by_division(len), "{len}");
        }
        assert_eq!(digits_for(MAX_BYTES + 1), usize::MAX);
        assert_eq!(textual_len(73), 107);
    }

    #[test]
    fn a_digit_count_matching_no_length_is_refused_at_once() {
        // 95 digits fit no byte length (69 bytes need 96); this used to try every length up
        // to MAX_BYTES with a quadratic count each, for seconds.
        assert_eq!(len_for_digits(95), None);
        let started = std::time::Instant::now();
        for _ in 0..100 {
            assert!(decode_digits(&"2".repeat(95)).is_err());
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        for len in [1, 69, 73, 200, MAX_BYTES] {
            assert_eq!(len_for_digits(digits_for(len)), Some(len));
        }
    }

    #[test]
    fn a_typo_names_its_line() {
        let text = encode(&[0x5a; 73]);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let third = lines[2].clone();
        let replacement = if third.starts_with('2') { "3" } else { "2" };
        lines[2] = format!("{replacement}{}", &third[1..]);
        let err = decode(&lines.join("\n")).unwrap_err();
        assert_eq!(
            err,
            IdentityError::TextualIdentity {
                line: 3,
                reason: "check character does not match: a typo on this line"
            }
        );
        assert!(matches!(
            decode("0OIl"),
            Err(IdentityError::TextualIdentity { line: 1, .. })
        ));
        assert!(decode("").is_err());
    }
}

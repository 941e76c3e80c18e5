//! The CRLF-terminated `name=value` list that both `client=` and the server's reply carry.
//!
//! Order is kept and unknown names are kept: the list is signed data, and a peer must be able
//! to see (and a server must be able to echo) names this version does not understand.

use crate::{b64, Error, Result};

/// Size and count limits applied while parsing a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decoded list, in bytes.
    pub max_bytes: usize,
    /// Largest number of `name=value` lines.
    pub max_pairs: usize,
}

impl Limits {
    /// Defaults that fit every legitimate SQRL message with a wide margin: 4 KiB, 32 lines.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 4096,
        max_pairs: 32,
    };
}

impl Limits {
    /// The longest base64url text whose decoding can fit in `max_bytes` (padding included),
    /// saturating at `usize::MAX` for absurd limits.
    pub fn encoded_max_bytes(&self) -> usize {
        self.max_bytes.div_ceil(3).saturating_mul(4)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An ordered list of `name=value` pairs with unique names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameValueList {
    pairs: Vec<(String, String)>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(b64::is_alphabet)
}

fn check_value(name: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::ControlCharacter {
            name: truncate(name),
        });
    }
    Ok(())
}

fn truncate(text: &str) -> String {
    text.chars().take(32).collect()
}

impl NameValueList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pair, checking the name's syntax, the value's lack of control characters and
    /// the name's uniqueness.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let (name, value) = (name.into(), value.into());
        if !valid_name(&name) {
            return Err(Error::InvalidName {
                line: self.pairs.len() + 1,
            });
        }
        check_value(&name, &value)?;
        if self.get(&name).is_some() {
            return Err(Error::DuplicateName {
                name: truncate(&name),
            });
        }
        self.pairs.push((name, value));
        Ok(())
    }

    /// The value for `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Pairs in their original order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first name, if any.
    pub fn first_name(&self) -> Option<&str> {
        self.pairs.first().map(|(n, _)| n.as_str())
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// `true` when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Parses the plain text form. Every line ends with CR LF; the terminator of the last line
    /// may be missing. Empty lines, bare CR or LF, lines without `=`, bad names, control
    /// characters in values and repeated names are errors.
    pub fn parse(text: &str, limits: Limits) -> Result<Self> {
        if text.len() > limits.max_bytes {
            return Err(Error::TooLarge {
                what: "name=value list",
                limit: limits.max_bytes,
                found: text.len(),
            });
        }
        let mut list = Self::new();
        let body = text.strip_suffix("\r\n").unwrap_or(text);
        if body.is_empty() {
            return Ok(list);
        }
        for (index, line) in body.split("\r\n").enumerate() {
            let number = index + 1;
            if line.contains(['\r', '\n']) {
                return Err(Error::BadLineEnding { line: number });
            }
            if line.is_empty() {
                return Err(Error::EmptyLine { line: number });
            }
            if list.len() >= limits.max_pairs {
                return Err(Error::TooMany {
                    what: "name=value lines",
                    limit: limits.max_pairs,
                });
            }
            let (name, value) = line
                .split_once('=')
                .ok_or(Error::MissingEquals { line: number })?;
            if !valid_name(name) {
                return Err(Error::InvalidName { line: number });
            }
            list.push(name, value)?;
        }
        Ok(list)
    }

    /// Parses decoded bytes, which must be UTF-8.
    pub fn parse_bytes(bytes: &[u8], limits: Limits) -> Result<Self> {
        if bytes.len() > limits.max_bytes {
            return Err(Error::TooLarge {
                what: "name=value list",
                limit: limits.max_bytes,
                found: bytes.len(),
            });
        }
        let text = core::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
            what: "name=value list",
        })?;
        Self::parse(text, limits)
    }

    /// Decodes base64url text and parses the list inside it.
    pub fn decode(text: &str, limits: Limits) -> Result<Self> {
        let encoded_limit = limits.encoded_max_bytes();
        if text.len() > encoded_limit {
            return Err(Error::TooLarge {
                what: "base64url name=value list",
                limit: encoded_limit,
                found: text.len(),
            });
        }
        Self::parse_bytes(&b64::decode(text)?, limits)
    }

    /// The plain text form: every pair as `name=value` followed by CR LF.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.pairs {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push_str("\r\n");
        }
        out
    }

    /// The base64url form sent on the wire.
    pub fn encode(&self) -> String {
        b64::encode(self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NameValueList> {
        NameValueList::parse(text, Limits::DEFAULT)
    }

    #[test]
    fn keeps_order_and_unknown_names() {
        let list = parse("ver=1\r\nzzz=unknown\r\ncmd=query\r\n").unwrap();
        let names: Vec<_> = list.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ver", "zzz", "cmd"]);
        assert_eq!(list.get("zzz"), Some("unknown"));
        assert_eq!(list.to_text(), "ver=1\r\nzzz=unknown\r\ncmd=query\r\n");
    }

    #[test]
    fn value_may_contain_equals() {
        let list = parse("url=https://x.example/a?b=c\r\n").unwrap();
        assert_eq!(list.get("url"), Some("https://x.example/a?b=c"));
    }

    #[test]
    fn last_terminator_optional() {
        assert_eq!(
            parse("a=1\r\nb=2").unwrap(),
            parse("a=1\r\nb=2\r\n").unwrap()
        );
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\r\n").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(parse("a=1\nb=2\r\n"), Err(Error::BadLineEnding { line: 1 }));
        assert_eq!(parse("a=1\rb=2\r\n"), Err(Error::BadLineEnding { line: 1 }));
        assert_eq!(
            parse("a=1\r\n\r\nb=2\r\n"),
            Err(Error::EmptyLine { line: 2 })
        );
        assert_eq!(
            parse("a=1\r\nnoequals\r\n"),
            Err(Error::MissingEquals { line: 2 })
        );
        assert_eq!(parse("=1\r\n"), Err(Error::InvalidName { line: 1 }));
        assert_eq!(parse("a b=1\r\n"), Err(Error::InvalidName { line: 1 }));
        assert_eq!(
            parse("a=1\r\na=2\r\n"),
            Err(Error::DuplicateName { name: "a".into() })
        );
        assert_eq!(
            parse("a=x\u{0}y\r\n"),
            Err(Error::ControlCharacter { name: "a".into() })
        );
    }

    #[test]
    fn enforces_limits() {
        let many: String = (0..40).map(|i| format!("n{i}=v\r\n")).collect();
        assert_eq!(
            parse(&many),
            Err(Error::TooMany {
                what: "name=value lines",
                limit: 32
            })
        );
        let big = format!("a={}\r\n", "x".repeat(5000));
        assert!(matches!(parse(&big), Err(Error::TooLarge { .. })));
        let encoded = b64::encode(big.as_bytes());
        assert!(matches!(
            NameValueList::decode(&encoded, Limits::DEFAULT),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn decode_with_a_limit_near_usize_max_does_not_overflow() {
        for max_bytes in [usize::MAX, usize::MAX - 1, usize::MAX / 4 * 3 + 3] {
            let limits = Limits {
                max_bytes,
                max_pairs: 32,
            };
            assert_eq!(limits.encoded_max_bytes(), usize::MAX);
            let list = NameValueList::decode("dmVyPTENCg", limits).unwrap();
            assert_eq!(list.get("ver"), Some("1"));
        }
        assert_eq!(Limits::DEFAULT.encoded_max_bytes(), 5464);
    }

    #[test]
    fn rejects_non_utf8() {
        assert_eq!(
            NameValueList::parse_bytes(b"a=\xff\r\n", Limits::DEFAULT),
            Err(Error::NotUtf8 {
                what: "name=value list"
            })
        );
    }

    #[test]
    fn base64_round_trip() {
        let mut list = NameValueList::new();
        list.push("ver", "1").unwrap();
        list.push("cmd", "query").unwrap();
        let text = list.encode();
        assert_eq!(text, "dmVyPTENCmNtZD1xdWVyeQ0K");
        assert_eq!(NameValueList::decode(&text, Limits::DEFAULT).unwrap(), list);
    }

    #[test]
    fn push_validates() {
        let mut list = NameValueList::new();
        assert!(list.push("ok", "v").is_ok());
        assert!(list.push("ok", "v").is_err());
        assert!(list.push("bad name", "v").is_err());
        assert!(list.push("x", "line\r\nbreak").is_err());
    }
}

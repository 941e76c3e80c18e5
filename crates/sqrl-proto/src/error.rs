//! The one error type of the wire format: a variant per failed check.

/// Every way a SQRL wire value can fail to parse, encode or verify.
///
/// Variants are precise so that tests and logs can tell exactly which check failed; a server
/// maps all of them to one TIF value at its edge (see `spec/protocol.md` §7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- base64url ------------------------------------------------------------------------
    /// A character outside the base64url alphabet (for example `+` or `/` from standard base64).
    #[error("byte {byte:#04x} at position {position} is not in the base64url alphabet (A-Z a-z 0-9 - _)")]
    Base64Alphabet {
        /// Byte offset in the input.
        position: usize,
        /// The offending byte.
        byte: u8,
    },
    /// `=` padding anywhere but at the end, or the wrong amount of it.
    #[error("misplaced or wrong amount of '=' padding in base64url text")]
    Base64Padding,
    /// A length that no base64 encoding can have (one character left over), or unused bits set.
    #[error("base64url text of length {len} is not a canonical encoding")]
    Base64NonCanonical {
        /// Length of the text without padding.
        len: usize,
    },
    /// A decoded value that must have a fixed size does not.
    #[error("`{field}` must decode to {expected} bytes, got {found}")]
    WrongLength {
        /// Which field.
        field: &'static str,
        /// Required size in bytes.
        expected: usize,
        /// Size found.
        found: usize,
    },

    // ---- size limits ----------------------------------------------------------------------
    /// Input longer than the limit for its kind.
    #[error("{what} is {found} bytes, over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
        /// The size found.
        found: usize,
    },
    /// More items than the limit for their kind.
    #[error("{what}: more than {limit} items")]
    TooMany {
        /// What there were too many of.
        what: &'static str,
        /// The limit.
        limit: usize,
    },

    // ---- name=value lists -----------------------------------------------------------------
    /// Decoded bytes that are not UTF-8.
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// What was being decoded.
        what: &'static str,
    },
    /// A CR not followed by LF, or an LF not preceded by CR.
    #[error("line {line}: lines must end with CR LF")]
    BadLineEnding {
        /// 1-based line number.
        line: usize,
    },
    /// An empty line inside a name=value list.
    #[error("line {line} is empty")]
    EmptyLine {
        /// 1-based line number.
        line: usize,
    },
    /// A line without `=`.
    #[error("line {line} has no '='")]
    MissingEquals {
        /// 1-based line number.
        line: usize,
    },
    /// A name that is empty or has characters other than `A-Z a-z 0-9 _ -`.
    #[error("line {line}: invalid parameter name")]
    InvalidName {
        /// 1-based line number.
        line: usize,
    },
    /// A value containing a control character.
    #[error("value of `{name}` contains a control character")]
    ControlCharacter {
        /// The parameter's name.
        name: String,
    },
    /// The same name twice.
    #[error("parameter `{name}` appears more than once")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },

    // ---- typed parameters -----------------------------------------------------------------
    /// A required parameter is absent.
    #[error("required parameter `{name}` is missing")]
    MissingParameter {
        /// The missing name.
        name: &'static str,
    },
    /// `ver` must be the first parameter.
    #[error("`ver` must be the first parameter")]
    VersionNotFirst,
    /// A malformed `ver` value.
    #[error("invalid version list: {reason}")]
    InvalidVersion {
        /// What is wrong.
        reason: &'static str,
    },
    /// No version is supported by both sides.
    #[error("no protocol version in common")]
    NoCommonVersion,
    /// A malformed `tif` value.
    #[error("invalid tif: must be 1 to 8 hexadecimal digits")]
    InvalidTif,
    /// A parameter whose value fails its own syntax.
    #[error("invalid value for `{name}`: {reason}")]
    InvalidValue {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `qry`, `ask` button URLs and similar must be a path starting with a single `/`.
    #[error("`{name}` must be a root-anchored path (start with one '/')")]
    NotRootAnchored {
        /// The parameter's name.
        name: &'static str,
    },

    // ---- SQRL URL -------------------------------------------------------------------------
    /// The text does not start with a URL scheme at all.
    #[error("not a SQRL URL: it must start with sqrl://")]
    UrlScheme,
    /// A URL with a scheme other than `sqrl://` (for example the pre-2019 `qrl://`).
    #[error("unsupported scheme {scheme}:// (a SQRL URL starts with sqrl://)")]
    UnsupportedScheme {
        /// The scheme as written (letters, digits, `+`, `-`, `.`; at most 32 characters).
        scheme: String,
    },
    /// A character not allowed in a SQRL URL (space, control, or non-ASCII outside the host).
    #[error("invalid character at position {position} of the SQRL URL")]
    UrlCharacter {
        /// Byte offset of the character.
        position: usize,
    },
    /// The URL carries a `#fragment`.
    #[error("a SQRL URL must not have a #fragment")]
    UrlFragment,
    /// The host is empty or not a valid domain name or IP literal.
    #[error("invalid host in SQRL URL: {reason}")]
    UrlHost {
        /// What is wrong.
        reason: &'static str,
    },
    /// The port is not a number from 1 to 65535.
    #[error("invalid port in SQRL URL")]
    UrlPort,
    /// The URL has no `nut=` or an empty one.
    #[error("the SQRL URL has no nut")]
    UrlMissingNut,
    /// `nut`, `x` or `can` given twice.
    #[error("`{name}` appears more than once in the SQRL URL")]
    UrlDuplicateParameter {
        /// The repeated name.
        name: &'static str,
    },
    /// A malformed `x=` path extension.
    #[error("invalid x= path extension: {reason}")]
    UrlExtension {
        /// What is wrong.
        reason: &'static str,
    },
    /// `can=` is not base64url of an absolute http(s) URL or a root-anchored path.
    #[error("invalid can= cancel URL: {reason}")]
    UrlCancel {
        /// What is wrong.
        reason: &'static str,
    },

    // ---- POST body ------------------------------------------------------------------------
    /// The form body has a pair without `=` or a value with characters outside base64url.
    #[error("malformed form field `{name}`")]
    MalformedField {
        /// The field name (truncated to 32 characters).
        name: String,
    },

    /// A form field whose base64url value has misplaced `=` padding or the wrong amount.
    #[error("form field `{name}` has misplaced or the wrong amount of '=' padding")]
    FieldPadding {
        /// The field name.
        name: &'static str,
    },

    // ---- signatures -----------------------------------------------------------------------
    /// A public key that is not a valid Ed25519 point, or is of small order.
    #[error("`{field}` is not a valid Ed25519 public key")]
    InvalidPublicKey {
        /// Which key (`idk`, `pidk`, `vuk`).
        field: &'static str,
    },
    /// A signature that does not verify under `verify_strict`.
    #[error("signature `{field}` does not verify")]
    BadSignature {
        /// Which signature (`ids`, `pids`, `urs`).
        field: &'static str,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// A stable, kebab-case name of the failed check, for logs, metrics and the published
    /// test vectors (messages may be reworded; codes do not change).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Base64Alphabet { .. } => "base64-alphabet",
            Error::Base64Padding => "base64-padding",
            Error::Base64NonCanonical { .. } => "base64-non-canonical",
            Error::WrongLength { .. } => "wrong-length",
            Error::TooLarge { .. } => "too-large",
            Error::TooMany { .. } => "too-many",
            Error::NotUtf8 { .. } => "not-utf8",
            Error::BadLineEnding { .. } => "bad-line-ending",
            Error::EmptyLine { .. } => "empty-line",
            Error::MissingEquals { .. } => "missing-equals",
            Error::InvalidName { .. } => "invalid-name",
            Error::ControlCharacter { .. } => "control-character",
            Error::DuplicateName { .. } => "duplicate-name",
            Error::MissingParameter { .. } => "missing-parameter",
            Error::VersionNotFirst => "version-not-first",
            Error::InvalidVersion { .. } => "invalid-version",
            Error::NoCommonVersion => "no-common-version",
            Error::InvalidTif => "invalid-tif",
            Error::InvalidValue { .. } => "invalid-value",
            Error::NotRootAnchored { .. } => "not-root-anchored",
            Error::UrlScheme | Error::UnsupportedScheme { .. } => "url-scheme",
            Error::UrlCharacter { .. } => "url-character",
            Error::UrlFragment => "url-fragment",
            Error::UrlHost { .. } => "url-host",
            Error::UrlPort => "url-port",
            Error::UrlMissingNut => "url-missing-nut",
            Error::UrlDuplicateParameter { .. } => "url-duplicate-parameter",
            Error::UrlExtension { .. } => "url-extension",
            Error::UrlCancel { .. } => "url-cancel",
            Error::MalformedField { .. } => "malformed-field",
            Error::FieldPadding { .. } => "base64-padding",
            Error::InvalidPublicKey { .. } => "invalid-public-key",
            Error::BadSignature { .. } => "bad-signature",
        }
    }
}

//! What a grade is, and what the grading is told about the exchange.

use serde::Serialize;
use sqrl_proto::{ServerParams, Tif};

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The request follows the rule.
    Pass,
    /// Allowed, but some servers fail on it, or the spec's examples do otherwise.
    Warn,
    /// The request breaks the rule.
    Fail,
}

impl Verdict {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One graded rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grade {
    /// A short stable name, e.g. `client-crlf`.
    pub rule: &'static str,
    /// Where `spec/protocol.md` states the rule, e.g. `§1.2`.
    pub section: &'static str,
    /// Pass, warn or fail.
    pub verdict: Verdict,
    /// What was seen, in a sentence (at most [`MAX_EVIDENCE`] characters).
    pub evidence: String,
}

/// The longest evidence kept: client text quoted in it is cut there.
pub const MAX_EVIDENCE: usize = 240;

impl Grade {
    fn new(
        rule: &'static str,
        section: &'static str,
        verdict: Verdict,
        evidence: impl Into<String>,
    ) -> Self {
        let mut evidence: String = evidence.into();
        if evidence.chars().count() > MAX_EVIDENCE {
            evidence = evidence.chars().take(MAX_EVIDENCE).collect();
            evidence.push('…');
        }
        Self {
            rule,
            section,
            verdict,
            evidence,
        }
    }

    pub(crate) fn pass(
        rule: &'static str,
        section: &'static str,
        evidence: impl Into<String>,
    ) -> Self {
        Self::new(rule, section, Verdict::Pass, evidence)
    }

    pub(crate) fn warn(
        rule: &'static str,
        section: &'static str,
        evidence: impl Into<String>,
    ) -> Self {
        Self::new(rule, section, Verdict::Warn, evidence)
    }

    pub(crate) fn fail(
        rule: &'static str,
        section: &'static str,
        evidence: impl Into<String>,
    ) -> Self {
        Self::new(rule, section, Verdict::Fail, evidence)
    }
}

/// What the site replied before, on the same exchange, as the grading needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// The reply body exactly as sent (base64url): the next `server=` must be this text.
    pub text: String,
    /// Its TIF.
    pub tif: Tif,
    /// `Some(number of buttons)` when it carried `ask`.
    pub ask_buttons: Option<usize>,
    /// It carried `sin`: the next request must carry `ins`.
    pub sin: bool,
}

impl Previous {
    /// Reads a reply the site sent (its base64url body); `None` when it is not a SQRL reply
    /// (a refusal before any reply was made, say).
    pub fn from_reply(text: &str) -> Option<Self> {
        let params = ServerParams::decode(text.trim()).ok()?;
        Some(Self {
            text: text.trim().to_owned(),
            tif: params.tif,
            ask_buttons: params.ask.map(|ask| ask.buttons.len()),
            sin: params.sin.is_some(),
        })
    }
}

/// Where a request stands in its exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The `nut=` of the request's URL, if it had one.
    pub nut: Option<&'a str>,
    /// The site's previous reply on this exchange; `None` for the first request (the one
    /// that echoes the SQRL URL).
    pub previous: Option<&'a Previous>,
}

/// The grades of one request, and what the site needs to group it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graded {
    /// Every rule that applied, in the order checked.
    pub grades: Vec<Grade>,
    /// `cmd=`, when the client text could be read.
    pub command: Option<String>,
    /// `idk=`, when the client text could be read.
    pub idk: Option<String>,
    /// The request asked for CPS (`opt=cps`).
    pub cps: bool,
}

impl Graded {
    /// The number of grades with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.grades.iter().filter(|g| g.verdict == verdict).count()
    }
}

//! The results: verdicts, checks, the report, and the wire the battery talks through.

use serde::Serialize;

use super::catalog::CATALOG;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The server did what the rule says.
    Pass,
    /// The server departs from a recommendation (not a requirement); not a failure.
    Warn,
    /// The server broke a requirement.
    Fail,
    /// The check could not apply to this server (say, it never sent `ask`).
    NotApplicable,
}

impl Verdict {
    /// The word printed for it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::NotApplicable => "n/a",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's id, from [`CATALOG`].
    pub id: &'static str,
    /// The section of our spec it tests.
    pub section: &'static str,
    /// What it checks, in a few words.
    pub title: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// Why, in a sentence.
    pub detail: String,
    /// The request sent (decoded), when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
    /// What came back (decoded), when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<String>,
}

impl Check {
    /// A result for the catalog entry `id` (an unknown id gets a placeholder section).
    pub fn new(id: &'static str, verdict: Verdict, detail: impl Into<String>) -> Self {
        let spec = CATALOG.iter().find(|s| s.id == id);
        Self {
            id,
            section: spec.map_or("?", |s| s.section),
            title: spec.map_or("?", |s| s.title),
            verdict,
            detail: detail.into(),
            sent: None,
            received: None,
        }
    }

    /// With the evidence of the exchange.
    pub fn with_evidence(mut self, sent: Option<String>, received: Option<String>) -> Self {
        self.sent = sent;
        self.received = received;
        self
    }
}

/// Counts of each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warned.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
    /// Not applicable.
    pub not_applicable: usize,
}

/// Every check of one run, in catalog order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was checked (the login page, code URL or command, as given).
    pub target: String,
    /// The results.
    pub checks: Vec<Check>,
    /// The counts.
    pub summary: Summary,
}

impl Report {
    /// A report of `checks`, sorted into catalog order, with its summary.
    pub fn new(target: impl Into<String>, mut checks: Vec<Check>) -> Self {
        let rank = |id: &str| {
            CATALOG
                .iter()
                .position(|s| s.id == id)
                .unwrap_or(usize::MAX)
        };
        checks.sort_by_key(|c| rank(c.id));
        let mut summary = Summary::default();
        for check in &checks {
            let count = match check.verdict {
                Verdict::Pass => &mut summary.pass,
                Verdict::Warn => &mut summary.warn,
                Verdict::Fail => &mut summary.fail,
                Verdict::NotApplicable => &mut summary.not_applicable,
            };
            *count = count.saturating_add(1);
        }
        Self {
            target: target.into(),
            checks,
            summary,
        }
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }
}

/// One HTTP answer as the battery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Location` header.
    pub location: Option<String>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// The battery's only way to the server.
pub trait Wire {
    /// A fresh `sqrl://` URL (a new login code); `None` when no more can be had.
    fn fresh_code(&mut self) -> Result<Option<String>, String>;
    /// POSTs a SQRL request body to an `https://` URL.
    fn post(&mut self, url: &str, body: &str) -> Result<Answer, String>;
    /// GETs a URL (a CPS link).
    fn get(&mut self, url: &str) -> Result<Answer, String>;
}

/// What a run needs besides the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A code older than the server's code lifetime, for the `expired-code` check.
    pub expired_code: Option<String>,
}

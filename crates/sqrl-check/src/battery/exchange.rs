//! The battery's moves: one request at a time, on fresh codes, with the results collected.

use sqrl_proto::{Button, Command, Options as Opt, ServerParams, Tif};

use super::phone::{decoded, Ask, Parts, Person, Session};
use super::report::{Answer, Check, Verdict, Wire};

/// One request and its reply.
pub(crate) struct Sent {
    pub(crate) sent: String,
    pub(crate) answer: Answer,
    pub(crate) reply: Result<ServerParams, String>,
}

impl Sent {
    pub(crate) fn received(&self) -> String {
        format!(
            "HTTP {}: {}",
            self.answer.status,
            decoded(&self.answer.body)
        )
    }

    pub(crate) fn tif(&self) -> Option<Tif> {
        self.reply.as_ref().ok().map(|r| r.tif)
    }
}

/// Why a step could not be taken.
pub(crate) struct Stop {
    pub(crate) verdict: Verdict,
    pub(crate) why: String,
    pub(crate) sent: Option<String>,
    pub(crate) received: Option<String>,
}

impl Stop {
    pub(crate) fn from_sent(sent: &Sent, why: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Fail,
            why: why.into(),
            sent: Some(sent.sent.clone()),
            received: Some(sent.received()),
        }
    }
}

impl From<String> for Stop {
    fn from(why: String) -> Self {
        Self {
            verdict: Verdict::Fail,
            why,
            sent: None,
            received: None,
        }
    }
}

/// A run in progress.
pub(crate) struct Battery<'w, W: Wire> {
    pub(crate) wire: &'w mut W,
    pub(crate) checks: Vec<Check>,
    /// Status and body of every reply, with the request, for the format checks.
    pub(crate) replies: Vec<(u16, String, String)>,
    /// Whether any query reply carried `ask`, and how answering it went.
    pub(crate) ask: Option<(Verdict, String)>,
}

impl<W: Wire> Battery<'_, W> {
    pub(crate) fn add(
        &mut self,
        id: &'static str,
        (verdict, detail): (Verdict, String),
        sent: Option<&Sent>,
    ) {
        let mut check = Check::new(id, verdict, detail);
        if verdict != Verdict::Pass {
            check = check.with_evidence(sent.map(|s| s.sent.clone()), sent.map(Sent::received));
        }
        self.checks.push(check);
    }

    pub(crate) fn skip(&mut self, ids: &[&'static str], stop: &Stop) {
        for id in ids {
            let verdict = match stop.verdict {
                Verdict::NotApplicable => Verdict::NotApplicable,
                _ => Verdict::Fail,
            };
            self.checks.push(
                Check::new(
                    id,
                    verdict,
                    format!(
                        "{}: {}",
                        if verdict == Verdict::Fail {
                            "could not run"
                        } else {
                            "not run"
                        },
                        stop.why
                    ),
                )
                .with_evidence(stop.sent.clone(), stop.received.clone()),
            );
        }
    }

    pub(crate) fn code(&mut self) -> Result<Session, Stop> {
        match self.wire.fresh_code() {
            Ok(Some(code)) => Ok(Session::start(&code)?),
            Ok(None) => Err(Stop {
                verdict: Verdict::NotApplicable,
                why: "no fresh code (give a login page, --code-url or --code-command)".into(),
                sent: None,
                received: None,
            }),
            Err(e) => Err(format!("could not get a fresh code: {e}").into()),
        }
    }

    /// Sends `parts`; a reply that decodes moves `session` on.
    pub(crate) fn send(&mut self, session: &mut Session, parts: &Parts) -> Result<Sent, Stop> {
        let answer = self
            .wire
            .post(&parts.url, &parts.body())
            .map_err(|e| Stop::from(format!("{e} (sending {})", parts.describe())))?;
        self.replies
            .push((answer.status, answer.body.clone(), parts.describe()));
        let text = answer.body.trim_end_matches(['\r', '\n']).to_owned();
        let reply = ServerParams::decode(&text).map_err(|e| e.to_string());
        if let Ok(params) = &reply {
            session.advance(&text, params.clone())?;
        }
        Ok(Sent {
            sent: parts.describe(),
            answer,
            reply,
        })
    }

    pub(crate) fn ask(
        &mut self,
        session: &mut Session,
        me: &Person,
        ask: &Ask<'_>,
    ) -> Result<Sent, Stop> {
        let parts = Parts::build(session, me, ask)?;
        self.send(session, &parts)
    }

    /// A fresh code and a query on it that must not fail.
    pub(crate) fn query(&mut self, me: &Person, mut ask: Ask<'_>) -> Result<(Session, Sent), Stop> {
        let mut session = self.code()?;
        ask.cmd = Command::Query;
        let sent = self.ask(&mut session, me, &ask)?;
        match sent.tif() {
            Some(t) if !t.contains(Tif::COMMAND_FAILED) => Ok((session, sent)),
            _ => Err(Stop::from_sent(&sent, "the query before it failed")),
        }
    }

    /// An `ident` on `session` answering the last reply's `ask` with button 1.
    pub(crate) fn ident(
        &mut self,
        session: &mut Session,
        me: &Person,
        mut ask: Ask<'_>,
    ) -> Result<Sent, Stop> {
        ask.cmd = Command::Ident;
        let asked = session.last.as_ref().is_some_and(|r| r.ask.is_some());
        if asked {
            ask.btn = Some(Button::First);
        }
        let sent = self.ask(session, me, &ask)?;
        if asked && self.ask.is_none() {
            let outcome = match sent.tif() {
                Some(t) if !t.contains(Tif::COMMAND_FAILED) => {
                    (Verdict::Pass, format!("asked; btn=1 answered (tif={t})"))
                }
                _ => (
                    Verdict::Fail,
                    "asked, and the ident answering with btn=1 was refused".into(),
                ),
            };
            self.ask = Some(outcome);
        }
        Ok(sent)
    }
}

pub(crate) fn with_suk(mut opt: Opt) -> Opt {
    opt.suk = true;
    opt
}

pub(crate) fn cps() -> Opt {
    Opt {
        cps: true,
        ..Opt::default()
    }
}

//! The battery's sequence: each scenario on fresh codes, each step judged by a plain function.

use sqrl_proto::{Button, Command, Options as Opt, ServerParams, Tif};

use super::format::{reply_format, FORMAT_IDS};
use super::phone::{decoded, tampered_echo, Ask, Parts, Person, Session};
use super::{Answer, Check, Options, Report, Verdict, Wire};

/// One request and its reply.
struct Sent {
    sent: String,
    answer: Answer,
    reply: Result<ServerParams, String>,
}

impl Sent {
    fn received(&self) -> String {
        format!(
            "HTTP {}: {}",
            self.answer.status,
            decoded(&self.answer.body)
        )
    }

    fn tif(&self) -> Option<Tif> {
        self.reply.as_ref().ok().map(|r| r.tif)
    }
}

/// Why a step could not be taken.
struct Stop {
    verdict: Verdict,
    why: String,
    sent: Option<String>,
    received: Option<String>,
}

impl Stop {
    fn from_sent(sent: &Sent, why: impl Into<String>) -> Self {
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

/// The verdict on a reply that must refuse: 0x40 set (and, when `also` is not empty, those
/// bits too; `recommended` missing only warns).
pub(crate) fn judge_refused(tif: Option<Tif>, also: Tif, recommended: Tif) -> (Verdict, String) {
    match tif {
        None => (Verdict::Fail, "the reply is not a SQRL reply".into()),
        Some(t) if !t.contains(Tif::COMMAND_FAILED) => {
            (Verdict::Fail, format!("accepted (tif={t}, no 0x40)"))
        }
        Some(t) if !t.contains(also) => (
            Verdict::Fail,
            format!("refused, but tif={t} lacks 0x{also}"),
        ),
        Some(t) if !t.contains(recommended) => (
            Verdict::Warn,
            format!("refused (tif={t}), without the recommended 0x{recommended}"),
        ),
        Some(t) => (Verdict::Pass, format!("refused (tif={t})")),
    }
}

/// The verdict on a reply that must succeed with `set` and without `clear` bits.
pub(crate) fn judge_ok(tif: Option<Tif>, set: Tif, clear: Tif) -> (Verdict, String) {
    match tif {
        None => (Verdict::Fail, "the reply is not a SQRL reply".into()),
        Some(t) if t.contains(Tif::COMMAND_FAILED) => (Verdict::Fail, format!("refused (tif={t})")),
        Some(t) if !t.contains(set) => (Verdict::Fail, format!("tif={t} lacks 0x{set}")),
        Some(t) if t.intersects(clear) => (Verdict::Fail, format!("tif={t} sets 0x{clear}")),
        Some(t) => (Verdict::Pass, format!("tif={t}")),
    }
}

/// The verdict on a CPS link opened twice: the second answer must differ and not succeed.
pub(crate) fn judge_single_use(first: &Answer, second: &Answer) -> (Verdict, String) {
    let ok = |a: &Answer| (200..400).contains(&a.status);
    if !ok(first) {
        return (
            Verdict::Fail,
            format!("the first use answered {}", first.status),
        );
    }
    if ok(second) && second.status == first.status && second.location == first.location {
        return (
            Verdict::Fail,
            format!("the second use answered like the first ({})", second.status),
        );
    }
    (
        Verdict::Pass,
        format!("first {}, then {}", first.status, second.status),
    )
}

/// A run in progress.
struct Battery<'w, W: Wire> {
    wire: &'w mut W,
    checks: Vec<Check>,
    /// Status and body of every reply, with the request, for the format checks.
    replies: Vec<(u16, String, String)>,
    /// Whether any query reply carried `ask`, and how answering it went.
    ask: Option<(Verdict, String)>,
}

impl<W: Wire> Battery<'_, W> {
    fn add(&mut self, id: &'static str, (verdict, detail): (Verdict, String), sent: Option<&Sent>) {
        let mut check = Check::new(id, verdict, detail);
        if verdict != Verdict::Pass {
            check = check.with_evidence(sent.map(|s| s.sent.clone()), sent.map(Sent::received));
        }
        self.checks.push(check);
    }

    fn skip(&mut self, ids: &[&'static str], stop: &Stop) {
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

    fn code(&mut self) -> Result<Session, Stop> {
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
    fn send(&mut self, session: &mut Session, parts: &Parts) -> Result<Sent, Stop> {
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

    fn ask(&mut self, session: &mut Session, me: &Person, ask: &Ask<'_>) -> Result<Sent, Stop> {
        let parts = Parts::build(session, me, ask)?;
        self.send(session, &parts)
    }

    /// A fresh code and a query on it that must not fail.
    fn query(&mut self, me: &Person, mut ask: Ask<'_>) -> Result<(Session, Sent), Stop> {
        let mut session = self.code()?;
        ask.cmd = Command::Query;
        let sent = self.ask(&mut session, me, &ask)?;
        match sent.tif() {
            Some(t) if !t.contains(Tif::COMMAND_FAILED) => Ok((session, sent)),
            _ => Err(Stop::from_sent(&sent, "the query before it failed")),
        }
    }

    /// An `ident` on `session` answering the last reply's `ask` with button 1.
    fn ident(
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

fn with_suk(mut opt: Opt) -> Opt {
    opt.suk = true;
    opt
}

fn cps() -> Opt {
    Opt {
        cps: true,
        ..Opt::default()
    }
}

/// The checks of the first scenario.
const CREATE: [&str; 5] = [
    "query-new",
    "ip-match",
    "nut-replay-query",
    "ident-new",
    "nut-replay-ident",
];

/// Runs the whole battery through `wire`; `target` names what was checked.
pub fn run<W: Wire>(wire: &mut W, target: &str, options: &Options) -> Report {
    let mut b = Battery {
        wire,
        checks: Vec::new(),
        replies: Vec::new(),
        ask: None,
    };
    let a = Person::random();
    if let Err(stop) = create(&mut b, &a) {
        let rest: Vec<&'static str> = CREATE
            .into_iter()
            .filter(|id| !b.checks.iter().any(|c| c.id == *id))
            .collect();
        b.skip(&rest, &stop);
    }
    let created = b
        .checks
        .iter()
        .any(|c| c.id == "ident-new" && c.verdict == Verdict::Pass);
    type Scenario<W> = fn(&mut Battery<'_, W>, &Person) -> Result<(), Stop>;
    // The checks of each scenario, whether it needs the account `create` made, and the run.
    let later: [(&[&'static str], bool, Scenario<W>); 8] = [
        (&["query-known", "opt-suk", "ident-known"], true, known),
        (
            &["tamper-client", "tamper-ids", "tamper-server", "echo-older"],
            true,
            tampering,
        ),
        (
            &["unknown-command", "cps-url-on-failure"],
            true,
            unknown_command,
        ),
        (&["query-first"], false, query_first),
        (&["duplicated-nut"], false, duplicated_nut),
        (&["cps-url", "cps-single-use"], true, cps_login),
        (
            &[
                "disable",
                "disabled-query",
                "disabled-ident-refused",
                "enable-bad-urs",
                "enable",
                "enabled-login",
            ],
            true,
            disable_enable,
        ),
        (
            &[
                "rekey-query",
                "rekey",
                "superseded",
                "remove",
                "removed-unknown",
            ],
            true,
            rekey_remove,
        ),
    ];
    for (ids, needs_account, scenario) in later {
        if needs_account && !created {
            b.skip(
                ids,
                &Stop::from("no account could be created (ident-new)".to_owned()),
            );
            continue;
        }
        let before = b.checks.len();
        if let Err(stop) = scenario(&mut b, &a) {
            let done: Vec<&str> = b.checks.iter().skip(before).map(|c| c.id).collect();
            let rest: Vec<&'static str> = ids
                .iter()
                .copied()
                .filter(|id| !done.contains(id))
                .collect();
            b.skip(&rest, &stop);
        }
    }
    expired(&mut b, &a, options);
    match b.ask.take() {
        Some(outcome) => b.add("ask-btn", outcome, None),
        None => b.add(
            "ask-btn",
            (Verdict::NotApplicable, "the server never sent ask".into()),
            None,
        ),
    }
    format_checks(&mut b);
    Report::new(target, b.checks)
}

/// query-new, ip-match, nut-replay-query, ident-new, nut-replay-ident.
fn create<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let mut session = b.code()?;
    let parts = Parts::build(&session, a, &Ask::new(Command::Query))?;
    let first = session.clone();
    let sent = b.send(&mut session, &parts)?;
    let ok = sent.tif().is_some_and(|t| !t.contains(Tif::COMMAND_FAILED));
    b.add(
        "query-new",
        judge_ok(sent.tif(), Tif::empty(), Tif::CURRENT_ID_MATCH),
        Some(&sent),
    );
    let ip = match sent.tif() {
        Some(t) if t.contains(Tif::IPS_MATCHED) => (Verdict::Pass, format!("tif={t}")),
        Some(t) => (
            Verdict::Warn,
            format!("tif={t}: the IP check is not reported"),
        ),
        None => (Verdict::Fail, "the reply is not a SQRL reply".into()),
    };
    b.add("ip-match", ip, Some(&sent));
    if !ok {
        return Err(Stop::from_sent(&sent, "the first query failed"));
    }
    let mut replay_session = first;
    let replay = b.send(&mut replay_session, &parts)?;
    b.add(
        "nut-replay-query",
        judge_refused(replay.tif(), Tif::empty(), Tif::empty()),
        Some(&replay),
    );
    let ident = Ask {
        lock: true,
        ..Ask::new(Command::Ident)
    };
    let before = session.clone();
    let parts = Parts::build(&session, a, &ident)?;
    let sent = b.send(&mut session, &parts)?;
    b.add(
        "ident-new",
        judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty()),
        Some(&sent),
    );
    let mut replay_session = before;
    let replay = b.send(&mut replay_session, &parts)?;
    b.add(
        "nut-replay-ident",
        judge_refused(replay.tif(), Tif::empty(), Tif::empty()),
        Some(&replay),
    );
    Ok(())
}

/// query-known, opt-suk, ident-known (and the ask check).
fn known<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let mut session = b.code()?;
    let ask = Ask {
        opt: with_suk(Opt::default()),
        ..Ask::new(Command::Query)
    };
    let sent = b.ask(&mut session, a, &ask)?;
    b.add(
        "query-known",
        judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty()),
        Some(&sent),
    );
    let suk = sent.reply.as_ref().ok().and_then(|r| r.suk);
    let verdict = match suk {
        Some(s) if s == a.lock.suk => (Verdict::Pass, "the stored suk came back".into()),
        Some(_) => (
            Verdict::Fail,
            "suk= differs from the one the account was made with".into(),
        ),
        None => (Verdict::Fail, "no suk= in the reply".into()),
    };
    b.add("opt-suk", verdict, Some(&sent));
    let sent = b.ident(&mut session, a, Ask::new(Command::Ident))?;
    b.add(
        "ident-known",
        judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty()),
        Some(&sent),
    );
    Ok(())
}

/// tamper-client, tamper-ids, tamper-server, echo-older.
fn tampering<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    type Tamper = fn(&mut Parts);
    let tampers: [(&'static str, Tamper); 2] = [
        ("tamper-client", Parts::tamper_client),
        ("tamper-ids", Parts::tamper_ids),
    ];
    for (id, tamper) in tampers {
        let (mut session, _) = b.query(a, Ask::new(Command::Query))?;
        let btn = session
            .last
            .as_ref()
            .and_then(|r| r.ask.as_ref())
            .map(|_| Button::First);
        let mut parts = Parts::build(
            &session,
            a,
            &Ask {
                btn,
                ..Ask::new(Command::Ident)
            },
        )?;
        tamper(&mut parts);
        let sent = b.send(&mut session, &parts)?;
        b.add(
            id,
            judge_refused(sent.tif(), Tif::empty(), Tif::CLIENT_FAILURE),
            Some(&sent),
        );
    }
    let (mut session, _) = b.query(a, Ask::new(Command::Query))?;
    let btn = session
        .last
        .as_ref()
        .and_then(|r| r.ask.as_ref())
        .map(|_| Button::First);
    session.echo = tampered_echo(&session.echo);
    let sent = b.ask(
        &mut session,
        a,
        &Ask {
            btn,
            ..Ask::new(Command::Ident)
        },
    )?;
    b.add(
        "tamper-server",
        judge_refused(sent.tif(), Tif::empty(), Tif::empty()),
        Some(&sent),
    );

    let (mut session, _) = b.query(a, Ask::new(Command::Query))?;
    let older = session.echo.clone();
    let sent = b.ask(&mut session, a, &Ask::new(Command::Query))?;
    if sent.tif().is_none_or(|t| t.contains(Tif::COMMAND_FAILED)) {
        return Err(Stop::from_sent(
            &sent,
            "a second query on the exchange failed",
        ));
    }
    let btn = session
        .last
        .as_ref()
        .and_then(|r| r.ask.as_ref())
        .map(|_| Button::First);
    session.echo = older;
    let sent = b.ask(
        &mut session,
        a,
        &Ask {
            btn,
            ..Ask::new(Command::Ident)
        },
    )?;
    b.add(
        "echo-older",
        judge_refused(sent.tif(), Tif::empty(), Tif::empty()),
        Some(&sent),
    );
    Ok(())
}

/// unknown-command, cps-url-on-failure.
fn unknown_command<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let (mut session, _) = b.query(
        a,
        Ask {
            opt: cps(),
            ..Ask::new(Command::Query)
        },
    )?;
    let ask = Ask {
        opt: cps(),
        ..Ask::new(Command::parse("frobnicate"))
    };
    let sent = b.ask(&mut session, a, &ask)?;
    b.add(
        "unknown-command",
        judge_refused(sent.tif(), Tif::FUNCTION_NOT_SUPPORTED, Tif::empty()),
        Some(&sent),
    );
    let url = match &sent.reply {
        Ok(r) if r.url.is_some() => (Verdict::Pass, "url= present".to_owned()),
        Ok(_) => (
            Verdict::Warn,
            "no url= on a failed command under opt=cps".to_owned(),
        ),
        Err(e) => (Verdict::Fail, format!("the reply does not decode: {e}")),
    };
    b.add("cps-url-on-failure", url, Some(&sent));
    Ok(())
}

/// query-first: an ident on a fresh code.
fn query_first<W: Wire>(b: &mut Battery<'_, W>, _: &Person) -> Result<(), Stop> {
    let stranger = Person::random();
    let mut session = b.code()?;
    let sent = b.ask(
        &mut session,
        &stranger,
        &Ask {
            lock: true,
            ..Ask::new(Command::Ident)
        },
    )?;
    b.add(
        "query-first",
        judge_refused(sent.tif(), Tif::empty(), Tif::empty()),
        Some(&sent),
    );
    Ok(())
}

/// duplicated-nut: `?nut=<right>&nut=<other>`.
fn duplicated_nut<W: Wire>(b: &mut Battery<'_, W>, _: &Person) -> Result<(), Stop> {
    let stranger = Person::random();
    let mut session = b.code()?;
    let mut parts = Parts::build(&session, &stranger, &Ask::new(Command::Query))?;
    parts.url.push_str("&nut=AAAAAAAAAAAAAAAA");
    let sent = b.send(&mut session, &parts)?;
    let verdict = match judge_refused(sent.tif(), Tif::empty(), Tif::empty()) {
        (Verdict::Fail, why) if sent.tif().is_some() => (Verdict::Warn, why),
        other => other,
    };
    b.add("duplicated-nut", verdict, Some(&sent));
    Ok(())
}

/// cps-url, cps-single-use.
fn cps_login<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let (mut session, _) = b.query(
        a,
        Ask {
            opt: cps(),
            ..Ask::new(Command::Query)
        },
    )?;
    let sent = b.ident(
        &mut session,
        a,
        Ask {
            opt: cps(),
            ..Ask::new(Command::Ident)
        },
    )?;
    let link = sent.reply.as_ref().ok().and_then(|r| r.url.clone());
    let verdict = match (
        judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty()),
        &link,
    ) {
        ((Verdict::Pass, _), Some(url)) => (Verdict::Pass, format!("url={url}")),
        ((Verdict::Pass, t), None) => (Verdict::Fail, format!("{t}, but no url=")),
        (other, _) => other,
    };
    b.add("cps-url", verdict, Some(&sent));
    let Some(link) = link else {
        return Err(Stop::from_sent(&sent, "no CPS url= to open"));
    };
    let url = session
        .url
        .resolve_link(&link)
        .map_err(|e| Stop::from_sent(&sent, format!("url={link} cannot be followed: {e}")))?;
    let first = b.wire.get(&url)?;
    let second = b.wire.get(&url)?;
    let verdict = judge_single_use(&first, &second);
    let mut check = Check::new("cps-single-use", verdict.0, verdict.1);
    if verdict.0 != Verdict::Pass {
        check = check.with_evidence(
            Some(format!("GET {url} twice")),
            Some(format!("{} then {}", first.status, second.status)),
        );
    }
    b.checks.push(check);
    Ok(())
}

/// disable, disabled-query, disabled-ident-refused, enable-bad-urs, enable, enabled-login.
fn disable_enable<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let (mut session, _) = b.query(a, Ask::new(Command::Query))?;
    let sent = b.ask(&mut session, a, &Ask::new(Command::Disable))?;
    let verdict = judge_ok(sent.tif(), Tif::SQRL_DISABLED, Tif::empty());
    let disabled = verdict.0 == Verdict::Pass;
    b.add("disable", verdict, Some(&sent));
    if !disabled {
        return Err(Stop::from_sent(&sent, "disable failed"));
    }
    let mut session = b.code()?;
    let sent = b.ask(
        &mut session,
        a,
        &Ask {
            opt: with_suk(Opt::default()),
            ..Ask::new(Command::Query)
        },
    )?;
    let suk = sent.reply.as_ref().ok().and_then(|r| r.suk);
    let verdict = match judge_ok(
        sent.tif(),
        Tif::CURRENT_ID_MATCH | Tif::SQRL_DISABLED,
        Tif::empty(),
    ) {
        (Verdict::Pass, t) if suk.is_none() => (Verdict::Fail, format!("{t}, but no suk=")),
        other => other,
    };
    b.add("disabled-query", verdict, Some(&sent));
    let suk = suk.unwrap_or(a.lock.suk);
    let sent = b.ident(&mut session, a, Ask::new(Command::Ident))?;
    b.add(
        "disabled-ident-refused",
        judge_refused(sent.tif(), Tif::empty(), Tif::empty()),
        Some(&sent),
    );

    let (mut session, _) = b.query(
        a,
        Ask {
            opt: with_suk(Opt::default()),
            ..Ask::new(Command::Query)
        },
    )?;
    let wrong = Person::random();
    let sent = b.ask(
        &mut session,
        a,
        &Ask {
            urs: Some((&wrong, suk)),
            ..Ask::new(Command::Enable)
        },
    )?;
    b.add(
        "enable-bad-urs",
        judge_refused(sent.tif(), Tif::SQRL_DISABLED, Tif::empty()),
        Some(&sent),
    );

    let (mut session, _) = b.query(
        a,
        Ask {
            opt: with_suk(Opt::default()),
            ..Ask::new(Command::Query)
        },
    )?;
    let sent = b.ask(
        &mut session,
        a,
        &Ask {
            urs: Some((a, suk)),
            ..Ask::new(Command::Enable)
        },
    )?;
    b.add(
        "enable",
        judge_ok(sent.tif(), Tif::empty(), Tif::SQRL_DISABLED),
        Some(&sent),
    );

    let (mut session, _) = b.query(a, Ask::new(Command::Query))?;
    let sent = b.ident(&mut session, a, Ask::new(Command::Ident))?;
    b.add(
        "enabled-login",
        judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty()),
        Some(&sent),
    );
    Ok(())
}

/// rekey-query, rekey, superseded, remove, removed-unknown.
fn rekey_remove<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
    let new = Person::random();
    let mut session = b.code()?;
    let query = Ask {
        opt: with_suk(Opt::default()),
        previous: Some(a),
        ..Ask::new(Command::Query)
    };
    let sent = b.ask(&mut session, &new, &query)?;
    let suk = sent.reply.as_ref().ok().and_then(|r| r.suk);
    let verdict = match judge_ok(sent.tif(), Tif::PREVIOUS_ID_MATCH, Tif::CURRENT_ID_MATCH) {
        (Verdict::Pass, t) if suk != Some(a.lock.suk) => (
            Verdict::Fail,
            format!("{t}, but not the old identity's suk="),
        ),
        other => other,
    };
    b.add("rekey-query", verdict, Some(&sent));
    let ident = Ask {
        lock: true,
        previous: Some(a),
        urs: Some((a, suk.unwrap_or(a.lock.suk))),
        ..Ask::new(Command::Ident)
    };
    let sent = b.ident(&mut session, &new, ident)?;
    let verdict = judge_ok(sent.tif(), Tif::CURRENT_ID_MATCH, Tif::empty());
    let rekeyed = verdict.0 == Verdict::Pass;
    b.add("rekey", verdict, Some(&sent));
    if rekeyed {
        let mut session = b.code()?;
        b.ask(&mut session, a, &Ask::new(Command::Query))?;
        let sent = b.ident(&mut session, a, Ask::new(Command::Ident))?;
        b.add(
            "superseded",
            judge_refused(sent.tif(), Tif::IDENTITY_SUPERSEDED, Tif::empty()),
            Some(&sent),
        );
    } else {
        b.skip(&["superseded"], &Stop::from("the re-key failed".to_owned()));
    }
    // The account now answers to `new` (or, when the re-key failed, still to `a`).
    let owner = if rekeyed { &new } else { a };
    let (mut session, query) = b.query(
        owner,
        Ask {
            opt: with_suk(Opt::default()),
            ..Ask::new(Command::Query)
        },
    )?;
    let suk = query
        .reply
        .as_ref()
        .ok()
        .and_then(|r| r.suk)
        .unwrap_or(owner.lock.suk);
    let sent = b.ask(
        &mut session,
        owner,
        &Ask {
            urs: Some((owner, suk)),
            ..Ask::new(Command::Remove)
        },
    )?;
    let verdict = judge_ok(sent.tif(), Tif::empty(), Tif::empty());
    let removed = verdict.0 == Verdict::Pass;
    b.add("remove", verdict, Some(&sent));
    if !removed {
        return Err(Stop::from_sent(&sent, "remove failed"));
    }
    let mut session = b.code()?;
    let sent = b.ask(&mut session, owner, &Ask::new(Command::Query))?;
    b.add(
        "removed-unknown",
        judge_ok(sent.tif(), Tif::empty(), Tif::CURRENT_ID_MATCH),
        Some(&sent),
    );
    Ok(())
}

/// expired-code, with `--expired-code`.
fn expired<W: Wire>(b: &mut Battery<'_, W>, a: &Person, options: &Options) {
    let Some(code) = &options.expired_code else {
        b.add(
            "expired-code",
            (Verdict::NotApplicable, "no --expired-code given".into()),
            None,
        );
        return;
    };
    let outcome = Session::start(code)
        .map_err(Stop::from)
        .and_then(|mut session| b.ask(&mut session, a, &Ask::new(Command::Query)));
    match outcome {
        Ok(sent) => b.add(
            "expired-code",
            judge_refused(sent.tif(), Tif::empty(), Tif::TRANSIENT_ERROR),
            Some(&sent),
        ),
        Err(stop) => b.skip(&["expired-code"], &stop),
    }
}

/// The format checks over every reply of the run: the worst verdict, with its evidence.
fn format_checks<W: Wire>(b: &mut Battery<'_, W>) {
    let count = b.replies.len();
    for (index, id) in FORMAT_IDS.iter().enumerate() {
        let mut worst: Option<(Verdict, String, &(u16, String, String))> = None;
        for reply in &b.replies {
            let Some((_, verdict, why)) = reply_format(reply.0, &reply.1).into_iter().nth(index)
            else {
                continue;
            };
            let rank = |v: Verdict| match v {
                Verdict::Fail => 3,
                Verdict::Warn => 2,
                Verdict::NotApplicable => 1,
                Verdict::Pass => 0,
            };
            if worst.as_ref().is_none_or(|w| rank(verdict) > rank(w.0)) {
                worst = Some((verdict, why, reply));
            }
        }
        let check = match worst {
            None => Check::new(id, Verdict::NotApplicable, "no reply came back"),
            Some((Verdict::Pass, _, _)) => {
                Check::new(id, Verdict::Pass, format!("{count} replies"))
            }
            Some((verdict, why, reply)) => Check::new(id, verdict, why).with_evidence(
                Some(reply.2.clone()),
                Some(format!("HTTP {}: {}", reply.0, decoded(&reply.1))),
            ),
        };
        b.checks.push(check);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_need_0x40_and_the_named_bits() {
        let t = Tif::from_bits;
        assert_eq!(
            judge_refused(Some(t(0x05)), Tif::empty(), Tif::empty()).0,
            Verdict::Fail
        );
        assert_eq!(
            judge_refused(Some(t(0x44)), Tif::FUNCTION_NOT_SUPPORTED, Tif::empty()).0,
            Verdict::Fail
        );
        assert_eq!(
            judge_refused(Some(t(0x54)), Tif::FUNCTION_NOT_SUPPORTED, Tif::empty()).0,
            Verdict::Pass
        );
        assert_eq!(
            judge_refused(Some(t(0x40)), Tif::empty(), Tif::CLIENT_FAILURE).0,
            Verdict::Warn
        );
        assert_eq!(
            judge_refused(None, Tif::empty(), Tif::empty()).0,
            Verdict::Fail
        );
    }

    #[test]
    fn successes_need_the_bits_and_no_0x40() {
        let t = Tif::from_bits;
        assert_eq!(
            judge_ok(Some(t(0x05)), Tif::CURRENT_ID_MATCH, Tif::empty()).0,
            Verdict::Pass
        );
        assert_eq!(
            judge_ok(Some(t(0x45)), Tif::CURRENT_ID_MATCH, Tif::empty()).0,
            Verdict::Fail
        );
        assert_eq!(
            judge_ok(Some(t(0x04)), Tif::CURRENT_ID_MATCH, Tif::empty()).0,
            Verdict::Fail
        );
        assert_eq!(
            judge_ok(Some(t(0x0D)), Tif::empty(), Tif::SQRL_DISABLED).0,
            Verdict::Fail
        );
    }

    #[test]
    fn a_cps_link_that_works_twice_fails() {
        let answer = |status, location: Option<&str>| Answer {
            status,
            location: location.map(str::to_owned),
            body: String::new(),
        };
        let login = answer(302, Some("/account"));
        assert_eq!(judge_single_use(&login, &login).0, Verdict::Fail);
        assert_eq!(
            judge_single_use(&login, &answer(403, None)).0,
            Verdict::Pass
        );
        assert_eq!(
            judge_single_use(&answer(404, None), &answer(403, None)).0,
            Verdict::Fail
        );
    }
}

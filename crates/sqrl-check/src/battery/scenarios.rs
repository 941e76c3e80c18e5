//! The scenarios: each on its own fresh codes, each adding the checks it names.

use sqrl_proto::{Button, Command, Options as Opt, Tif};

use super::exchange::{cps, with_suk, Battery, Stop};
use super::judge::{judge_ok, judge_refused, judge_single_use};
use super::phone::{tampered_echo, Ask, Parts, Person, Session};
use super::report::{Check, Options, Verdict, Wire};

/// query-new, ip-match, nut-replay-query, ident-new, nut-replay-ident.
pub(crate) fn create<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
    // Whether the reply to the ident that creates the account reports 0x01 is read both
    // ways (ours sets it, GRC's server does not): the next scenario's query-known tells
    // whether the account exists.
    b.add(
        "ident-new",
        judge_ok(sent.tif(), Tif::empty(), Tif::empty()),
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
pub(crate) fn known<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn tampering<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn unknown_command<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn query_first<W: Wire>(b: &mut Battery<'_, W>, _: &Person) -> Result<(), Stop> {
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
    // Clients begin with a query; a server that takes an ident without one (GRC's does)
    // departs from our recommendation, not from the protocol: a warn.
    let verdict = match judge_refused(sent.tif(), Tif::empty(), Tif::empty()) {
        (Verdict::Fail, why) => (Verdict::Warn, why),
        other => other,
    };
    b.add("query-first", verdict, Some(&sent));
    Ok(())
}

/// ver-anywhere: a query whose `client` has `ver` last.
pub(crate) fn ver_anywhere<W: Wire>(b: &mut Battery<'_, W>, _: &Person) -> Result<(), Stop> {
    let stranger = Person::random();
    let mut session = b.code()?;
    let ask = Ask {
        ver_last: true,
        ..Ask::new(Command::Query)
    };
    let sent = b.ask(&mut session, &stranger, &ask)?;
    let verdict = match judge_ok(sent.tif(), Tif::empty(), Tif::empty()) {
        (Verdict::Fail, why) => (Verdict::Warn, why),
        other => other,
    };
    b.add("ver-anywhere", verdict, Some(&sent));
    Ok(())
}

/// duplicated-nut: `?nut=<right>&nut=<other>`.
pub(crate) fn duplicated_nut<W: Wire>(b: &mut Battery<'_, W>, _: &Person) -> Result<(), Stop> {
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
pub(crate) fn cps_login<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn disable_enable<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn rekey_remove<W: Wire>(b: &mut Battery<'_, W>, a: &Person) -> Result<(), Stop> {
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
pub(crate) fn expired<W: Wire>(b: &mut Battery<'_, W>, a: &Person, options: &Options) {
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

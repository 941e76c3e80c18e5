//! The battery's sequence: the scenarios in order, then the format checks over every reply.

use super::exchange::{Battery, Stop};
use super::format::{reply_format, FORMAT_IDS};
use super::phone::{decoded, Person};
use super::report::{Check, Options, Report, Verdict, Wire};
use super::scenarios::{
    cps_login, create, disable_enable, duplicated_nut, expired, known, query_first, rekey_remove,
    tampering, unknown_command, ver_anywhere,
};

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
    // Why the scenarios that need an account cannot run: n/a when there was no code to
    // make one on, a failure otherwise.
    let mut no_account = Stop::from("no account could be created (ident-new)".to_owned());
    if let Err(stop) = create(&mut b, &a) {
        let rest: Vec<&'static str> = CREATE
            .into_iter()
            .filter(|id| !b.checks.iter().any(|c| c.id == *id))
            .collect();
        b.skip(&rest, &stop);
        if stop.verdict == Verdict::NotApplicable {
            no_account = stop;
        }
    }
    let created = b
        .checks
        .iter()
        .any(|c| c.id == "ident-new" && c.verdict == Verdict::Pass);
    type Scenario<W> = fn(&mut Battery<'_, W>, &Person) -> Result<(), Stop>;
    // The checks of each scenario, whether it needs the account `create` made, and the run.
    let later: [(&[&'static str], bool, Scenario<W>); 9] = [
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
        (&["ver-anywhere"], false, ver_anywhere),
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
            b.skip(ids, &no_account);
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
    use crate::battery::{Answer, CATALOG};

    /// A wire with no server behind it: codes as given, every request fails.
    struct Nowhere(Result<Option<String>, String>);

    impl Wire for Nowhere {
        fn fresh_code(&mut self) -> Result<Option<String>, String> {
            self.0.clone()
        }
        fn post(&mut self, url: &str, _: &str) -> Result<Answer, String> {
            Err(format!("{url}: connection refused"))
        }
        fn get(&mut self, url: &str) -> Result<Answer, String> {
            Err(format!("{url}: connection refused"))
        }
    }

    fn ids(report: &Report) -> Vec<&'static str> {
        report.checks.iter().map(|c| c.id).collect()
    }

    #[test]
    fn every_check_is_reported_once_in_catalog_order_whatever_happens() {
        let catalog: Vec<&str> = CATALOG.iter().map(|s| s.id).collect();
        for wire in [
            Nowhere(Ok(None)),
            Nowhere(Err("no page".into())),
            Nowhere(Ok(Some("sqrl://127.0.0.1:1/sqrl?nut=abc".into()))),
            Nowhere(Ok(Some("not a code".into()))),
        ] {
            let mut wire = wire;
            let report = run(&mut wire, "t", &Options::default());
            assert_eq!(ids(&report), catalog);
        }
    }

    #[test]
    fn no_codes_is_not_applicable_but_a_failing_server_fails() {
        let report = run(&mut Nowhere(Ok(None)), "t", &Options::default());
        assert!(!report.failed());
        assert_eq!(report.summary.not_applicable, CATALOG.len());

        let code = "sqrl://127.0.0.1:1/sqrl?nut=abc".to_owned();
        let report = run(&mut Nowhere(Ok(Some(code))), "t", &Options::default());
        assert!(report.failed());
        let first = &report.checks.iter().find(|c| c.id == "query-new").unwrap();
        assert_eq!(first.verdict, Verdict::Fail);
        assert!(
            first.detail.contains("connection refused"),
            "{}",
            first.detail
        );
        assert!(first.sent.is_none() && first.received.is_none());
    }
}

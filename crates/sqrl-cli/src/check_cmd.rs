//! `sqrl check`: the conformance battery against a SQRL server (the library is sqrl-check).

use clap::Args;
use sqrl_check::battery::{self, HttpWire, Report, Verdict};

use crate::failure::{Failure, Kind, Outcome};
use crate::global::Global;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The server's login page (https://…: its sqrl:// link, our widget's code API, or the QR
    /// code in one of its images) or one sqrl:// URL (then only the checks of one code run;
    /// give --code-url or --code-command for the whole battery)
    #[arg(required_unless_present_any = ["code_url", "code_command"])]
    target: Option<String>,
    /// A URL answering a fresh code: GET, or POST when GET is refused (JSON with `url`, a
    /// sqrl:// link, or form text `nut=…` as GRC's /nut.sqrl answers)
    #[arg(long, value_name = "URL")]
    code_url: Option<String>,
    /// A shell command printing a fresh sqrl:// URL each time it runs
    #[arg(long, value_name = "CMD", conflicts_with = "code_url")]
    code_command: Option<String>,
    /// A sqrl:// URL older than the server's code lifetime, for the expired-code check
    #[arg(long, value_name = "SQRL_URL")]
    expired_code: Option<String>,
    /// Print the report as JSON on standard output
    #[arg(long)]
    json: bool,
}

/// The text report: one line per check, the evidence under a failure or warning, a summary.
fn text(report: &Report) -> String {
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let section_width = report
        .checks
        .iter()
        .map(|c| c.section.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("sqrl check {}\n", report.target);
    for check in &report.checks {
        out.push_str(&format!(
            "{:<4}  {:<width$}  {:<section_width$}  {}: {}\n",
            check.verdict.label(),
            check.id,
            check.section,
            check.title,
            check.detail,
        ));
        if matches!(check.verdict, Verdict::Fail | Verdict::Warn) {
            if let Some(sent) = &check.sent {
                out.push_str(&format!("      sent:     {sent}\n"));
            }
            if let Some(received) = &check.received {
                out.push_str(&format!("      received: {received}\n"));
            }
        }
    }
    let s = report.summary;
    out.push_str(&format!(
        "{} checks: {} pass, {} warn, {} fail, {} n/a\n",
        report.checks.len(),
        s.pass,
        s.warn,
        s.fail,
        s.not_applicable
    ));
    out
}

pub(crate) fn run(global: &Global, args: CheckArgs) -> Outcome {
    let transport = global.transport()?;
    let mut wire = HttpWire::new(
        transport,
        args.target.as_deref(),
        args.code_url.as_deref(),
        args.code_command.as_deref(),
    )
    .map_err(|e| Failure::new(Kind::Input, e))?
    .with_qr_reader(crate::qr::sqrl_url_in_bytes);
    wire.first_code().map_err(|e| {
        let hint = if e.contains("unknown issuer") {
            " (trust the server's CA with --ca-cert FILE)"
        } else {
            ""
        };
        Failure::new(
            Kind::Network,
            format!("no login code to start with: {e}{hint}"),
        )
    })?;
    let target = args
        .target
        .clone()
        .or_else(|| args.code_url.clone())
        .or_else(|| args.code_command.clone())
        .unwrap_or_default();
    let options = battery::Options {
        expired_code: args.expired_code,
    };
    let report = battery::run(&mut wire, &target, &options);
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(Kind::Other, e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", text(&report));
    }
    if report.failed() {
        return Err(Failure::new(
            Kind::Other,
            format!(
                "{} of {} checks failed",
                report.summary.fail,
                report.checks.len()
            ),
        ));
    }
    Ok(())
}

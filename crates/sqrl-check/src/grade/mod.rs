//! Grading of the requests a SQRL client sends, without IO.
//!
//! The test site (`sqrl-site --check-clients`) hands every POST body its SQRL endpoint
//! receives to [`grade_request`], together with what it replied before on the same exchange
//! ([`Context`]), and shows the [`Grade`]s on a report page. Each grade names a rule, the
//! section of `spec/protocol.md` it comes from, a [`Verdict`] and the evidence: what the
//! client sent. Nothing here fails: a request that cannot be read is graded, not refused.
//!
//! - `form`: the POST body's fields and their base64url spelling (§7, §1.1);
//! - `lines`: the `client=` text, line by line (§1.2, §3);
//! - `rules`: what the request must carry after the previous reply (§4–§8).

mod form;
mod lines;
mod model;
mod rules;

use sqrl_proto::MAX_BODY_LEN;

pub use model::{Context, Grade, Graded, Previous, Verdict, MAX_EVIDENCE};

/// Grades one POST body sent to the SQRL endpoint.
pub fn grade_request(body: &[u8], context: &Context<'_>) -> Graded {
    let mut grades = Vec::new();
    let fields = form::grade_fields(body, &mut grades);
    let mut graded = Graded {
        grades: Vec::new(),
        command: None,
        idk: None,
        cps: false,
    };
    let list = fields
        .client
        .and_then(|client| lines::grade_client(client, &mut grades));
    if let Some(list) = &list {
        graded.command = list.get("cmd").map(str::to_owned);
        graded.idk = list.get("idk").map(str::to_owned);
        rules::grade_params(list, &fields, context, &mut grades, &mut graded.cps);
    }
    if let Some(server) = fields.server {
        grades.push(rules::grade_server_echo(server, context));
    }
    graded.grades = grades;
    graded
}

/// The grades of a body longer than the endpoint reads (`sqrl_proto::MAX_BODY_LEN`): the site
/// refuses it unread, so this is all there is to say.
pub fn grade_oversized() -> Graded {
    Graded {
        grades: vec![Grade::fail(
            "body-form",
            "§7",
            format!("the body is longer than {MAX_BODY_LEN} bytes (or did not arrive whole)"),
        )],
        command: None,
        idk: None,
        cps: false,
    }
}

/// The CPS rule (§8.4), graded by the site once the exchange is over: a client that asked
/// for CPS (`opt=cps`) and got a `url=` must send the browser there.
pub fn grade_cps(url_sent: bool, followed: bool) -> Grade {
    const RULE: &str = "cps-url-followed";
    match (url_sent, followed) {
        (_, true) => Grade::pass(RULE, "§8.4", "the browser opened the reply's url="),
        (true, false) => Grade::warn(
            RULE,
            "§8.4",
            "opt=cps was asked and the reply carried url=, but no browser has opened it yet",
        ),
        (false, false) => Grade::warn(
            RULE,
            "§8.4",
            "opt=cps was asked but no reply carried url= (the command did not succeed)",
        ),
    }
}

#[cfg(test)]
mod tests;

//! What a request must carry, given the previous reply of its exchange (§3–§8), and whether its
//! signatures verify (§7).

use sqrl_proto::{b64, signing_input, verify_signature, ClientParams, NameValueList, SqrlUrl, Tif};

use super::form::Fields;
use super::model::{Context, Grade, Previous};

/// Grades the typed parameters and everything that depends on the previous reply. Sets `cps`
/// when the request asked for CPS.
pub(super) fn grade_params(
    list: &NameValueList,
    fields: &Fields<'_>,
    context: &Context<'_>,
    grades: &mut Vec<Grade>,
    cps: &mut bool,
) {
    let params = match ClientParams::from_list(list) {
        Ok(params) => {
            grades.push(Grade::pass(
                "client-params",
                "§3",
                "ver, cmd and idk present; every value well-formed",
            ));
            Some(params)
        }
        Err(e) => {
            grades.push(Grade::fail("client-params", "§3", e.to_string()));
            None
        }
    };
    grades.push(match list.get("opt") {
        Some(opt) => Grade::pass("opt-present", "§3", format!("opt={opt}")),
        None => Grade::warn(
            "opt-present",
            "§3",
            "no opt= line: allowed, but at least two servers in use fail without one \
             (send opt=suk when there is nothing else to ask)",
        ),
    });
    *cps = list
        .get("opt")
        .is_some_and(|opt| opt.split('~').any(|token| token == "cps"));
    let command = list.get("cmd").unwrap_or_default();
    if context.previous.is_none() {
        grades.push(if command == "query" {
            Grade::pass("query-first", "§8.1", "the exchange starts with query")
        } else {
            Grade::fail(
                "query-first",
                "§8.1",
                format!("the first request of an exchange is cmd={command}, not query"),
            )
        });
    }
    if let Some(params) = &params {
        grade_signatures(params, fields, grades);
        grade_previous_key(params, fields, grades);
    }
    grade_urs(command, fields, context.previous, grades);
    if let Some(previous) = context.previous {
        grade_after_reply(list, command, previous, grades);
    }
    grade_btn(list, command, context.previous, grades);
}

/// `signature-ids`, `signature-pids`: Ed25519 `verify_strict` over the `client` text followed
/// by the `server` text, as sent.
fn grade_signatures(params: &ClientParams, fields: &Fields<'_>, grades: &mut Vec<Grade>) {
    let (Some(client), Some(server)) = (fields.client, fields.server) else {
        return;
    };
    let message = signing_input(client, server);
    let mut check = |rule: &'static str, key, key_name, signature: &str, signature_name| {
        let verdict = b64::decode_array::<64>(signature, signature_name)
            .and_then(|bytes| verify_signature(key, key_name, &message, &bytes, signature_name));
        grades.push(match verdict {
            Ok(()) => Grade::pass(
                rule,
                "§7",
                format!(
                    "{signature_name} verifies (strict) with {key_name} over client+server as sent"
                ),
            ),
            Err(e) => Grade::fail(
                rule,
                "§7",
                format!("{e} (signed text: client then server, as sent)"),
            ),
        });
    };
    if let Some(ids) = fields.ids {
        check("signature-ids", &params.idk, "idk", ids, "ids");
    }
    if let (Some(pidk), Some(pids)) = (&params.pidk, fields.pids) {
        check("signature-pids", pidk, "pidk", pids, "pids");
    }
}

/// `pidk-pids`: both or neither; `pidk-differs`: a previous key is not the current one.
fn grade_previous_key(params: &ClientParams, fields: &Fields<'_>, grades: &mut Vec<Grade>) {
    match (&params.pidk, fields.pids) {
        (None, None) => {}
        (Some(_), Some(_)) => grades.push(Grade::pass("pidk-pids", "§7", "pidk and pids together")),
        (Some(_), None) => grades.push(Grade::fail("pidk-pids", "§7", "pidk without pids")),
        (None, Some(_)) => grades.push(Grade::fail("pidk-pids", "§7", "pids without pidk")),
    }
    if let Some(pidk) = &params.pidk {
        grades.push(if *pidk == params.idk {
            Grade::fail("pidk-differs", "§3", "pidk is the same key as idk")
        } else {
            Grade::pass("pidk-differs", "§3", "pidk differs from idk")
        });
    }
}

/// The previous reply matched a previous identity only: the next `ident` re-keys.
fn is_rekey(previous: Option<&Previous>) -> bool {
    previous.is_some_and(|p| {
        usable(p)
            && p.tif.contains(Tif::PREVIOUS_ID_MATCH)
            && !p.tif.contains(Tif::CURRENT_ID_MATCH)
    })
}

/// A reply the client may act on: not a failure (after a failure, a client retries or stops;
/// the rules that follow a reply's facts do not apply).
fn usable(previous: &Previous) -> bool {
    !previous.tif.intersects(Tif::COMMAND_FAILED)
}

/// `urs`: required on `enable`, `remove` and the `ident` that re-keys; anywhere else nothing
/// verifies it.
fn grade_urs(
    command: &str,
    fields: &Fields<'_>,
    previous: Option<&Previous>,
    grades: &mut Vec<Grade>,
) {
    const RULE: &str = "urs";
    let rekey = command == "ident" && is_rekey(previous);
    let needed = matches!(command, "enable" | "remove") || rekey;
    let why = if rekey {
        "the ident that re-keys"
    } else {
        command
    };
    match (needed, fields.urs.is_some()) {
        (true, true) => grades.push(Grade::pass(RULE, "§8.3", format!("urs sent on {why}"))),
        (true, false) => grades.push(Grade::fail(
            RULE,
            "§8.3",
            format!("no urs on {why}: the server cannot check the unlock key"),
        )),
        (false, true) => grades.push(Grade::warn(
            RULE,
            "§8.3",
            format!("urs sent on cmd={command}, where nothing verifies it"),
        )),
        (false, false) => {}
    }
}

/// The keys an `ident` must carry after the previous reply (`new-identity-keys`,
/// `rekey-fields`), and `ins` after `sin`.
fn grade_after_reply(
    list: &NameValueList,
    command: &str,
    previous: &Previous,
    grades: &mut Vec<Grade>,
) {
    let has = |name| list.get(name).is_some();
    if previous.sin {
        grades.push(if has("ins") {
            Grade::pass(
                "ins-after-sin",
                "§4",
                "the reply carried sin; the request carries ins",
            )
        } else {
            Grade::fail(
                "ins-after-sin",
                "§4",
                "the reply carried sin but the request has no ins",
            )
        });
    }
    if command != "ident" || !usable(previous) {
        return;
    }
    if is_rekey(Some(previous)) {
        let missing: Vec<&str> = ["pidk", "suk", "vuk"]
            .into_iter()
            .filter(|n| !has(n))
            .collect();
        grades.push(if missing.is_empty() {
            Grade::pass(
                "rekey-fields",
                "§8.2",
                "re-key: pidk, suk and vuk sent (pids and urs graded apart)",
            )
        } else {
            Grade::fail(
                "rekey-fields",
                "§8.2",
                format!(
                    "the reply matched the previous identity only (tif {:X}); the ident lacks {}",
                    previous.tif.bits(),
                    missing.join(", ")
                ),
            )
        });
    } else if !previous.tif.contains(Tif::CURRENT_ID_MATCH) {
        let missing: Vec<&str> = ["suk", "vuk"].into_iter().filter(|n| !has(n)).collect();
        grades.push(if missing.is_empty() {
            Grade::pass(
                "new-identity-keys",
                "§8.2",
                "a new identity: suk and vuk sent",
            )
        } else {
            Grade::fail(
                "new-identity-keys",
                "§8.2",
                format!(
                    "the reply said the identity is new (tif {:X}); the ident lacks {}",
                    previous.tif.bits(),
                    missing.join(" and ")
                ),
            )
        });
    }
}

/// `btn`: only after a reply that carried `ask` (or `btn=2` on a query, which declines), and no
/// higher than the buttons offered.
fn grade_btn(
    list: &NameValueList,
    command: &str,
    previous: Option<&Previous>,
    grades: &mut Vec<Grade>,
) {
    const RULE: &str = "btn";
    let asked = previous.and_then(|p| p.ask_buttons);
    let Some(btn) = list.get("btn") else {
        if asked.is_some() && command != "query" {
            grades.push(Grade::warn(
                RULE,
                "§4.1",
                "the reply asked a question and the request has no btn: the question went unanswered",
            ));
        }
        return;
    };
    let value = match btn {
        "0" => 0usize,
        "1" => 1,
        "2" => 2,
        other => {
            grades.push(Grade::fail(
                RULE,
                "§3",
                format!("btn={other}; it is 0, 1 or 2"),
            ));
            return;
        }
    };
    grades.push(match asked {
        Some(buttons) if value <= buttons => Grade::pass(
            RULE,
            "§4.1",
            format!("btn={value} answers the reply's ask ({buttons} button(s))"),
        ),
        Some(buttons) => Grade::fail(
            RULE,
            "§4.1",
            format!("btn={value}, but the reply's ask had {buttons} button(s)"),
        ),
        None if command == "query" && value == 2 => {
            Grade::pass(RULE, "§8.1", "btn=2 on a query: the user declined")
        }
        None => Grade::fail(
            RULE,
            "§4.1",
            format!("btn={value} on cmd={command}, but no reply before it carried ask"),
        ),
    });
}

/// `server-echo`: the previous reply byte for byte, or the SQRL URL on the first request.
pub(super) fn grade_server_echo(server: &str, context: &Context<'_>) -> Grade {
    const RULE: &str = "server-echo";
    let start = |text: &str| -> String { text.chars().take(24).collect() };
    if let Some(previous) = context.previous {
        if server == previous.text {
            return Grade::pass(RULE, "§7", "server= is the previous reply, byte for byte");
        }
        return Grade::fail(
            RULE,
            "§7",
            format!(
                "server= ({} chars, {}…) is not the previous reply ({} chars, {}…)",
                server.len(),
                start(server),
                previous.text.len(),
                start(&previous.text)
            ),
        );
    }
    let decoded = b64::decode(server)
        .or_else(|_| b64::decode(server.trim_end_matches('=')))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some(text) = decoded else {
        return Grade::fail(RULE, "§7", "server= does not decode as base64url text");
    };
    if !text
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("sqrl://"))
    {
        return Grade::fail(
            RULE,
            "§7",
            format!(
                "server= is not the SQRL URL ({}…), and the site sent no reply on this nut",
                start(&text)
            ),
        );
    }
    match SqrlUrl::parse(&text) {
        Ok(url) => match context.nut {
            Some(nut) if url.nut() != nut => Grade::fail(
                RULE,
                "§7",
                format!(
                    "server= is a SQRL URL for nut {}, but the request went to nut {nut}",
                    url.nut()
                ),
            ),
            _ => Grade::pass(RULE, "§7", "server= is the SQRL URL of the code"),
        },
        Err(e) => Grade::fail(RULE, "§7", format!("server= is not a valid SQRL URL: {e}")),
    }
}

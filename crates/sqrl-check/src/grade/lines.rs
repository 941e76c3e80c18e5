//! The `client=` text: its line endings and `name=value` lines (§1.2), and where `ver` is (§3).

use sqrl_proto::{b64, NameValueList};

use super::model::Grade;

/// The most lines read from a client text (the spec's limit is 32).
const MAX_LINES: usize = 64;

/// Decodes the `client=` value and grades its lines; returns the pairs that could be read
/// (in order, each name once) for the rules that follow, or `None` when nothing could be.
pub(super) fn grade_client(client: &str, grades: &mut Vec<Grade>) -> Option<NameValueList> {
    let decoded = b64::decode(client).or_else(|_| b64::decode(client.trim_end_matches('=')));
    let bytes = match decoded {
        Ok(bytes) => bytes,
        Err(e) => {
            grades.push(Grade::fail(
                "client-decodes",
                "§1.1",
                format!("client= is not base64url: {e}"),
            ));
            return None;
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        grades.push(Grade::fail(
            "client-decodes",
            "§1.2",
            "client= decodes to bytes that are not UTF-8",
        ));
        return None;
    };
    grades.push(grade_line_endings(&text));
    let list = grade_lines(&text, grades);
    grades.push(grade_ver_position(&list));
    Some(list)
}

/// `client-crlf`: every line ends in CR LF.
fn grade_line_endings(text: &str) -> Grade {
    const RULE: &str = "client-crlf";
    let bytes = text.as_bytes();
    let mut bare_lf = 0usize;
    let mut bare_cr = 0usize;
    let mut crlf = 0usize;
    let mut i = 0usize;
    while let Some(&byte) = bytes.get(i) {
        let next = bytes.get(i.saturating_add(1)).copied();
        match (byte, next) {
            (b'\r', Some(b'\n')) => {
                crlf = crlf.saturating_add(1);
                i = i.saturating_add(1);
            }
            (b'\r', _) => bare_cr = bare_cr.saturating_add(1),
            (b'\n', _) => bare_lf = bare_lf.saturating_add(1),
            _ => {}
        }
        i = i.saturating_add(1);
    }
    if bare_lf > 0 || bare_cr > 0 {
        return Grade::fail(
            RULE,
            "§1.2",
            format!(
                "{bare_lf} line(s) end in a bare LF and {bare_cr} in a bare CR ({crlf} in CR LF); \
                 every line must end in CR LF"
            ),
        );
    }
    if !text.is_empty() && !text.ends_with("\r\n") {
        return Grade::warn(
            RULE,
            "§1.2",
            "the last line has no CR LF (accepted by us; the spec's examples end every line)",
        );
    }
    Grade::pass(
        RULE,
        "§1.2",
        format!("{crlf} line(s), each ending in CR LF"),
    )
}

/// `client-lines`: each line is `name=value`, no empty line, no name twice.
fn grade_lines(text: &str, grades: &mut Vec<Grade>) -> NameValueList {
    const RULE: &str = "client-lines";
    let mut list = NameValueList::new();
    let mut problems = Vec::new();
    let lines = split_lines(text);
    for (index, line) in lines.iter().enumerate().take(MAX_LINES) {
        let number = index.saturating_add(1);
        if line.is_empty() {
            problems.push(format!("line {number} is empty"));
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            problems.push(format!("line {number} has no '='"));
            continue;
        };
        if let Err(e) = list.push(name, value) {
            problems.push(format!("line {number}: {e}"));
        }
    }
    if lines.len() > MAX_LINES {
        problems.push(format!("more than {MAX_LINES} lines"));
    }
    grades.push(if problems.is_empty() {
        let names: Vec<&str> = list.iter().map(|(name, _)| name).collect();
        Grade::pass(RULE, "§1.2", format!("lines {}", names.join(", ")))
    } else {
        Grade::fail(RULE, "§1.2", problems.join("; "))
    });
    list
}

/// `ver-position`: `ver` is present; first is what the spec's examples do, any position is
/// accepted by GRC's server and ours.
fn grade_ver_position(list: &NameValueList) -> Grade {
    const RULE: &str = "ver-position";
    match list.iter().position(|(name, _)| name == "ver") {
        Some(0) => Grade::pass(RULE, "§3", "ver is the first line"),
        Some(n) => Grade::warn(
            RULE,
            "§3",
            format!(
                "ver is line {}; servers that follow GRC's accept it anywhere, but the spec's \
                 examples and some servers put it first",
                n.saturating_add(1)
            ),
        ),
        None => Grade::fail(RULE, "§3", "no ver line"),
    }
}

/// The lines of `text`, each ended by CR LF, a bare LF or a bare CR (the last may have no
/// terminator; a terminator at the very end does not start another line).
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(end) => {
                lines.push(rest.get(..end).unwrap_or_default());
                let skip = if rest.get(end..).is_some_and(|t| t.starts_with("\r\n")) {
                    2
                } else {
                    1
                };
                rest = rest.get(end.saturating_add(skip)..).unwrap_or_default();
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

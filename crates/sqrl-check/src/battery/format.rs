//! The reply format checks: decisions on one reply body's text, without IO.

use sqrl_proto::{b64, Tif};

use super::Verdict;

/// The format check ids, in the order [`reply_format`] returns them.
pub(crate) const FORMAT_IDS: [&str; 6] = [
    "reply-base64url",
    "reply-crlf",
    "reply-ver-first",
    "reply-tif-hex",
    "reply-qry-root",
    "reply-status",
];

/// The value of `name` in a decoded reply, read leniently (any line ending).
fn value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split('\n')
        .map(|line| line.trim_end_matches('\r'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
}

/// Judges one reply (HTTP `status` and body text) on each format rule: the ids
/// `reply-base64url`, `reply-crlf`, `reply-ver-first`, `reply-tif-hex`, `reply-qry-root` and
/// `reply-status` in that order, each with a verdict and, unless it passed, why.
pub fn reply_format(status: u16, body: &str) -> Vec<(&'static str, Verdict, String)> {
    let mut out = Vec::with_capacity(FORMAT_IDS.len());
    let status_verdict = match status {
        200 => (Verdict::Pass, String::new()),
        500.. => (Verdict::Fail, format!("HTTP status {status}")),
        _ => (
            Verdict::Warn,
            format!("HTTP status {status} (a SQRL reply comes with 200)"),
        ),
    };
    let text = body.trim_end_matches(['\r', '\n', ' ', '\t']);
    let decoded = if text.is_empty() {
        Err("empty body".to_owned())
    } else if let Some(at) = text.find('=') {
        Err(format!("`=` padding at byte {at}"))
    } else if let Some(bad) = text.bytes().position(|b| !b64::is_alphabet(b)) {
        Err(format!("byte {bad} is not in the base64url alphabet"))
    } else {
        b64::decode(text)
            .map_err(|e| e.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()))
    };
    let decoded = match decoded {
        Ok(decoded) => {
            out.push((FORMAT_IDS[0], Verdict::Pass, String::new()));
            decoded
        }
        Err(why) => {
            out.push((FORMAT_IDS[0], Verdict::Fail, why));
            for id in FORMAT_IDS.iter().skip(1).take(4) {
                out.push((
                    id,
                    Verdict::NotApplicable,
                    "the body does not decode".into(),
                ));
            }
            out.push((FORMAT_IDS[5], status_verdict.0, status_verdict.1));
            return out;
        }
    };
    out.push(match line_endings(&decoded) {
        Ok(()) => (FORMAT_IDS[1], Verdict::Pass, String::new()),
        Err((verdict, why)) => (FORMAT_IDS[1], verdict, why),
    });
    let first = decoded.split('\n').next().unwrap_or_default();
    let missing: Vec<&str> = ["nut", "tif", "qry"]
        .into_iter()
        .filter(|name| value(&decoded, name).is_none())
        .collect();
    out.push(if !first.starts_with("ver=") {
        (
            FORMAT_IDS[2],
            Verdict::Fail,
            format!("the first line is {first:?}"),
        )
    } else if !missing.is_empty() {
        (
            FORMAT_IDS[2],
            Verdict::Fail,
            format!("no {}", missing.join(", ")),
        )
    } else {
        (FORMAT_IDS[2], Verdict::Pass, String::new())
    });
    out.push(match value(&decoded, "tif") {
        None => (FORMAT_IDS[3], Verdict::Fail, "no tif".into()),
        Some(tif) => match Tif::parse_hex(tif) {
            Err(_) => (
                FORMAT_IDS[3],
                Verdict::Fail,
                format!("tif={tif} is not hexadecimal"),
            ),
            Ok(flags) if flags.unknown_bits(1) != Tif::empty() => (
                FORMAT_IDS[3],
                Verdict::Fail,
                format!("tif={tif} sets bits undefined in version 1"),
            ),
            Ok(_) => (FORMAT_IDS[3], Verdict::Pass, String::new()),
        },
    });
    out.push(match value(&decoded, "qry") {
        None => (FORMAT_IDS[4], Verdict::Fail, "no qry".into()),
        Some(qry) => match sqrl_proto::check_root_anchored(qry, "qry") {
            Ok(()) => (FORMAT_IDS[4], Verdict::Pass, String::new()),
            Err(_) => (
                FORMAT_IDS[4],
                Verdict::Fail,
                format!("qry={qry} is not a root-anchored path"),
            ),
        },
    });
    out.push((FORMAT_IDS[5], status_verdict.0, status_verdict.1));
    out
}

/// CR LF after every line: a bare CR or LF fails; a last line without one warns.
fn line_endings(text: &str) -> Result<(), (Verdict, String)> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| bytes.get(p)).copied();
        let next = bytes.get(i.saturating_add(1)).copied();
        if b == b'\n' && prev != Some(b'\r') {
            return Err((Verdict::Fail, format!("a bare LF at byte {i}")));
        }
        if b == b'\r' && next != Some(b'\n') {
            return Err((Verdict::Fail, format!("a bare CR at byte {i}")));
        }
    }
    if text.ends_with("\r\n") {
        Ok(())
    } else {
        Err((Verdict::Warn, "the last line has no CR LF".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(status: u16, body: &str) -> Vec<(&'static str, Verdict)> {
        reply_format(status, body)
            .into_iter()
            .map(|(id, v, _)| (id, v))
            .collect()
    }

    fn failing(status: u16, plain: &str) -> Vec<&'static str> {
        verdicts(status, &b64::encode(plain))
            .into_iter()
            .filter(|(_, v)| *v != Verdict::Pass)
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn a_good_reply_passes_every_format_check() {
        let good = "ver=1\r\nnut=abc\r\ntif=5\r\nqry=/sqrl?nut=abc\r\n";
        assert!(failing(200, good).is_empty());
    }

    #[test]
    fn a_decimal_or_prefixed_tif_fails() {
        assert_eq!(
            failing(200, "ver=1\r\nnut=a\r\ntif=0x5\r\nqry=/s\r\n"),
            ["reply-tif-hex"]
        );
        // 1024 in decimal reads as 0x1024: a bit above 0x200.
        assert_eq!(
            failing(200, "ver=1\r\nnut=a\r\ntif=1024\r\nqry=/s\r\n"),
            ["reply-tif-hex"]
        );
    }

    #[test]
    fn bare_lf_ver_not_first_and_absolute_qry_fail() {
        assert_eq!(
            failing(200, "ver=1\nnut=a\ntif=5\nqry=/s\n"),
            ["reply-crlf"]
        );
        assert_eq!(
            failing(200, "nut=a\r\nver=1\r\ntif=5\r\nqry=/s\r\n"),
            ["reply-ver-first"]
        );
        assert_eq!(
            failing(
                200,
                "ver=1\r\nnut=a\r\ntif=5\r\nqry=https://evil.example/s\r\n"
            ),
            ["reply-qry-root"]
        );
    }

    #[test]
    fn padding_fails_and_a_missing_last_crlf_warns() {
        let padded = format!("{}==", b64::encode("ver=1\r\nnut=a\r\ntif=5\r\nqry=/s"));
        assert_eq!(
            verdicts(200, &padded)[0],
            ("reply-base64url", Verdict::Fail)
        );
        let unterminated = verdicts(200, &b64::encode("ver=1\r\nnut=a\r\ntif=5\r\nqry=/s"));
        assert_eq!(unterminated[1], ("reply-crlf", Verdict::Warn));
    }

    #[test]
    fn a_server_error_status_fails_and_another_status_warns() {
        let good = b64::encode("ver=1\r\nnut=a\r\ntif=5\r\nqry=/s\r\n");
        assert_eq!(verdicts(500, &good)[5], ("reply-status", Verdict::Fail));
        assert_eq!(verdicts(400, &good)[5], ("reply-status", Verdict::Warn));
        assert_eq!(
            verdicts(500, "<html>")[0],
            ("reply-base64url", Verdict::Fail)
        );
    }
}

//! The checks, as data: what each sends and what passes (docs/conformance.md prints this table).

/// One check of the battery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// A stable id, used in the output and in `--json`.
    pub id: &'static str,
    /// The section of `spec/protocol.md` (`§n`) or `spec/server.md` (`server §n`) it tests.
    pub section: &'static str,
    /// What it checks, in a few words.
    pub title: &'static str,
    /// What the battery sends.
    pub sends: &'static str,
    /// What passes ("warn" names a recommendation rather than a requirement).
    pub passes: &'static str,
}

const fn spec(
    id: &'static str,
    section: &'static str,
    title: &'static str,
    sends: &'static str,
    passes: &'static str,
) -> Spec {
    Spec {
        id,
        section,
        title,
        sends,
        passes,
    }
}

/// Every check, in the order they are reported.
pub const CATALOG: &[Spec] = &[
    spec(
        "reply-base64url",
        "§4, §1.1",
        "replies are base64url without padding",
        "every request of the run",
        "every reply body is base64url (A-Z a-z 0-9 - _), no `=`",
    ),
    spec(
        "reply-crlf",
        "§1.2",
        "reply lines end in CR LF",
        "every request of the run",
        "every line ends in CR LF (a missing one after the last line: warn)",
    ),
    spec(
        "reply-ver-first",
        "§4",
        "`ver` is the first line",
        "every request of the run",
        "`ver=` first, `nut`, `tif`, `qry` present",
    ),
    spec(
        "reply-tif-hex",
        "§5",
        "TIF is hexadecimal",
        "every request of the run",
        "`tif` is 1-8 hex digits (no `0x`) and no bit above 0x200",
    ),
    spec(
        "reply-qry-root",
        "§4, §10.5",
        "`qry` is a root-anchored path",
        "every request of the run",
        "`qry` starts with one `/`, no scheme or host",
    ),
    spec(
        "reply-status",
        "§10 (HTTP status)",
        "replies come with status 200",
        "every request of the run",
        "200 (other 2xx-4xx with a SQRL body: warn; 5xx: fail)",
    ),
    spec(
        "query-new",
        "§8.1",
        "a new identity's query",
        "`query` by a fresh identity",
        "no 0x01, no 0x40",
    ),
    spec(
        "ip-match",
        "§5 (0x04)",
        "the IP check is reported",
        "`query` from the address that fetched the code",
        "0x04 set (absent: warn)",
    ),
    spec(
        "ident-new",
        "§8.2",
        "`ident` with `suk`/`vuk` creates an account",
        "`ident` with `suk`, `vuk` after that query",
        "no 0x40 (0x01 may or may not be set: GRC's server leaves it clear; query-known checks the account)",
    ),
    spec(
        "nut-replay-query",
        "§10.6",
        "a replayed query is refused",
        "the same `query` body again to the same URL",
        "0x40 set",
    ),
    spec(
        "nut-replay-ident",
        "§10.6",
        "a replayed ident is refused",
        "the same `ident` body again to the same URL",
        "0x40 set",
    ),
    spec(
        "query-known",
        "§8.1",
        "a known identity is recognised",
        "`query` by the identity just created, new code",
        "0x01 set, no 0x40",
    ),
    spec(
        "opt-suk",
        "§8.1",
        "`opt=suk` returns the stored `suk`",
        "that query carries `opt=suk`",
        "`suk=` equal to the one the account was created with",
    ),
    spec(
        "ident-known",
        "§8.2",
        "a known identity logs in",
        "`ident` after that query (with `btn=1` when it asked)",
        "0x01 set, no 0x40",
    ),
    spec(
        "ask-btn",
        "§4.1, server §3",
        "`ask` is well formed and `btn` honoured",
        "`ident` with `btn=1` after a reply with `ask`",
        "the `ask` parses and the answered `ident` succeeds (n/a when the server never asks)",
    ),
    spec(
        "tamper-client",
        "§7",
        "a changed byte in `client` is refused",
        "`ident` whose `client` text differs by one byte from what `ids` signs",
        "0x40 set (without 0x80: warn)",
    ),
    spec(
        "tamper-ids",
        "§7",
        "a changed byte in `ids` is refused",
        "`ident` whose signature has one byte changed",
        "0x40 set (without 0x80: warn)",
    ),
    spec(
        "tamper-server",
        "§7, §10.4",
        "a changed byte in the `server` echo is refused",
        "`ident` echoing the previous reply with one byte changed, validly signed",
        "0x40 set",
    ),
    spec(
        "echo-older",
        "§7",
        "the echo must be the previous reply",
        "query, query, then `ident` echoing the first reply",
        "0x40 set",
    ),
    spec(
        "unknown-command",
        "§5 (0x10)",
        "an unknown command is not supported",
        "`cmd=frobnicate` after a query",
        "0x10 and 0x40 set",
    ),
    spec(
        "query-first",
        "§8",
        "`query` comes first",
        "`ident` (with `suk`/`vuk`) on a fresh code, no query before",
        "0x40 set (accepted: warn, a recommendation of ours; clients begin with a query)",
    ),
    spec(
        "duplicated-nut",
        "server §1",
        "a request URL naming two nuts is refused",
        "`query` to `…?nut=<right>&nut=<other>`",
        "0x40 set (accepted: warn, a recommendation of ours)",
    ),
    spec(
        "ver-anywhere",
        "§3",
        "`ver` is read on any line of `client`",
        "`query` whose `client` has `cmd`, `idk` first and `ver` last",
        "answered without 0x40 (refused: warn, a robustness recommendation)",
    ),
    spec(
        "cps-url",
        "§8.4",
        "`opt=cps` gets a `url=`",
        "`query`, `ident` with `opt=cps`",
        "the `ident` succeeds and its reply has `url=`",
    ),
    spec(
        "cps-url-on-failure",
        "§10.10",
        "`opt=cps` gets a `url=` on a failed command",
        "an unknown command with `opt=cps`",
        "`url=` present (absent: warn)",
    ),
    spec(
        "cps-single-use",
        "§10.11",
        "the CPS link works once",
        "GET the `url=` twice",
        "the second answer differs from the first and is not a success (same answer twice: fail)",
    ),
    spec(
        "disable",
        "§8.3",
        "`disable` disables",
        "`query`, `disable`",
        "0x08 set, no 0x40",
    ),
    spec(
        "disabled-query",
        "§8.3",
        "a disabled account says so and returns `suk`",
        "`query` with `opt=suk`, new code",
        "0x01 and 0x08 set, `suk=` present",
    ),
    spec(
        "disabled-ident-refused",
        "§10.14",
        "a disabled account cannot log in",
        "`ident` after that query",
        "0x40 set",
    ),
    spec(
        "enable-bad-urs",
        "§8.3, §7",
        "`enable` with a wrong `urs` is refused",
        "`enable` whose `urs` is made with another key",
        "0x40 set, still 0x08",
    ),
    spec(
        "enable",
        "§8.3",
        "`enable` with a valid `urs` re-enables",
        "`query` with `opt=suk`, `enable` with `urs` from the identity's unlock key",
        "no 0x40, no 0x08",
    ),
    spec(
        "enabled-login",
        "§8.3",
        "a re-enabled account logs in",
        "`query`, `ident`, new code",
        "0x01 set, no 0x40",
    ),
    spec(
        "rekey-query",
        "§8.1",
        "a previous identity is recognised",
        "`query` by a new identity with `pidk` of the old one and `opt=suk`",
        "0x02 set, `suk=` of the old identity",
    ),
    spec(
        "rekey",
        "§8.2",
        "a re-key replaces the identity",
        "`ident` with `pidk`, `pids`, `urs`, new `suk`/`vuk`",
        "0x01 set, no 0x40",
    ),
    spec(
        "superseded",
        "§10.13",
        "a superseded identity is refused",
        "`query`, `ident` by the old identity",
        "the `ident` has 0x200 and 0x40",
    ),
    spec(
        "remove",
        "§8.3",
        "`remove` removes the identity",
        "`query` with `opt=suk`, `remove` with `urs`",
        "no 0x40",
    ),
    spec(
        "removed-unknown",
        "§8.3",
        "a removed identity is unknown",
        "`query` by the removed identity",
        "no 0x01, no 0x40",
    ),
    spec(
        "expired-code",
        "§10.6",
        "an expired code is refused",
        "`query` on the code given with `--expired-code`",
        "0x40 set (without 0x20: warn; n/a without the option)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_entry_is_filled() {
        for (i, spec) in CATALOG.iter().enumerate() {
            assert!(!spec.id.is_empty() && !spec.section.is_empty() && !spec.passes.is_empty());
            assert!(
                CATALOG.iter().skip(i + 1).all(|other| other.id != spec.id),
                "duplicate id {}",
                spec.id
            );
        }
    }

    #[test]
    fn the_conformance_document_lists_every_check() {
        let doc = include_str!("../../../../docs/conformance.md");
        for spec in CATALOG {
            assert!(
                doc.contains(&format!("| `{}` | {} |", spec.id, spec.section)),
                "docs/conformance.md lacks the row of {}",
                spec.id
            );
        }
    }
}

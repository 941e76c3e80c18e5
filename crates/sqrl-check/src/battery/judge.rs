//! The verdicts: plain functions of what came back.

use sqrl_proto::Tif;

use super::report::{Answer, Verdict};

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

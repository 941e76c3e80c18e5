//! Each rule with a good and a bad request.

use ed25519_dalek::{Signer, SigningKey};
use sqrl_proto::{b64, signing_input, Ask, ServerParams, Tif};

use super::*;

const URL: &str = "sqrl://example.com/sqrl?nut=abc";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn public(key: &SigningKey) -> String {
    b64::encode(key.verifying_key().as_bytes())
}

/// A request written by hand, signed by `key(1)`.
struct Request {
    lines: Vec<(String, String)>,
    eol: &'static str,
    server: String,
    pad: bool,
    pidk: Option<SigningKey>,
    urs: bool,
}

impl Request {
    fn query() -> Self {
        Self {
            lines: vec![
                ("ver".into(), "1".into()),
                ("cmd".into(), "query".into()),
                ("idk".into(), public(&key(1))),
                ("opt".into(), "suk".into()),
            ],
            eol: "\r\n",
            server: b64::encode(URL),
            pad: false,
            pidk: None,
            urs: false,
        }
    }

    fn after(previous: &Previous, command: &str) -> Self {
        let mut request = Self::query().set("cmd", command);
        request.server = previous.text.clone();
        request
    }

    fn set(mut self, name: &str, value: &str) -> Self {
        match self.lines.iter_mut().find(|(n, _)| n == name) {
            Some(line) => line.1 = value.to_owned(),
            None => self.lines.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.lines.retain(|(n, _)| n != name);
        self
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(n, v)| format!("{n}={v}{}", self.eol))
            .collect()
    }

    fn body(&self) -> Vec<u8> {
        let mut client = b64::encode(self.text());
        if self.pad {
            while !client.len().is_multiple_of(4) {
                client.push('=');
            }
        }
        let message = signing_input(&client, &self.server);
        let sign = |k: &SigningKey| b64::encode(k.sign(&message).to_bytes());
        let mut body = format!(
            "client={client}&server={}&ids={}",
            self.server,
            sign(&key(1))
        );
        if let Some(pidk) = &self.pidk {
            body.push_str(&format!("&pids={}", sign(pidk)));
        }
        if self.urs {
            body.push_str(&format!("&urs={}", sign(&key(9))));
        }
        body.into_bytes()
    }

    fn grade(&self, previous: Option<&Previous>) -> Graded {
        grade_request(
            &self.body(),
            &Context {
                nut: Some("abc"),
                previous,
            },
        )
    }
}

fn reply(tif: u32, ask: Option<Ask>, sin: bool) -> Previous {
    let mut params = ServerParams::new("n2", Tif::from_bits(tif), "/sqrl?nut=n2");
    params.ask = ask;
    params.sin = sin.then(|| "0".to_owned());
    Previous::from_reply(&params.encode().unwrap()).unwrap()
}

fn with(graded: &Graded, verdict: Verdict) -> Vec<&'static str> {
    graded
        .grades
        .iter()
        .filter(|g| g.verdict == verdict)
        .map(|g| g.rule)
        .collect()
}

fn verdict(graded: &Graded, rule: &str) -> Option<Verdict> {
    graded
        .grades
        .iter()
        .find(|g| g.rule == rule)
        .map(|g| g.verdict)
}

fn one_button() -> Option<Ask> {
    Some(Ask::new("Log in?").with_button("Yes", None).unwrap())
}

#[test]
fn a_good_first_query_passes_every_rule() {
    let graded = Request::query().grade(None);
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
    assert!(with(&graded, Verdict::Warn).is_empty(), "{graded:?}");
    for rule in [
        "body-form",
        "base64url-alphabet",
        "base64url-no-padding",
        "client-crlf",
        "client-lines",
        "ver-position",
        "client-params",
        "opt-present",
        "query-first",
        "signature-ids",
        "server-echo",
    ] {
        assert_eq!(verdict(&graded, rule), Some(Verdict::Pass), "{rule}");
    }
    assert_eq!(graded.command.as_deref(), Some("query"));
    assert_eq!(graded.idk, Some(public(&key(1))));
}

#[test]
fn lf_line_endings_fail_client_crlf() {
    let mut request = Request::query();
    request.eol = "\n";
    let graded = request.grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["client-crlf"]);
}

#[test]
fn a_last_line_without_crlf_is_a_warning() {
    let request = Request::query();
    let text = request.text();
    let client = b64::encode(text.trim_end());
    let ids = b64::encode(
        key(1)
            .sign(&signing_input(&client, &request.server))
            .to_bytes(),
    );
    let body = format!("client={client}&server={}&ids={ids}", request.server);
    let graded = grade_request(body.as_bytes(), &Context::default());
    assert_eq!(verdict(&graded, "client-crlf"), Some(Verdict::Warn));
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
}

#[test]
fn a_line_without_equals_fails_client_lines() {
    let mut request = Request::query();
    request.lines.push(("junk".into(), String::new()));
    let mut text = request.text();
    text = text.replace("junk=\r\n", "junk\r\n");
    let client = b64::encode(&text);
    let ids = b64::encode(
        key(1)
            .sign(&signing_input(&client, &request.server))
            .to_bytes(),
    );
    let body = format!("client={client}&server={}&ids={ids}", request.server);
    let graded = grade_request(body.as_bytes(), &Context::default());
    assert_eq!(with(&graded, Verdict::Fail), ["client-lines"]);
}

#[test]
fn a_name_twice_fails_client_lines() {
    let mut request = Request::query();
    request.lines.push(("opt".into(), "cps".into()));
    let graded = request.grade(None);
    assert!(
        with(&graded, Verdict::Fail).contains(&"client-lines"),
        "{graded:?}"
    );
}

#[test]
fn ver_after_cmd_is_a_warning_not_a_failure() {
    let mut request = Request::query();
    request.lines.swap(0, 1);
    let graded = request.grade(None);
    assert_eq!(with(&graded, Verdict::Warn), ["ver-position"]);
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
}

#[test]
fn a_missing_ver_fails() {
    let graded = Request::query().without("ver").grade(None);
    let failed = with(&graded, Verdict::Fail);
    assert!(failed.contains(&"ver-position"), "{failed:?}");
    assert!(failed.contains(&"client-params"), "{failed:?}");
}

#[test]
fn padding_fails_base64url_no_padding() {
    let mut request = Request::query();
    // Find a text whose encoding needs padding.
    while b64::encode(request.text()).len().is_multiple_of(4) {
        let filler = request.lines.last().map_or(0, |(_, v)| v.len());
        request = request.set("x", &"a".repeat(filler + 1));
    }
    request.pad = true;
    let graded = request.grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["base64url-no-padding"]);
    assert!(graded.grades.iter().any(|g| g.evidence.contains("client")));
}

#[test]
fn a_percent_encoded_value_fails_base64url_alphabet() {
    let body = Request::query().body();
    let body = String::from_utf8(body)
        .unwrap()
        .replacen("&ids=", "&ids=%3D", 1);
    let graded = grade_request(body.as_bytes(), &Context::default());
    let failed = with(&graded, Verdict::Fail);
    assert!(failed.contains(&"base64url-alphabet"), "{failed:?}");
    assert!(failed.contains(&"signature-ids"), "{failed:?}");
}

#[test]
fn a_missing_opt_is_a_warning() {
    let graded = Request::query().without("opt").grade(None);
    assert_eq!(with(&graded, Verdict::Warn), ["opt-present"]);
    assert!(with(&graded, Verdict::Fail).is_empty());
}

#[test]
fn a_server_echo_that_is_not_the_previous_reply_fails() {
    let previous = reply(0x05, None, false);
    let good = Request::after(&previous, "ident").set("suk", &public(&key(3)));
    assert_eq!(
        verdict(&good.grade(Some(&previous)), "server-echo"),
        Some(Verdict::Pass)
    );
    let mut bad = good;
    bad.server = format!("{}A", previous.text);
    assert_eq!(
        verdict(&bad.grade(Some(&previous)), "server-echo"),
        Some(Verdict::Fail)
    );
}

#[test]
fn a_first_request_echoing_another_codes_url_fails() {
    let graded = grade_request(
        &Request::query().body(),
        &Context {
            nut: Some("other"),
            previous: None,
        },
    );
    assert_eq!(with(&graded, Verdict::Fail), ["server-echo"]);
}

#[test]
fn a_wrong_signature_fails_signature_ids() {
    let request = Request::query();
    let body = String::from_utf8(request.body()).unwrap();
    let wrong = b64::encode(key(2).sign(b"something else").to_bytes());
    let (head, _) = body.split_once("&ids=").unwrap();
    let graded = grade_request(
        format!("{head}&ids={wrong}").as_bytes(),
        &Context::default(),
    );
    assert_eq!(with(&graded, Verdict::Fail), ["signature-ids"]);
}

#[test]
fn pidk_without_pids_fails_and_a_good_pair_passes() {
    let old = key(5);
    let mut request = Request::query().set("pidk", &public(&old));
    let graded = request.grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["pidk-pids"]);
    request.pidk = Some(old);
    let graded = request.grade(None);
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
    assert_eq!(verdict(&graded, "signature-pids"), Some(Verdict::Pass));
    assert_eq!(verdict(&graded, "pidk-differs"), Some(Verdict::Pass));
}

#[test]
fn a_pidk_equal_to_idk_fails() {
    let mut request = Request::query().set("pidk", &public(&key(1)));
    request.pidk = Some(key(1));
    let graded = request.grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["pidk-differs"]);
}

#[test]
fn enable_without_urs_fails_and_urs_on_a_query_warns() {
    let previous = reply(0x0D, None, false);
    let mut enable = Request::after(&previous, "enable");
    assert_eq!(
        verdict(&enable.grade(Some(&previous)), "urs"),
        Some(Verdict::Fail)
    );
    enable.urs = true;
    assert_eq!(
        verdict(&enable.grade(Some(&previous)), "urs"),
        Some(Verdict::Pass)
    );
    let mut query = Request::query();
    query.urs = true;
    assert_eq!(verdict(&query.grade(None), "urs"), Some(Verdict::Warn));
}

#[test]
fn an_ident_for_a_new_identity_without_suk_and_vuk_fails() {
    let previous = reply(0x04, None, false);
    let bare = Request::after(&previous, "ident");
    assert_eq!(
        with(&bare.grade(Some(&previous)), Verdict::Fail),
        ["new-identity-keys"]
    );
    let full = bare
        .set("suk", &public(&key(3)))
        .set("vuk", &public(&key(9)));
    assert!(with(&full.grade(Some(&previous)), Verdict::Fail).is_empty());
    // A known identity needs neither.
    let known = reply(0x05, None, false);
    let graded = Request::after(&known, "ident").grade(Some(&known));
    assert_eq!(verdict(&graded, "new-identity-keys"), None);
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
}

#[test]
fn a_rekey_ident_without_vuk_and_urs_fails() {
    let previous = reply(0x06, None, false);
    let old = key(5);
    let mut request = Request::after(&previous, "ident")
        .set("pidk", &public(&old))
        .set("suk", &public(&key(3)));
    request.pidk = Some(old);
    let failed = with(&request.grade(Some(&previous)), Verdict::Fail);
    assert_eq!(failed, ["urs", "rekey-fields"]);
    request = request.set("vuk", &public(&key(9)));
    request.urs = true;
    let graded = request.grade(Some(&previous));
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
}

#[test]
fn btn_without_ask_fails() {
    let graded = Request::query().set("btn", "1").grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["btn"]);
}

#[test]
fn btn_after_ask_passes_and_out_of_range_fails() {
    let previous = reply(0x05, one_button(), false);
    let good = Request::after(&previous, "ident").set("btn", "1");
    assert_eq!(
        verdict(&good.grade(Some(&previous)), "btn"),
        Some(Verdict::Pass)
    );
    let high = Request::after(&previous, "ident").set("btn", "2");
    assert_eq!(
        verdict(&high.grade(Some(&previous)), "btn"),
        Some(Verdict::Fail)
    );
    let unanswered = Request::after(&previous, "ident");
    assert_eq!(
        verdict(&unanswered.grade(Some(&previous)), "btn"),
        Some(Verdict::Warn)
    );
}

#[test]
fn a_declining_query_with_btn_2_passes() {
    let previous = reply(0x05, None, false);
    let graded = Request::after(&previous, "query")
        .set("btn", "2")
        .grade(Some(&previous));
    assert_eq!(verdict(&graded, "btn"), Some(Verdict::Pass));
}

#[test]
fn an_ident_as_the_first_request_fails_query_first() {
    let graded = Request::query()
        .set("cmd", "ident")
        .set("suk", &public(&key(3)))
        .set("vuk", &public(&key(9)))
        .grade(None);
    assert_eq!(with(&graded, Verdict::Fail), ["query-first"]);
}

#[test]
fn a_missing_ins_after_sin_fails() {
    let previous = reply(0x05, None, true);
    let graded = Request::after(&previous, "ident").grade(Some(&previous));
    assert_eq!(with(&graded, Verdict::Fail), ["ins-after-sin"]);
    let graded = Request::after(&previous, "ident")
        .set("ins", &public(&key(4)))
        .grade(Some(&previous));
    assert!(with(&graded, Verdict::Fail).is_empty(), "{graded:?}");
}

#[test]
fn garbage_is_graded_not_crashed_on() {
    for body in [
        &b""[..],
        b"\xff\xfe",
        b"client=%%%&server=&ids=",
        b"client=AAAA&client=AAAA",
        b"&&&&",
        b"client=_____&server=_&ids=-",
        &[b'a'; 9000][..],
    ] {
        let graded = grade_request(body, &Context::default());
        assert!(graded.count(Verdict::Fail) > 0, "{body:?}: {graded:?}");
    }
}

#[test]
fn an_oversized_body_fails_body_form() {
    let graded = grade_oversized();
    assert_eq!(with(&graded, Verdict::Fail), ["body-form"]);
    // The same verdict as grading the bytes themselves.
    let body = vec![b'a'; MAX_BODY_LEN + 1];
    assert_eq!(
        with(&grade_request(&body, &Context::default()), Verdict::Fail),
        ["body-form"]
    );
}

#[test]
fn long_client_text_is_cut_in_the_evidence() {
    let name = "n".repeat(1000);
    let graded = grade_request(
        format!("client=AAAA&server=AAAA&ids=AAAA&{name}").as_bytes(),
        &Context::default(),
    );
    assert!(graded
        .grades
        .iter()
        .all(|g| g.evidence.chars().count() <= MAX_EVIDENCE + 1));
}

#[test]
fn cps_is_graded_by_whether_the_url_was_followed() {
    assert_eq!(grade_cps(true, true).verdict, Verdict::Pass);
    assert_eq!(grade_cps(true, false).verdict, Verdict::Warn);
    assert!(Request::query().set("opt", "cps~suk").grade(None).cps);
}

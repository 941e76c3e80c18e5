//! The book's bounds and its grouping by nut chain.

use sqrl_check::grade::{grade_request, Context};
use sqrl_proto::{ServerParams, Tif};

use super::*;

fn reply(nut: &str, url: Option<&str>) -> String {
    let mut params = ServerParams::new(nut, Tif::from_bits(0x05), format!("/sqrl?nut={nut}"));
    params.url = url.map(str::to_owned);
    params.encode().unwrap()
}

fn graded(cps: bool) -> Graded {
    let mut graded = grade_request(b"client=AAAA&server=AAAA&ids=AAAA", &Context::default());
    graded.command = Some("ident".into());
    graded.cps = cps;
    graded
}

#[test]
fn a_client_sending_without_end_keeps_memory_bounded() {
    let check = ClientCheck::new("/sqrl");
    // Many exchanges: only the newest are kept, and their nuts with them.
    for n in 0..(MAX_EXCHANGES * 3) {
        check.record(None, graded(false), &reply(&format!("n{n}"), None));
    }
    // One exchange that never ends: its requests past the limit are only counted.
    let mut nut = "n0".to_owned();
    for n in 0..(MAX_REQUESTS * 5) {
        let exchange = check.previous(Some(&nut)).map(|(id, _)| id);
        let next = format!("chain{n}");
        check.record(
            exchange,
            graded(true),
            &reply(&next, Some("https://x/sqrl/cps?token=t")),
        );
        nut = next;
    }
    let book = check.book();
    assert_eq!(book.exchanges.len(), MAX_EXCHANGES);
    assert!(book.replies.len() <= MAX_EXCHANGES * MAX_REQUESTS);
    assert!(book.cps_links.len() <= MAX_EXCHANGES);
    assert!(book.forgotten > 0);
    let longest = book.exchanges.iter().map(|e| e.requests.len()).max();
    assert_eq!(longest, Some(MAX_REQUESTS));
    assert!(book.exchanges.iter().any(|e| e.unrecorded > 0));
}

#[test]
fn a_request_on_a_replys_nut_continues_its_exchange() {
    let check = ClientCheck::new("/sqrl");
    check.record(None, graded(false), &reply("first", None));
    let (id, previous) = check.previous(Some("first")).unwrap();
    assert_eq!(previous.text, reply("first", None));
    check.record(Some(id), graded(false), &reply("second", None));
    check.record(None, graded(false), &reply("other", None));
    let book = check.book();
    assert_eq!(book.exchanges.len(), 2);
    assert_eq!(book.exchanges.front().map(|e| e.requests.len()), Some(2));
}

#[test]
fn a_cps_link_opened_is_recorded_once() {
    let check = ClientCheck::new("/sqrl");
    check.record(
        None,
        graded(true),
        &reply("n", Some("http://127.0.0.1:1/sqrl/cps?token=abc")),
    );
    check.opened("/sqrl/cps?token=other");
    assert!(!check.book().exchanges[0].cps.as_ref().unwrap().followed);
    check.opened("/sqrl/cps?token=abc");
    let book = check.book();
    let cps = book.exchanges[0].cps.as_ref().unwrap();
    assert!(cps.followed && cps.url_sent);
    assert!(book.cps_links.is_empty());
}

#[test]
fn a_reply_that_is_not_sqrl_is_recorded_without_a_nut() {
    let check = ClientCheck::new("/sqrl");
    check.record(None, graded(false), "not a reply");
    let book = check.book();
    assert_eq!(book.exchanges.len(), 1);
    assert!(book.replies.is_empty());
    assert_eq!(book.exchanges[0].requests[0].tif, None);
}

#[test]
fn links_and_nuts_are_read_from_urls() {
    assert_eq!(
        link_path("https://example.com:8443/sqrl/cps?token=a"),
        "/sqrl/cps?token=a"
    );
    assert_eq!(link_path("/sqrl/cps?token=a"), "/sqrl/cps?token=a");
    assert_eq!(nut_of("x=1&nut=abc&nut=def"), Some("abc"));
    assert_eq!(nut_of("x=1"), None);
}

//! The negative matrix: hand-built (faithful or hostile) phone requests, each checked for its
//! exact TIF and for changing nothing.

use std::sync::Barrier;

use rand_core::OsRng;
use sqrl_client::keys::{Imk, Iuk};
use sqrl_proto::{signing_input, Button, Command, RequestBody, ServerParams, Tif, VersionSet};
use sqrl_server::{AskPolicy, Rule, Status};
use sqrl_testkit::harness::*;
use sqrl_testkit::over_both_transports;

over_both_transports!(
    a_second_nut_in_the_request_url_is_refused,
    replayed_query_and_ident_are_refused,
    byte_flips_and_forged_echoes_fail_with_client_failure,
    another_sites_key_and_another_flows_nut_are_refused,
    hostile_phone_requests_are_refused_and_change_nothing,
    expired_nuts_are_transient_errors,
    foreign_ip_without_noiptest_is_exactly_0x40_and_the_retry_works,
    unknown_command_wrong_version_and_bad_bodies,
    another_identity_and_missing_keys,
    ident_after_reject_is_refused,
    two_concurrent_idents_on_one_nut_exactly_one_wins,
    enable_and_remove_need_urs,
    scans_are_limited_per_network_prefix,
);

fn replayed_query_and_ident_are_refused<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    let before_query = m.clone();
    let (tif, query) = m.step(&t, Command::Query);
    assert_eq!(tif, 0x04);
    assert_eq!(before_query.tif(&t, &query), 0x60, "replayed query");
    let before_ident = m.clone();
    let (tif, ident) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
    assert_eq!(before_ident.tif(&t, &ident), 0x60, "replayed ident");
    assert_eq!(
        before_query.tif(&t, &query),
        0x60,
        "the query replayed once more"
    );
    assert!(t.account(&idk_of(&imk)).is_some());
}

fn byte_flips_and_forged_echoes_fail_with_client_failure<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    let body = m.body(&m.params(Command::Query));
    let parsed = RequestBody::parse(body.as_bytes()).unwrap();
    for field in ["client", "server", "ids"] {
        let value = match field {
            "client" => parsed.client_text().to_owned(),
            "server" => parsed.server_text().to_owned(),
            _ => body.split("ids=").nth(1).unwrap().to_owned(),
        };
        for i in [0, value.len() / 2, value.len() - 2] {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let flipped = body.replacen(&value, &String::from_utf8(bytes).unwrap(), 1);
            assert_eq!(m.tif(&t, &flipped), 0xC0, "{field} byte {i}");
        }
    }
    assert!(!t.flow_stored(&page.flow), "nothing stored");

    // A reply altered by someone in the middle (tif, then qry), then faithfully signed by the
    // client: the server's hash of what it sent does not match.
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    for forge in [
        (|p: &mut ServerParams| p.tif = Tif::from_bits(0x5)) as fn(&mut ServerParams),
        |p: &mut ServerParams| p.qry = format!("{}&x=1", p.qry),
    ] {
        let mut reply = ServerParams::decode(&m.server_text).unwrap();
        forge(&mut reply);
        let forged = Phone {
            server_text: reply.encode().unwrap(),
            ..m.clone()
        };
        assert_eq!(
            forged.tif(&t, &forged.body(&forged.params(Command::Ident))),
            0xC0
        );
    }
    assert!(t.account(&idk_of(&imk)).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05, "the genuine ident still works");
}

fn another_sites_key_and_another_flows_nut_are_refused<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    // Signed by the same identity's key for another site.
    let client = m.params(Command::Query).encode().unwrap();
    let other = imk
        .site_key("evil.example", "")
        .sign(&signing_input(&client, &m.server_text));
    let body = RequestBody::new(client, m.server_text.clone(), &other, None, None).encode();
    assert_eq!(m.tif(&t, &body), 0xC0);
    // The URL of one flow echoed with the nut of another.
    let other_page = t.start();
    let mixed = Phone {
        query: other_page.query(),
        ..m.clone()
    };
    assert_eq!(
        mixed.tif(&t, &mixed.body(&mixed.params(Command::Query))),
        0xC0
    );
    // A nut we never minted: garbage is a client failure; the shape of a reply nut names a
    // flow with no record: stale, like the nut of a flow that is gone.
    for (nut, tif) in [
        ("nut=not-a-nut", 0xC0),
        ("nut=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0x60),
    ] {
        let forged = Phone {
            query: nut.into(),
            ..m.clone()
        };
        assert_eq!(
            forged.tif(&t, &forged.body(&forged.params(Command::Query))),
            tif,
            "{nut}"
        );
    }
    assert!(!t.flow_stored(&page.flow));
    assert!(!t.flow_stored(&other_page.flow));
}

fn hostile_phone_requests_are_refused_and_change_nothing<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    // The first request must be a query.
    for command in [Command::Ident, Command::Disable, Command::Remove] {
        assert_eq!(
            m.tif(&t, &m.body(&m.params(command.clone()))),
            0xC0,
            "{command:?}"
        );
    }
    // No nut, or a nut with the QR URL echo of another host.
    let body = m.body(&m.params(Command::Query));
    assert_eq!(
        ServerParams::decode(&t.post("", body.as_bytes(), m.ip))
            .unwrap()
            .tif
            .bits(),
        0xC0
    );
    let elsewhere = Phone {
        server_text: sqrl_proto::b64::encode(page.url.replace("example.com", "evil.example")),
        ..m.clone()
    };
    assert_eq!(
        elsewhere.tif(&t, &elsewhere.body(&elsewhere.params(Command::Query))),
        0xC0
    );
    // A same-device `can=` that is not base64url.
    let bad_can = Phone {
        server_text: sqrl_proto::b64::encode(format!("{}&can=a b", page.url)),
        ..m.clone()
    };
    assert_eq!(
        bad_can.tif(&t, &bad_can.body(&bad_can.params(Command::Query))),
        0xC0
    );
    assert!(!t.flow_stored(&page.flow));

    // A reply nut used as if it were a QR nut in a new exchange, and the QR nut of a flow
    // that moved on.
    let mut m = Phone::scan(&page, &imk);
    m.step(&t, Command::Query);
    let reused = Phone {
        server_text: sqrl_proto::b64::encode(&page.url),
        ..m.clone()
    };
    assert_eq!(
        reused.tif(&t, &reused.body(&reused.params(Command::Query))),
        0xC0,
        "a reply nut with a QR echo"
    );
    let again = Phone::scan(&page, &Imk::from_bytes([8; 32]));
    assert_eq!(
        again.tif(&t, &again.body(&again.params(Command::Query))),
        0x60,
        "a used QR nut"
    );
    // The flow still belongs to the first phone.
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
    assert!(t.account(&idk_of(&Imk::from_bytes([8; 32]))).is_none());
}

fn expired_nuts_are_transient_errors<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let m = Phone::scan(&page, &imk);
    t.set_now(at(T0 + 300));
    assert_eq!(m.tif(&t, &m.body(&m.params(Command::Query))), 0x60);
    assert!(!t.flow_stored(&page.flow));

    t.set_now(at(T0));
    let mut m = Phone::new(&t, &imk);
    t.set_now(at(T0 + 10));
    m.step(&t, Command::Query);
    t.set_now(at(T0 + 300));
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x60);
    assert!(t.account(&idk_of(&imk)).is_none());
}

fn foreign_ip_without_noiptest_is_exactly_0x40_and_the_retry_works<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.ip = ip("198.51.100.7");
    let (tif, _) = m.step(&t, Command::Query);
    assert_eq!(tif, 0x00, "the query reports that the IPs differ");
    let reply = m.send(&t, &m.body(&m.params(Command::Ident)));
    assert_eq!(
        ServerParams::decode(&reply).unwrap().tif.bits(),
        0x40,
        "exactly 0x40 without noiptest"
    );
    assert!(t.account(&idk_of(&imk)).is_none());
    // The refusal keeps the exchange going: its reply's nut takes a retry with noiptest.
    m.follow(&reply);
    let mut p = m.params(Command::Ident);
    p.opt.noiptest = true;
    assert_eq!(m.tif(&t, &m.body(&p)), 0x01);
    assert!(t.account(&idk_of(&imk)).is_some());
}

fn unknown_command_wrong_version_and_bad_bodies<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    let body = m.body(&m.params(Command::Other("frobnicate".into())));
    assert_eq!(m.tif(&t, &body), 0x50);
    let mut p = m.params(Command::Query);
    p.version = VersionSet::parse("2-3").unwrap();
    assert_eq!(m.tif(&t, &m.body(&p)), 0x50);
    let oversized = "x".repeat(20_000);
    let posted = t.post_raw(&m.query, oversized.as_bytes(), m.ip);
    if T::OVER_HTTP {
        assert_eq!(posted.status, 413, "HTTP refuses a body over 8 KiB");
    } else {
        assert_eq!(ServerParams::decode(&posted.body).unwrap().tif.bits(), 0xC0);
    }
    for bad in [
        String::new(),
        "client=&server=&ids=".into(),
        "x".repeat(8000),
        "client=%%%&server=YQ&ids=YQ".into(),
        String::from_utf8_lossy(&[0xff; 100]).into_owned(),
        m.body(&m.params(Command::Query)).replace("ids=", "ids=ids"),
    ] {
        assert_eq!(m.tif(&t, &bad), 0xC0, "{}", &bad[..bad.len().min(40)]);
    }
    assert!(t.account(&idk_of(&imk)).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05, "the exchange is still usable");
}

fn another_identity_and_missing_keys<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let mut m = Phone::new(&t, &imk);
    m.step(&t, Command::Query);
    // Another identity continues this flow.
    let intruder = Phone {
        site: Imk::from_bytes([8; 32]).site_key(HOST, ""),
        ..m.clone()
    };
    assert_eq!(
        intruder.tif(&t, &intruder.body(&intruder.params(Command::Ident))),
        0x1C0
    );
    // A new association without suk, or without vuk.
    let mut p = m.params(Command::Ident);
    p.suk = None;
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    let mut p = m.params(Command::Ident);
    p.vuk = None;
    assert_eq!(m.tif(&t, &m.body(&p)), 0xC4);
    assert!(t.account(&idk_of(&imk)).is_none());
    assert!(t.account(&idk_of(&Imk::from_bytes([8; 32]))).is_none());
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x05);
}

fn ident_after_reject_is_refused<T: Transport>() {
    let t = T::new(Setup::default().ask(AskPolicy::Require));
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let mut m = Phone::scan(&page, &imk);
    m.step(&t, Command::Query);
    let mut p = m.params(Command::Ident);
    p.btn = Some(Button::Second);
    let reply = m.send(&t, &m.body(&p));
    assert_eq!(ServerParams::decode(&reply).unwrap().tif.bits(), 0x44);
    assert_eq!(t.status(&page), Ok(Status::Rejected));
    m.follow(&reply);
    let (tif, _) = m.step(&t, Command::Ident);
    assert_eq!(tif, 0x40, "the flow is closed");
    assert!(t.account(&idk_of(&imk)).is_none());
    assert_eq!(t.status(&page), Ok(Status::Rejected));
}

fn two_concurrent_idents_on_one_nut_exactly_one_wins<T: Transport>() {
    let t = T::site();
    for round in 0..20u8 {
        let imk = Imk::from_bytes([round; 32]);
        let mut m = Phone::new(&t, &imk);
        m.step(&t, Command::Query);
        let mut a = m.params(Command::Ident);
        a.btn = Some(Button::First);
        let mut b = m.params(Command::Ident);
        b.btn = Some(Button::Ok);
        let bodies = [m.body(&a), m.body(&b)];
        let barrier = Barrier::new(2);
        let mut results: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let (t, m, barrier) = (&t, &m, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        m.tif(t, body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        results.sort_unstable();
        assert_eq!(results, [0x05, 0x60], "round {round}: {results:x?}");
        assert!(t.account(&idk_of(&imk)).is_some());
    }
}

fn enable_and_remove_need_urs<T: Transport>() {
    let t = T::site();
    let iuk = Iuk::generate(&mut OsRng);
    log_in(&t, &keys(&iuk));
    for command in [Command::Remove, Command::Enable] {
        let mut m = Phone::new(&t, &iuk.imk());
        m.step(&t, Command::Query);
        let body = m.body(&m.params(command.clone()));
        assert_eq!(m.tif(&t, &body), 0xC5, "{command:?}");
    }
    assert!(t.account(&idk_of(&iuk.imk())).is_some());
}

fn scans_are_limited_per_network_prefix<T: Transport>() {
    let t = T::new(Setup {
        scan_rule: Rule {
            name: "scans",
            burst: 2,
            per_second: 0.01,
        },
        ..Setup::default()
    });
    let imk = Imk::from_bytes([7; 32]);
    let scan_from = |phone: &str| {
        let mut m = Phone::new(&t, &imk);
        m.ip = ip(phone);
        m.step(&t, Command::Query).0
    };
    // One client (an IPv6 /64) may open two flows at once.
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::2"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::3"), 0x60, "the /64 is cut off");
    assert_eq!(scan_from("2001:db8:1:1:ffff::9"), 0x60, "anywhere in it");
    // Another /64, and IPv4 addresses, are other clients.
    assert_eq!(scan_from("2001:db8:1:2::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:2::1"), 0x00);
    assert_eq!(scan_from(BROWSER_IP), 0x04);
    assert_eq!(scan_from("192.0.2.11"), 0x00);
    // Requests that continue a flow are not scans: the cut-off client still finishes.
    let mut m = Phone::new(&t, &Imk::from_bytes([8; 32]));
    m.ip = ip("2001:db8:1:3::1");
    m.step(&t, Command::Query);
    m.step(&t, Command::Query);
    assert_eq!(scan_from("2001:db8:1:3::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:3::1"), 0x60);
    let mut p = m.params(Command::Ident);
    p.opt.noiptest = true;
    assert_eq!(m.step_with(&t, &p).0, 0x01);
    // The bucket refills: 0.01 per second, one scan after 150 s.
    t.set_now(at(T0 + 150));
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x00);
    assert_eq!(scan_from("2001:db8:1:1::1"), 0x60);
}

/// Before, `?nut=<right>&nut=<wrong>` was accepted (the first won): a URL naming two nuts
/// is refused whichever comes first, and changes nothing.
fn a_second_nut_in_the_request_url_is_refused<T: Transport>() {
    let t = T::site();
    let imk = Imk::from_bytes([7; 32]);
    let page = t.start();
    let right = Phone::scan(&page, &imk);
    let body = right.body(&right.params(Command::Query));
    for query in [
        format!("{}&nut=AAAAAAAAAAAAAAAAAAAAAA", right.query),
        format!("nut=AAAAAAAAAAAAAAAAAAAAAA&{}", right.query),
        format!("{}&{}", right.query, right.query),
    ] {
        let mut m = right.clone();
        m.query = query;
        assert_eq!(m.tif(&t, &body), 0xC0, "{}", m.query);
    }
    assert!(!t.flow_stored(&page.flow));
    // The same request with one nut goes through.
    assert_eq!(right.tif(&t, &body) & 0x40, 0);
}

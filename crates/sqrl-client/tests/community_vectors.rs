//! Every row of the community test vectors (`../shared/sqrl/vectors/sqrldev/`, CC0) that
//! concerns the key hierarchy: EnHash, identity (ILK/IMK/IDK with alt-ids), INS, identity lock
//! and EnScrypt.
//!
//! The EnScrypt rows with 40 iterations take about a minute (they run beside the other tests).
//! Where the vectors are not beside the repository, every test here is compiled as ignored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{b64, b64_32, hex32, read_csv};
use sqrl_client::keys::{enhash, enscrypt, Ilk, Iuk, Rlk};
use sqrl_proto::Bytes32;

/// The domain columns hold a host with an optional path extension as a URL would carry it;
/// the auth domain lower-cases the host ("DomainsAreLowercase.net" is keyed as
/// "domainsarelowercase.net") and keeps the case of the path ("example.com/CaseSensitive").
fn auth_domain(column: &str) -> String {
    let url = format!("sqrl://{column}?x=999&nut=n");
    sqrl_proto::SqrlUrl::parse(&url)
        .unwrap()
        .auth_domain()
        .to_owned()
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn enhash_all_rows() {
    let Some(rows) = read_csv("enhash-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 1000);
    for row in &rows {
        assert_eq!(
            enhash(&b64_32(&row[0])),
            b64_32(&row[1]),
            "input {}",
            row[0]
        );
    }
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn identity_all_rows() {
    let Some(rows) = read_csv("identity-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 80);
    for row in &rows {
        let (iuk, ilk, imk, domain, alt_id, idk) =
            (&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]);
        let iuk = Iuk::from_bytes(b64_32(iuk));
        assert_eq!(iuk.ilk(), Ilk::from_bytes(b64_32(ilk)), "ILK for {domain}");
        let derived_imk = iuk.imk();
        assert_eq!(derived_imk.expose(), &b64_32(imk), "IMK for {domain}");
        let key = derived_imk.site_key(&auth_domain(domain), alt_id);
        assert_eq!(
            key.public_key(),
            Bytes32(b64_32(idk)),
            "IDK for {domain} / {alt_id:?}"
        );
    }
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn ins_all_rows() {
    let Some(rows) = read_csv("ins-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 48);
    for row in &rows {
        let imk = sqrl_client::keys::Imk::from_bytes(b64_32(&row[0]));
        let ins = imk
            .site_key(&auth_domain(&row[1]), "")
            .indexed_secret(&row[2]);
        assert_eq!(ins, Bytes32(b64_32(&row[3])), "{} / {}", row[1], row[2]);
    }
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn identity_lock_all_rows() {
    let Some(rows) = read_csv("identity-lock-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 14);
    for row in &rows {
        let iuk = Iuk::from_bytes(hex32(&row[0]));
        let ilk = iuk.ilk();
        assert_eq!(ilk.expose(), &hex32(&row[1]));
        let rlk = Rlk::from_bytes(hex32(&row[2]));
        assert_eq!(rlk.suk(), Bytes32(hex32(&row[3])));
        assert_eq!(
            rlk.dhka(&ilk).expose(),
            &hex32(&row[4]),
            "DHKA from RLK and ILK"
        );
        let lock = ilk.lock(rlk);
        assert_eq!(lock.vuk, Bytes32(hex32(&row[5])));
        // The rescue-code side reaches the same DHKA and signs for the stored VUK.
        let suk = Bytes32(hex32(&row[3]));
        assert_eq!(
            iuk.dhka(&suk).expose(),
            &hex32(&row[4]),
            "DHKA from IUK and SUK"
        );
        assert_eq!(iuk.unlock_request_signing_key(&suk).verify_key(), lock.vuk);
    }
}

fn enscrypt_rows(filter: impl Fn(u32) -> bool) -> usize {
    let Some(rows) = read_csv("enscrypt-vectors.txt") else {
        return 0;
    };
    assert_eq!(rows.len(), 80);
    let mut checked = 0;
    for row in &rows {
        let iterations: u32 = row[2].parse().unwrap();
        if !filter(iterations) {
            continue;
        }
        let key = enscrypt(row[0].as_bytes(), row[1].as_bytes(), iterations, |_, _| {}).unwrap();
        assert_eq!(
            key.expose(),
            &hex32(&row[4]),
            "{:?} {:?} {iterations}",
            row[0],
            row[1]
        );
        assert_eq!(key.expose()[..], b64(&row[3])[..]);
        checked += 1;
    }
    checked
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn enscrypt_short_rows() {
    let checked = enscrypt_rows(|n| n < 40);
    assert!(checked == 0 || checked == 60, "{checked}");
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn enscrypt_long_rows() {
    let checked = enscrypt_rows(|n| n >= 40);
    assert!(checked == 0 || checked == 20, "{checked}");
}

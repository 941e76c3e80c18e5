//! The identity's life: create, unlock, change password, re-key (four previous keys kept),
//! export in every form and import again, recover with the rescue code. EnScrypt runs one
//! iteration here to keep the tests fast; the time-budget mode is tested in `keys`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rand_core::OsRng;
use sqrl_client::{Identity, IdentityError, Password, Progress, RescueCode, Stage, Stretch};

const FAST: Stretch = Stretch::Iterations(1);

fn quiet(_: Progress) {}

fn new_identity(password: &str) -> (Identity, RescueCode) {
    Identity::create(&Password::new(password), FAST, &mut OsRng, &mut quiet).unwrap()
}

#[test]
fn create_then_unlock_with_password_and_rescue_code() {
    let (identity, code) = new_identity("correct horse");
    let unlocked = identity
        .unlock(&Password::new("correct horse"), &mut quiet)
        .unwrap();
    let iuk = identity.recover(&code, &mut quiet).unwrap();
    assert_eq!(iuk.imk(), unlocked.imk);
    assert_eq!(iuk.ilk(), unlocked.ilk);
    assert_eq!(
        identity
            .unlock(&Password::new("wrong"), &mut quiet)
            .unwrap_err(),
        IdentityError::WrongPassword
    );
    let other = RescueCode::parse("000000000000000000000000").unwrap();
    assert_eq!(
        identity.recover(&other, &mut quiet).unwrap_err(),
        IdentityError::WrongRescueCode
    );
}

#[test]
fn rescue_code_accepts_dashes_and_spaces() {
    let (identity, code) = new_identity("pw");
    let grouped = code.grouped();
    assert_eq!(grouped.len(), 29);
    assert_eq!(grouped.matches('-').count(), 5);
    let spaced = grouped.replace('-', " ");
    for typed in [grouped.as_str(), spaced.as_str(), code.digits()] {
        let parsed = RescueCode::parse(typed).unwrap();
        assert!(identity.recover(&parsed, &mut quiet).is_ok(), "{typed}");
    }
    for bad in [
        "1234",
        "12345678901234567890123a",
        "1234-5678-9012-3456-7890-12345",
    ] {
        assert_eq!(
            RescueCode::parse(bad).unwrap_err(),
            IdentityError::InvalidRescueCode
        );
    }
}

#[test]
fn passwords_are_nfkc_normalised() {
    // "ﬁ" (U+FB01) normalises to "fi"; "Å" composed and decomposed are one password.
    let (identity, _) = new_identity("\u{FB01}sh-A\u{030A}");
    assert!(identity
        .unlock(&Password::new("fish-\u{00C5}"), &mut quiet)
        .is_ok());
}

#[test]
fn change_password_keeps_the_keys() {
    let (identity, code) = new_identity("old");
    let before = identity.unlock(&Password::new("old"), &mut quiet).unwrap();
    let changed = identity
        .change_password(
            &Password::new("old"),
            &Password::new("new"),
            FAST,
            &mut OsRng,
            &mut quiet,
        )
        .unwrap();
    assert_eq!(
        changed
            .unlock(&Password::new("new"), &mut quiet)
            .unwrap()
            .imk,
        before.imk
    );
    assert_eq!(
        changed
            .unlock(&Password::new("old"), &mut quiet)
            .unwrap_err(),
        IdentityError::WrongPassword
    );
    assert_eq!(changed.s4().rescue, identity.s4().rescue);
    assert!(changed.recover(&code, &mut quiet).is_ok());
    assert_eq!(
        identity
            .change_password(
                &Password::new("bad"),
                &Password::new("x"),
                FAST,
                &mut OsRng,
                &mut quiet
            )
            .unwrap_err(),
        IdentityError::WrongPassword
    );
}

#[test]
fn rekey_keeps_four_previous_identities_newest_first() {
    let (mut identity, mut code) = new_identity("pw");
    let mut history = vec![identity.recover(&code, &mut quiet).unwrap()];
    for edition in 1..=5u16 {
        let (next, next_code) = identity
            .rekey(&code, &Password::new("pw"), FAST, &mut OsRng, &mut quiet)
            .unwrap();
        assert_ne!(next_code, code);
        identity = next;
        code = next_code;
        history.insert(0, identity.recover(&code, &mut quiet).unwrap());
        let unlocked = identity.unlock(&Password::new("pw"), &mut quiet).unwrap();
        assert_eq!(unlocked.imk, history[0].imk());
        let expected: Vec<_> = history[1..].iter().take(4).cloned().collect();
        assert_eq!(unlocked.previous, expected, "after re-key {edition}");
        assert_eq!(
            identity.s4().previous.as_ref().unwrap().edition,
            Some(edition)
        );
    }
    // Re-keying needs the current rescue code, not an old one.
    let old = RescueCode::parse("111111111111111111111111").unwrap();
    assert_eq!(
        identity
            .rekey(&old, &Password::new("pw"), FAST, &mut OsRng, &mut quiet)
            .unwrap_err(),
        IdentityError::WrongRescueCode
    );
}

#[test]
fn exports_import_again() {
    let (identity, code) = new_identity("pw");
    let (identity, code) = identity
        .rekey(&code, &Password::new("pw"), FAST, &mut OsRng, &mut quiet)
        .unwrap();
    assert_eq!(Identity::import(&identity.to_binary()).unwrap(), identity);
    let text = identity.to_text();
    assert!(text.starts_with("SQRLDATA"));
    let wrapped: String = text
        .chars()
        .collect::<Vec<_>>()
        .chunks(40)
        .map(|c| c.iter().collect::<String>() + "\r\n ")
        .collect();
    assert_eq!(Identity::import(wrapped.as_bytes()).unwrap(), identity);

    let rescue_only = identity.rescue_only().unwrap();
    assert!(!rescue_only.has_password());
    let rescue_text = rescue_only.to_text();
    let headerless = rescue_text.trim_start_matches("SQRLDATA");
    assert!(headerless.starts_with("SQAC"));
    assert_eq!(
        Identity::import(headerless.as_bytes()).unwrap(),
        rescue_only
    );
    assert_eq!(
        rescue_only
            .unlock(&Password::new("pw"), &mut quiet)
            .unwrap_err(),
        IdentityError::MissingBlock { block_type: 1 }
    );

    // From the textual form, the rescue code sets a new password and the keys come back.
    let restored = Identity::import(identity.textual().unwrap().as_bytes())
        .unwrap()
        .set_password_with_rescue_code(&code, &Password::new("fresh"), FAST, &mut OsRng, &mut quiet)
        .unwrap();
    let a = restored
        .unlock(&Password::new("fresh"), &mut quiet)
        .unwrap();
    let b = identity.unlock(&Password::new("pw"), &mut quiet).unwrap();
    assert_eq!(a.imk, b.imk);
}

#[test]
fn malformed_files_are_errors() {
    let (identity, _) = new_identity("pw");
    let bytes = identity.to_binary();
    // Every prefix is an error except the one that ends exactly after the password block.
    for end in 0..bytes.len() {
        let result = Identity::import(&bytes[..end]);
        assert_eq!(result.is_ok(), end == 8 + 125, "prefix of {end} bytes");
    }
    // Duplicate blocks are rejected.
    let mut doubled = bytes.clone();
    doubled.extend_from_slice(&bytes[8..8 + 125]);
    assert_eq!(
        Identity::import(&doubled).unwrap_err(),
        IdentityError::S4DuplicateBlock { block_type: 1 }
    );
    // A flipped ciphertext bit fails authentication rather than yielding wrong keys.
    let mut flipped = bytes.clone();
    flipped[8 + 60] ^= 1;
    assert_eq!(
        Identity::import(&flipped)
            .unwrap()
            .unlock(&Password::new("pw"), &mut quiet)
            .unwrap_err(),
        IdentityError::WrongPassword
    );
    // Unknown block types are kept.
    let mut extended = bytes.clone();
    extended.extend_from_slice(&[8, 0, 0x39, 0x30, 1, 2, 3, 4]);
    let imported = Identity::import(&extended).unwrap();
    assert_eq!(imported.s4().other.len(), 1);
    assert_eq!(imported.to_binary(), extended);
    for junk in [
        &b""[..],
        b"sqrldata",
        b"hello world",
        b"SQRLDATA!!!!",
        &[0xff; 40],
    ] {
        assert!(Identity::import(junk).is_err());
    }
}

#[test]
fn progress_reports_each_stage() {
    let mut seen = Vec::new();
    let (identity, _) = Identity::create(
        &Password::new("pw"),
        Stretch::Iterations(3),
        &mut OsRng,
        &mut |p| seen.push(p),
    )
    .unwrap();
    assert!(seen
        .iter()
        .any(|p| p.stage == Stage::RescueCode && p.done == 3 && p.total == 3));
    assert!(seen
        .iter()
        .any(|p| p.stage == Stage::Password && p.done == 3 && p.total == 3));
    seen.clear();
    identity
        .unlock(&Password::new("pw"), &mut |p| seen.push(p))
        .unwrap();
    assert_eq!(seen.len(), 3);
}

#[test]
fn cancelling_from_the_progress_callback_stops_enscrypt_with_cancelled() {
    let (identity, _) = Identity::create(
        &Password::new("pw"),
        Stretch::Iterations(50),
        &mut OsRng,
        &mut quiet,
    )
    .unwrap();
    // Unlocking: the callback says stop after the second of 50 iterations.
    let mut calls = 0;
    let result = identity.unlock_cancellable(&Password::new("pw"), &mut |p| {
        calls += 1;
        p.done < 2
    });
    assert_eq!(result.unwrap_err(), IdentityError::Cancelled);
    assert_eq!(calls, 2);
    // Creating, in both stretch modes.
    for stretch in [
        Stretch::Iterations(50),
        Stretch::For(std::time::Duration::from_secs(60)),
    ] {
        let started = std::time::Instant::now();
        let result =
            Identity::create_cancellable(&Password::new("pw"), stretch, &mut OsRng, &mut |_| false);
        assert_eq!(result.unwrap_err(), IdentityError::Cancelled);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
    // A callback that lets it finish changes nothing.
    assert!(identity
        .unlock_cancellable(&Password::new("pw"), &mut |_| true)
        .is_ok());
}

#[test]
fn secrets_do_not_print() {
    let (_, code) = new_identity("hunter2");
    let shown = format!("{:?} {:?}", Password::new("hunter2"), code);
    assert!(!shown.contains("hunter2"));
    assert!(!shown.contains(code.digits()));
}

#[test]
fn identity_with_a_huge_iteration_count_is_refused_before_any_enscrypt() {
    let (identity, _) = new_identity("pw");
    let mut bytes = identity.to_binary();
    // The password block's iteration count: header 8 + block offset 35, u32 little-endian.
    bytes[8 + 35..8 + 39].copy_from_slice(&u32::MAX.to_le_bytes());
    let started = std::time::Instant::now();
    let error = Identity::import(&bytes).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    match &error {
        IdentityError::S4Block {
            block_type: 1,
            reason,
        } => assert!(
            reason.contains(&sqrl_client::keys::MAX_ITERATIONS.to_string()),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    // The cap is far above a real count, and the API refuses to write one over it.
    const { assert!(sqrl_client::keys::MAX_ITERATIONS >= 50_000) };
    let over = Stretch::Iterations(sqrl_client::keys::MAX_ITERATIONS + 1);
    assert_eq!(
        Identity::create(&Password::new("pw"), over, &mut OsRng, &mut quiet).unwrap_err(),
        IdentityError::TooManyIterations {
            found: sqrl_client::keys::MAX_ITERATIONS + 1,
            limit: sqrl_client::keys::MAX_ITERATIONS
        }
    );
}

#[test]
fn overlong_textual_identity_is_refused_by_its_length_at_once() {
    // 95 base56 digits (with their 5 check characters): the shape of no rescue-code block.
    // Rejecting it used to take seconds of digit-count arithmetic.
    let digits = "3".repeat(95);
    let text: String = digits
        .as_bytes()
        .chunks(19)
        .enumerate()
        .map(|(line, data)| {
            let data = std::str::from_utf8(data).unwrap();
            format!(
                "{data}{}\n",
                sqrl_client::storage::base56::check_char(data, line as u8)
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let error = Identity::import(text.as_bytes()).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error, IdentityError::TextualIdentity { line: 0, reason } if reason.contains("107")),
        "{error:?}"
    );
    // A real one still imports.
    let (identity, _) = new_identity("pw");
    let textual = identity.textual().unwrap();
    assert!(Identity::import(textual.as_bytes()).is_ok());
}

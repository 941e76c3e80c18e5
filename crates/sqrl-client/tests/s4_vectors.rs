//! Storage against public vectors: GRC's `Spec-Vectors-Identity` file (binary and text forms)
//! round-trips byte for byte and unlocks with the published password and rescue code to the
//! published IMK; its textual (base56) form decodes, checks and unlocks too; and every row of
//! the community base56 vectors reproduces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::read_csv;
use sqrl_client::storage::base56;
use sqrl_client::{Identity, Password, RescueCode};

struct Grc(String);

impl Grc {
    fn load() -> Option<Self> {
        let path = common::shared_vectors()?.join("grc-spec-identity.md");
        Some(Self(std::fs::read_to_string(path).unwrap()))
    }

    /// The rest of the line after `label`, trimmed.
    fn line_after(&self, label: &str) -> String {
        let start = self
            .0
            .find(label)
            .unwrap_or_else(|| panic!("{label:?} missing"))
            + label.len();
        self.0[start..].lines().next().unwrap().trim().to_owned()
    }

    fn imk(&self) -> [u8; 32] {
        let start = self.0.find("IMK = EnHash(IUK)").unwrap();
        let hex = self.0[start..]
            .split_whitespace()
            .find(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap();
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    fn password(&self) -> Password {
        Password::new(&self.line_after("Password           :"))
    }

    fn rescue_code(&self) -> RescueCode {
        let line = self.line_after("Rescue code        :");
        RescueCode::parse(line.split_whitespace().next().unwrap()).unwrap()
    }

    fn textual(&self) -> String {
        let start = self.0.find("Textual identity   :").unwrap() + "Textual identity   :".len();
        let end = self.0[start..].find("->").unwrap() + start;
        self.0[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn no_progress(_: sqrl_client::Progress) {}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn grc_file_round_trips_in_both_forms() {
    let Some(grc) = Grc::load() else { return };
    let binary = hex::decode(grc.line_after("hex :")).unwrap();
    assert_eq!(binary.len(), 206);
    let text = grc.line_after("text:");
    let from_binary = Identity::import(&binary).unwrap();
    let from_text = Identity::import(text.as_bytes()).unwrap();
    assert_eq!(from_binary, from_text);
    assert_eq!(from_binary.to_binary(), binary);
    assert_eq!(from_text.to_text(), text);
    let settings = from_binary.s4().password.as_ref().unwrap().settings;
    assert_eq!(
        (
            settings.options,
            settings.hint_length,
            settings.verify_seconds,
            settings.idle_minutes
        ),
        (0x01F3, 4, 5, 15)
    );
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn grc_file_unlocks_with_the_password() {
    let Some(grc) = Grc::load() else { return };
    let identity = Identity::import(grc.line_after("text:").as_bytes()).unwrap();
    let unlocked = identity.unlock(&grc.password(), &mut no_progress).unwrap();
    assert_eq!(unlocked.imk.expose(), &grc.imk());
    assert!(unlocked.previous.is_empty());
    let wrong = identity.unlock(
        &Password::new("Zingo-Bingo-Slingo-Dingo!"),
        &mut no_progress,
    );
    assert_eq!(
        wrong.unwrap_err(),
        sqrl_client::IdentityError::WrongPassword
    );
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn grc_textual_identity_unlocks_with_the_rescue_code() {
    let Some(grc) = Grc::load() else { return };
    let textual = grc.textual();
    let identity = Identity::import(textual.as_bytes()).unwrap();
    assert!(!identity.has_password());
    let iuk = identity
        .recover(&grc.rescue_code(), &mut no_progress)
        .unwrap();
    assert_eq!(iuk.imk().expose(), &grc.imk());
    // The file's own rescue-code block prints as the published textual identity.
    let file = Identity::import(grc.line_after("text:").as_bytes()).unwrap();
    let printed = file.textual().unwrap();
    assert_eq!(
        printed.split_whitespace().collect::<Vec<_>>().join(" "),
        textual
    );
    assert_eq!(printed.lines().count(), 6);
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn base56_all_rows() {
    let Some(rows) = read_csv("base56-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 120);
    for row in rows {
        let bytes = hex::decode(&row[0]).unwrap();
        let line: u8 = row[1].parse().unwrap();
        assert_eq!(base56::encode_digits(&bytes), row[2], "{}", row[0]);
        assert_eq!(
            base56::check_char(&row[2], line).to_string(),
            row[3],
            "{} line {line}",
            row[0]
        );
        assert_eq!(base56::decode_digits(&row[2]).unwrap(), bytes);
    }
}

#[test]
#[cfg_attr(not(sqrl_vectors), ignore = "skipped: no ../shared/sqrl/vectors here")]
fn base56_full_format_all_rows() {
    let Some(rows) = read_csv("base56-full-format-vectors.txt") else {
        return;
    };
    assert_eq!(rows.len(), 128);
    for row in rows {
        let bytes = hex::decode(&row[1]).unwrap();
        assert_eq!(bytes, sqrl_proto::b64::decode(&row[0]).unwrap());
        let expected = row[2].replace("\\n", "\n");
        assert_eq!(base56::encode(&bytes), expected, "{}", row[1]);
        assert_eq!(base56::decode(&expected).unwrap(), bytes);
    }
}

//! The identity's life through the bindings: create, import, export, unlock, change the
//! password, re-key. Every call that runs EnScrypt blocks for as long as the identity's
//! stretch (seconds on a phone) and reports to a [`ProgressListener`], which can cancel.

use std::sync::Arc;

use rand_core::OsRng;
use sqrl_client::exchange::Keys;
use sqrl_client::Password;
use zeroize::Zeroize;

use crate::error::SqrlError;

/// Which secret EnScrypt is stretching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StretchStage {
    /// The password.
    Password,
    /// The rescue code.
    RescueCode,
}

/// Told after each EnScrypt iteration (from the thread that made the blocking call).
#[uniffi::export(callback_interface)]
pub trait ProgressListener: Send + Sync {
    /// `done` out of `total` (iterations, or milliseconds when stretching for a time);
    /// return `false` to cancel, which fails the call with `SqrlError.Cancelled`.
    fn on_progress(&self, stage: StretchStage, done: u64, total: u64) -> bool;
}

/// How long to stretch a new password or rescue code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Stretch {
    /// Run EnScrypt for this many milliseconds (5000 is SQRL's usual choice); the count
    /// reached is stored.
    Millis {
        /// The time to spend.
        millis: u64,
    },
    /// Exactly this many iterations (tests, or matching another device).
    Iterations {
        /// The count.
        count: u32,
    },
}

impl From<Stretch> for sqrl_client::Stretch {
    fn from(stretch: Stretch) -> Self {
        match stretch {
            Stretch::Millis { millis } => {
                sqrl_client::Stretch::For(std::time::Duration::from_millis(millis))
            }
            Stretch::Iterations { count } => sqrl_client::Stretch::Iterations(count),
        }
    }
}

/// A password from the app, NFKC-normalised; the app's copy of the text is wiped here.
fn password(mut text: String) -> Password {
    let made = Password::new(&text);
    text.zeroize();
    made
}

/// Runs `work` with the listener as sqrl-client's cancellable progress callback.
fn watched<T>(
    listener: Option<Box<dyn ProgressListener>>,
    work: impl FnOnce(&mut dyn FnMut(sqrl_client::Progress) -> bool) -> T,
) -> T {
    let mut report = |p: sqrl_client::Progress| match &listener {
        Some(listener) => {
            let stage = match p.stage {
                sqrl_client::Stage::Password => StretchStage::Password,
                sqrl_client::Stage::RescueCode => StretchStage::RescueCode,
            };
            listener.on_progress(stage, p.done, p.total)
        }
        None => true,
    };
    work(&mut report)
}

/// The 24-digit rescue code: shown once when an identity is made or re-keyed, typed back to
/// recover. Wiped from memory when the object is dropped.
#[derive(Debug, uniffi::Object)]
pub struct RescueCode(sqrl_client::RescueCode);

#[uniffi::export]
impl RescueCode {
    /// Verifies and normalises what a person typed: 24 digits, dashes and spaces ignored.
    #[uniffi::constructor]
    pub fn parse(mut typed: String) -> Result<Arc<Self>, SqrlError> {
        let parsed = sqrl_client::RescueCode::parse(&typed);
        typed.zeroize();
        Ok(Arc::new(Self(parsed?)))
    }

    /// Six groups of four digits, `1198-8748-7132-2838-8318-7570`, to show or print.
    pub fn grouped(&self) -> String {
        self.0.grouped()
    }
}

/// Normalises a typed rescue code to its grouped form, or says why it is not one.
#[uniffi::export]
pub fn normalize_rescue_code(typed: String) -> Result<String, SqrlError> {
    Ok(RescueCode::parse(typed)?.grouped())
}

/// An identity just made or re-keyed, with the rescue code to show the user once.
#[derive(Debug, uniffi::Record)]
pub struct NewIdentity {
    /// The identity to store.
    pub identity: Arc<Identity>,
    /// Its rescue code: show it once, never store it.
    pub rescue_code: Arc<RescueCode>,
}

/// A SQRL identity at rest: encrypted, safe to store in the app's files.
#[derive(Debug, uniffi::Object)]
pub struct Identity(sqrl_client::Identity);

impl Identity {
    fn wrap(identity: sqrl_client::Identity) -> Arc<Self> {
        Arc::new(Self(identity))
    }
}

/// Creates an identity: a fresh key and rescue code, protected by `password`. Blocks while
/// EnScrypt runs twice (rescue code, then password), each for `stretch`.
#[uniffi::export]
pub fn create_identity(
    password: String,
    stretch: Stretch,
    listener: Option<Box<dyn ProgressListener>>,
) -> Result<NewIdentity, SqrlError> {
    let password = self::password(password);
    let (identity, code) = watched(listener, |report| {
        sqrl_client::Identity::create_cancellable(&password, stretch.into(), &mut OsRng, report)
    })?;
    Ok(NewIdentity {
        identity: Identity::wrap(identity),
        rescue_code: Arc::new(RescueCode(code)),
    })
}

#[uniffi::export]
impl Identity {
    /// Reads an identity in any stored form: the S4 binary (`sqrldata…`, also the QR
    /// payload), the `SQRLDATA` text, a rescue-code-only export.
    #[uniffi::constructor]
    pub fn import_bytes(data: Vec<u8>) -> Result<Arc<Self>, SqrlError> {
        Ok(Self::wrap(sqrl_client::Identity::import(&data)?))
    }

    /// Reads an identity typed by a person: the printed textual form (base56 with a check
    /// character per line; spaces and line breaks anywhere are ignored, and a typo is reported
    /// with its line), or the `SQRLDATA` text. Letters keep their case: base56 uses both.
    #[uniffi::constructor]
    pub fn import_text(text: String) -> Result<Arc<Self>, SqrlError> {
        Ok(Self::wrap(sqrl_client::Identity::import(
            text.trim().as_bytes(),
        )?))
    }

    /// The S4 binary form, to store in a file.
    pub fn export_bytes(&self) -> Vec<u8> {
        self.0.to_binary()
    }

    /// The `SQRLDATA` text form (base64url), to store as text.
    pub fn export_text(&self) -> String {
        self.0.to_text()
    }

    /// The bytes to put in a QR code (byte mode) for another device: the S4 binary with the
    /// password and rescue-code blocks, as GRC's clients export it.
    pub fn export_qr_payload(&self) -> Vec<u8> {
        self.0.to_binary()
    }

    /// The textual identity to print on paper (the rescue-code block in base56, with check
    /// characters): useless without the rescue code.
    pub fn export_textual(&self) -> Result<String, SqrlError> {
        Ok(self.0.textual()?)
    }

    /// A copy with only the rescue-code block: safe to keep anywhere.
    pub fn rescue_only(&self) -> Result<Arc<Self>, SqrlError> {
        Ok(Self::wrap(self.0.rescue_only()?))
    }

    /// `true` when the identity has a password (a restored textual identity has none until
    /// `set_password_with_rescue_code`).
    pub fn has_password(&self) -> bool {
        self.0.has_password()
    }

    /// Unlocks the everyday keys with the password. Blocks for the identity's stretch.
    pub fn unlock(
        &self,
        password: String,
        listener: Option<Box<dyn ProgressListener>>,
    ) -> Result<Arc<UnlockedIdentity>, SqrlError> {
        let password = self::password(password);
        let unlocked = watched(listener, |report| {
            self.0.unlock_cancellable(&password, report)
        })?;
        Ok(UnlockedIdentity::wrap(Keys::from_unlocked(&unlocked)))
    }

    /// Unlocks with the rescue code: the keys for enabling or removing SQRL at a site (and for
    /// logging in). Blocks for the rescue code's stretch.
    pub fn unlock_with_rescue_code(
        &self,
        code: Arc<RescueCode>,
        listener: Option<Box<dyn ProgressListener>>,
    ) -> Result<Arc<UnlockedIdentity>, SqrlError> {
        let iuk = watched(listener, |report| {
            self.0.recover_cancellable(&code.0, report)
        })?;
        let keys = Keys::new(iuk.imk(), iuk.ilk(), Vec::new()).with_unlock_key(iuk);
        Ok(UnlockedIdentity::wrap(keys))
    }

    /// The same identity under a new password (stretched for `stretch`).
    pub fn change_password(
        &self,
        current: String,
        new_password: String,
        stretch: Stretch,
        listener: Option<Box<dyn ProgressListener>>,
    ) -> Result<Arc<Self>, SqrlError> {
        let (current, new_password) = (password(current), password(new_password));
        let next = watched(listener, |report| {
            self.0.change_password_cancellable(
                &current,
                &new_password,
                stretch.into(),
                &mut OsRng,
                report,
            )
        })?;
        Ok(Self::wrap(next))
    }

    /// Sets a password with the rescue code (a forgotten password, or a restored textual
    /// identity).
    pub fn set_password_with_rescue_code(
        &self,
        code: Arc<RescueCode>,
        new_password: String,
        stretch: Stretch,
        listener: Option<Box<dyn ProgressListener>>,
    ) -> Result<Arc<Self>, SqrlError> {
        let new_password = password(new_password);
        let next = watched(listener, |report| {
            self.0.set_password_with_rescue_code_cancellable(
                &code.0,
                &new_password,
                stretch.into(),
                &mut OsRng,
                report,
            )
        })?;
        Ok(Self::wrap(next))
    }

    /// Re-keys: a new identity key and rescue code; the current key becomes a previous one
    /// (four are kept), so sites that know it move to the new one at the next login. Needs
    /// the current rescue code; returns the new one, to show once.
    pub fn rekey(
        &self,
        code: Arc<RescueCode>,
        new_password: String,
        stretch: Stretch,
        listener: Option<Box<dyn ProgressListener>>,
    ) -> Result<NewIdentity, SqrlError> {
        let new_password = password(new_password);
        let (next, new_code) = watched(listener, |report| {
            self.0
                .rekey_cancellable(&code.0, &new_password, stretch.into(), &mut OsRng, report)
        })?;
        Ok(NewIdentity {
            identity: Self::wrap(next),
            rescue_code: Arc::new(RescueCode(new_code)),
        })
    }
}

/// The keys an unlocked identity uses to log in. They never leave Rust; dropping the object
/// wipes them (once every exchange started from it is gone too).
#[derive(Debug, uniffi::Object)]
pub struct UnlockedIdentity {
    pub(crate) keys: Arc<Keys>,
}

impl UnlockedIdentity {
    pub(crate) fn wrap(keys: Keys) -> Arc<Self> {
        Arc::new(Self {
            keys: Arc::new(keys),
        })
    }
}

#[uniffi::export]
impl UnlockedIdentity {
    /// The identity's public key at a site (base64url, as the site stores it): `site` is a
    /// `sqrl://` link, or a bare host such as `example.com`. `alt_id` picks an alternate
    /// identity ("" for none).
    pub fn public_key(&self, site: String, alt_id: String) -> Result<String, SqrlError> {
        let url = crate::link::site_url(&site)?;
        let key = self.keys.site_public_key(url.auth_domain(), &alt_id);
        Ok(key.encode())
    }
}

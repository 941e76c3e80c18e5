//! A SQRL identity at rest and unlocked: create, unlock with the password or the rescue code,
//! change the password, re-key, import and export (`spec/keys.md` §1, §6-§9).

use std::time::Duration;

use rand_core::CryptoRngCore;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

use crate::error::IdentityError;
use crate::keys::{enscrypt_cancellable, enscrypt_while, EnScryptKey, Ilk, Imk, Iuk, LOG2_N};
use crate::storage::base56;
use crate::storage::s4::{
    PasswordBlock, PreviousBlock, RescueBlock, Settings, StretchParams, RESCUE_BLOCK_LEN, S4,
};

/// Why a textual identity of the wrong length is refused.
const TEXTUAL_LENGTH: &str =
    "a textual identity has exactly 107 characters (check characters included)";

/// A password, NFKC-normalised UTF-8. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Normalises `text` to Unicode NFKC.
    pub fn new(text: &str) -> Self {
        Self(Zeroizing::new(text.nfkc().collect()))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl core::fmt::Debug for Password {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The 24-digit rescue code. Zeroized on drop; never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RescueCode(Zeroizing<String>);

impl core::fmt::Debug for RescueCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RescueCode(<redacted>)")
    }
}

impl RescueCode {
    /// 24 digits from 256 random bits, by repeated division by 10.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut entropy = [0u8; 32];
        rng.fill_bytes(&mut entropy);
        let mut digits = String::with_capacity(24);
        for _ in 0..24 {
            let mut remainder = 0u32;
            for byte in entropy.iter_mut().rev() {
                let value = (remainder << 8) | u32::from(*byte);
                *byte = (value / 10) as u8;
                remainder = value % 10;
            }
            digits.push(char::from(b'0' + remainder as u8));
        }
        entropy.zeroize();
        Self(Zeroizing::new(digits))
    }

    /// Parses what a person types: 24 digits, with any dashes and spaces ignored.
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .collect();
        if digits.len() != 24 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::InvalidRescueCode);
        }
        Ok(Self(Zeroizing::new(digits)))
    }

    /// The 24 digits, as EnScrypt takes them.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Six groups of four: `1198-8748-7132-2838-8318-7570`.
    pub fn grouped(&self) -> String {
        let bytes = self.0.as_bytes();
        bytes
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// How long to stretch a new password or rescue code with EnScrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretch {
    /// Run iterations until this much time has passed (the stored count is what it reached).
    For(Duration),
    /// Exactly this many iterations (tests, or matching another device).
    Iterations(u32),
}

impl Stretch {
    /// The default: 5 seconds.
    pub const DEFAULT: Stretch = Stretch::For(Duration::from_secs(5));
}

/// Which secret is being stretched, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The password.
    Password,
    /// The rescue code.
    RescueCode,
}

/// Progress of a long EnScrypt: `done` out of `total` (iterations, or milliseconds when
/// stretching for a duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The secret being stretched.
    pub stage: Stage,
    /// Work done.
    pub done: u64,
    /// Work in all.
    pub total: u64,
}

/// A progress callback that may stop the work: it returns `false` to cancel.
type Watch<'a> = &'a mut dyn FnMut(Progress) -> bool;

/// Adapts a plain progress callback to one that never cancels.
fn never_cancel(progress: &mut dyn FnMut(Progress)) -> impl FnMut(Progress) -> bool + '_ {
    move |p| {
        progress(p);
        true
    }
}

fn stretch_new(
    secret: &[u8],
    stretch: Stretch,
    stage: Stage,
    rng: &mut impl CryptoRngCore,
    progress: Watch<'_>,
) -> Result<(EnScryptKey, StretchParams), IdentityError> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let (key, iterations) = match stretch {
        Stretch::Iterations(n) => {
            let key = enscrypt_cancellable(secret, &salt, n, |done, total| {
                progress(Progress {
                    stage,
                    done: done.into(),
                    total: total.into(),
                })
            })?;
            (key, n)
        }
        Stretch::For(budget) => {
            let start = std::time::Instant::now();
            let total = budget.as_millis() as u64;
            let mut cancelled = false;
            let made = enscrypt_while(secret, &salt, |_| {
                let elapsed = start.elapsed();
                cancelled = !progress(Progress {
                    stage,
                    done: (elapsed.as_millis() as u64).min(total),
                    total,
                });
                !cancelled && elapsed < budget
            })?;
            if cancelled {
                return Err(IdentityError::Cancelled);
            }
            made
        }
    };
    let params = StretchParams {
        salt,
        log2_n: LOG2_N,
        iterations,
    };
    Ok((key, params))
}

fn stretch_again(
    secret: &[u8],
    params: &StretchParams,
    stage: Stage,
    progress: Watch<'_>,
) -> Result<EnScryptKey, IdentityError> {
    enscrypt_cancellable(secret, &params.salt, params.iterations, |done, total| {
        progress(Progress {
            stage,
            done: done.into(),
            total: total.into(),
        })
    })
}

/// An identity in its stored, encrypted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    s4: S4,
}

/// What the password unlocks: the keys for everyday logins.
#[derive(Debug)]
pub struct Unlocked {
    /// Identity Master Key: derives every site key.
    pub imk: Imk,
    /// Identity Lock Key: locks new associations.
    pub ilk: Ilk,
    /// Previous IUKs, newest first (for `pidk` and re-key `urs`).
    pub previous: Vec<Iuk>,
    /// Stored settings.
    pub settings: Settings,
}

impl Identity {
    /// Creates a new identity: a fresh IUK and rescue code, protected by `password`.
    /// Returns the identity and the rescue code to show the user once.
    pub fn create(
        password: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Self, RescueCode), IdentityError> {
        Self::create_cancellable(password, stretch, rng, &mut never_cancel(progress))
    }

    /// [`Identity::create`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn create_cancellable(
        password: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<(Self, RescueCode), IdentityError> {
        let iuk = Iuk::generate(rng);
        let code = RescueCode::generate(rng);
        let identity = Self::build(
            &iuk,
            None,
            &code,
            password,
            stretch,
            Settings::default(),
            rng,
            progress,
        )?;
        Ok((identity, code))
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        iuk: &Iuk,
        previous: Option<PreviousBlock>,
        code: &RescueCode,
        password: &Password,
        stretch: Stretch,
        settings: Settings,
        rng: &mut impl CryptoRngCore,
        progress: Watch<'_>,
    ) -> Result<Self, IdentityError> {
        let (rescue_key, rescue_params) = stretch_new(
            code.digits().as_bytes(),
            stretch,
            Stage::RescueCode,
            rng,
            progress,
        )?;
        let rescue = RescueBlock::seal(iuk, &rescue_key, rescue_params)?;
        let mut s4 = S4 {
            rescue: Some(rescue),
            previous,
            ..S4::default()
        };
        s4.password = Some(Self::password_block(
            iuk.imk(),
            iuk.ilk(),
            password,
            stretch,
            settings,
            rng,
            progress,
        )?);
        Ok(Self { s4 })
    }

    fn password_block(
        imk: Imk,
        ilk: Ilk,
        password: &Password,
        stretch: Stretch,
        settings: Settings,
        rng: &mut impl CryptoRngCore,
        progress: Watch<'_>,
    ) -> Result<PasswordBlock, IdentityError> {
        let (key, params) = stretch_new(password.bytes(), stretch, Stage::Password, rng, progress)?;
        let mut iv = [0u8; 12];
        rng.fill_bytes(&mut iv);
        PasswordBlock::seal(&imk, &ilk, &key, params, iv, settings)
    }

    /// Unlocks with the password.
    pub fn unlock(
        &self,
        password: &Password,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Unlocked, IdentityError> {
        self.unlock_cancellable(password, &mut never_cancel(progress))
    }

    /// [`Identity::unlock`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn unlock_cancellable(
        &self,
        password: &Password,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Unlocked, IdentityError> {
        let block = self
            .s4
            .password
            .as_ref()
            .ok_or(IdentityError::MissingBlock { block_type: 1 })?;
        let key = stretch_again(password.bytes(), &block.stretch, Stage::Password, progress)?;
        let (imk, ilk) = block.open(&key).ok_or(IdentityError::WrongPassword)?;
        let previous = self.previous_iuks(&imk)?;
        Ok(Unlocked {
            imk,
            ilk,
            previous,
            settings: block.settings,
        })
    }

    /// The previous IUKs (newest first), decrypted with the current IMK.
    fn previous_iuks(&self, imk: &Imk) -> Result<Vec<Iuk>, IdentityError> {
        match &self.s4.previous {
            Some(block) => block.open(imk).ok_or(IdentityError::S4Block {
                block_type: 3,
                reason: "does not decrypt with this identity's IMK",
            }),
            None => Ok(Vec::new()),
        }
    }

    /// Recovers the IUK with the rescue code.
    pub fn recover(
        &self,
        code: &RescueCode,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Iuk, IdentityError> {
        self.recover_cancellable(code, &mut never_cancel(progress))
    }

    /// [`Identity::recover`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn recover_cancellable(
        &self,
        code: &RescueCode,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Iuk, IdentityError> {
        let block = self
            .s4
            .rescue
            .as_ref()
            .ok_or(IdentityError::MissingBlock { block_type: 2 })?;
        let key = stretch_again(
            code.digits().as_bytes(),
            &block.stretch,
            Stage::RescueCode,
            progress,
        )?;
        block.open(&key).ok_or(IdentityError::WrongRescueCode)
    }

    /// Re-protects the identity with a new password (type 2 and 3 blocks unchanged).
    pub fn change_password(
        &self,
        current: &Password,
        new: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, IdentityError> {
        self.change_password_cancellable(current, new, stretch, rng, &mut never_cancel(progress))
    }

    /// [`Identity::change_password`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn change_password_cancellable(
        &self,
        current: &Password,
        new: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Self, IdentityError> {
        let unlocked = self.unlock_cancellable(current, progress)?;
        let mut next = self.clone();
        next.s4.password = Some(Self::password_block(
            unlocked.imk,
            unlocked.ilk,
            new,
            stretch,
            unlocked.settings,
            rng,
            progress,
        )?);
        Ok(next)
    }

    /// Sets a (new) password using the rescue code: for an identity imported from its
    /// rescue-code-only or textual form, or a forgotten password.
    pub fn set_password_with_rescue_code(
        &self,
        code: &RescueCode,
        new: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, IdentityError> {
        self.set_password_with_rescue_code_cancellable(
            code,
            new,
            stretch,
            rng,
            &mut never_cancel(progress),
        )
    }

    /// [`Identity::set_password_with_rescue_code`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn set_password_with_rescue_code_cancellable(
        &self,
        code: &RescueCode,
        new: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Self, IdentityError> {
        let iuk = self.recover_cancellable(code, progress)?;
        let settings = self
            .s4
            .password
            .as_ref()
            .map(|b| b.settings)
            .unwrap_or_default();
        let mut next = self.clone();
        next.s4.password = Some(Self::password_block(
            iuk.imk(),
            iuk.ilk(),
            new,
            stretch,
            settings,
            rng,
            progress,
        )?);
        Ok(next)
    }

    /// Re-keys: a new IUK and rescue code; the current IUK becomes the newest previous one
    /// (at most four kept). Needs the current rescue code. Returns the new rescue code.
    pub fn rekey(
        &self,
        code: &RescueCode,
        new_password: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Self, RescueCode), IdentityError> {
        self.rekey_cancellable(
            code,
            new_password,
            stretch,
            rng,
            &mut never_cancel(progress),
        )
    }

    /// [`Identity::rekey`], stopped when `progress` returns `false`
    /// (with [`IdentityError::Cancelled`]).
    pub fn rekey_cancellable(
        &self,
        code: &RescueCode,
        new_password: &Password,
        stretch: Stretch,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<(Self, RescueCode), IdentityError> {
        let old_iuk = self.recover_cancellable(code, progress)?;
        let old_imk = old_iuk.imk();
        let mut previous = vec![old_iuk];
        previous.extend(self.previous_iuks(&old_imk)?);
        previous.truncate(4);
        let edition = self
            .s4
            .previous
            .as_ref()
            .and_then(|b| b.edition)
            .map_or(1, |e| e.wrapping_add(1));
        let iuk = Iuk::generate(rng);
        let new_code = RescueCode::generate(rng);
        let settings = self
            .s4
            .password
            .as_ref()
            .map(|b| b.settings)
            .unwrap_or_default();
        let block = PreviousBlock::seal(&previous, &iuk.imk(), edition)?;
        let mut next = Self::build(
            &iuk,
            Some(block),
            &new_code,
            new_password,
            stretch,
            settings,
            rng,
            progress,
        )?;
        next.s4.other = self.s4.other.clone();
        Ok((next, new_code))
    }

    /// Reads any stored form: binary `sqrldata`, text `SQRLDATA`, a header-less rescue-code
    /// export, or the base56 textual identity.
    pub fn import(input: &[u8]) -> Result<Self, IdentityError> {
        match S4::parse(input) {
            Ok(s4) if s4.rescue.is_some() || s4.password.is_some() => Ok(Self { s4 }),
            Ok(_) => Err(IdentityError::MissingBlock { block_type: 2 }),
            Err(s4_error) => {
                let text = core::str::from_utf8(input).map_err(|_| s4_error.clone())?;
                let looks_textual = text.chars().all(|c| {
                    c.is_whitespace() || base56::ALPHABET.contains(&(c as u8)) && c.is_ascii()
                });
                if !looks_textual {
                    return Err(s4_error);
                }
                // The textual identity is the rescue-code block: refuse any other length
                // before decoding anything.
                let chars = text.chars().filter(|c| !c.is_whitespace()).count();
                if chars != base56::textual_len(RESCUE_BLOCK_LEN) {
                    return Err(IdentityError::TextualIdentity {
                        line: 0,
                        reason: TEXTUAL_LENGTH,
                    });
                }
                let bytes = base56::decode(text)?;
                let rescue = RescueBlock::from_bytes(&bytes)?;
                Ok(Self {
                    s4: S4 {
                        rescue: Some(rescue),
                        ..S4::default()
                    },
                })
            }
        }
    }

    /// The S4 container.
    pub fn s4(&self) -> &S4 {
        &self.s4
    }

    /// `true` when the password block is present (everyday logins possible).
    pub fn has_password(&self) -> bool {
        self.s4.password.is_some()
    }

    /// The binary file form.
    pub fn to_binary(&self) -> Vec<u8> {
        self.s4.to_binary()
    }

    /// The `SQRLDATA` text form.
    pub fn to_text(&self) -> String {
        self.s4.to_text()
    }

    /// A rescue-code-only copy (type 2 block alone): safe to keep anywhere, useless without
    /// the rescue code.
    pub fn rescue_only(&self) -> Result<Self, IdentityError> {
        let rescue = self
            .s4
            .rescue
            .clone()
            .ok_or(IdentityError::MissingBlock { block_type: 2 })?;
        Ok(Self {
            s4: S4 {
                rescue: Some(rescue),
                ..S4::default()
            },
        })
    }

    /// The textual identity (base56 of the rescue-code block) for printing on paper.
    pub fn textual(&self) -> Result<String, IdentityError> {
        let rescue = self
            .s4
            .rescue
            .as_ref()
            .ok_or(IdentityError::MissingBlock { block_type: 2 })?;
        Ok(base56::encode(&rescue.to_bytes()))
    }
}

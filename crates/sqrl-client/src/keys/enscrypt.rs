//! EnScrypt: memory-hard stretching of a password or rescue code into a 256-bit key.
//!
//! `k1 = scrypt(pw, salt)`, `k(i) = scrypt(pw, k(i-1))` as the salt, output `k1 ⊕ … ⊕ kn`, with
//! scrypt fixed at N = 512 (log2 N = 9), r = 256, p = 1 (16 MiB per call). The iteration count
//! is stored beside the salt; creating a key picks it by elapsed time.

use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::secret::secret32;
use crate::error::IdentityError;

/// scrypt's log2 N, fixed for SQRL.
pub const LOG2_N: u8 = 9;
/// scrypt's r, fixed for SQRL.
pub const R: u32 = 256;
/// scrypt's p, fixed for SQRL.
pub const P: u32 = 1;

/// Most EnScrypt iterations this client runs or accepts from an identity file
/// (`spec/keys.md` §4). Real counts come from timing: GRC's clients stretch for seconds (5 by
/// default, at most 255 as the password block can store), at some tens to a hundred
/// iterations a second, so a genuine file stays far below this; a larger count is a damaged
/// or hostile file that would otherwise keep the client busy for days.
pub const MAX_ITERATIONS: u32 = 100_000;

secret32!(
    /// The output of EnScrypt: the AES-256-GCM key for an S4 block.
    EnScryptKey
);

fn params() -> Result<scrypt::Params, IdentityError> {
    scrypt::Params::new(LOG2_N, R, P, 32).map_err(|_| IdentityError::ScryptParameters)
}

/// Runs EnScrypt, calling `keep_going(done)` after each iteration (`done` counts completed
/// iterations, from 1); stops when it returns `false`, or at [`MAX_ITERATIONS`]. Always does
/// at least one iteration. Returns the key and the number of iterations done.
pub fn enscrypt_while(
    password: &[u8],
    salt: &[u8],
    mut keep_going: impl FnMut(u32) -> bool,
) -> Result<(EnScryptKey, u32), IdentityError> {
    let params = params()?;
    let mut out = [0u8; 32];
    let mut current = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut current)
        .map_err(|_| IdentityError::ScryptParameters)?;
    out.copy_from_slice(&current);
    let mut done: u32 = 1;
    while done < MAX_ITERATIONS && keep_going(done) {
        let mut next = [0u8; 32];
        scrypt::scrypt(password, &current, &params, &mut next)
            .map_err(|_| IdentityError::ScryptParameters)?;
        for (o, n) in out.iter_mut().zip(next.iter()) {
            *o ^= n;
        }
        current.zeroize();
        current = next;
        next.zeroize();
        done = done.checked_add(1).ok_or(IdentityError::ScryptParameters)?;
    }
    current.zeroize();
    Ok((EnScryptKey::from_bytes(out), done))
}

/// EnScrypt with a known iteration count (reading an identity), reporting progress as
/// `(done, total)` after each iteration.
pub fn enscrypt(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    mut progress: impl FnMut(u32, u32),
) -> Result<EnScryptKey, IdentityError> {
    enscrypt_cancellable(password, salt, iterations, |done, total| {
        progress(done, total);
        true
    })
}

/// [`enscrypt`] that the caller can stop: `progress(done, total)` returns `false` to cancel,
/// and the call then fails with [`IdentityError::Cancelled`] (a phone app's Cancel button
/// during seconds of stretching).
pub fn enscrypt_cancellable(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    mut progress: impl FnMut(u32, u32) -> bool,
) -> Result<EnScryptKey, IdentityError> {
    if iterations == 0 {
        return Err(IdentityError::ZeroIterations);
    }
    if iterations > MAX_ITERATIONS {
        return Err(IdentityError::TooManyIterations {
            found: iterations,
            limit: MAX_ITERATIONS,
        });
    }
    let mut cancelled = false;
    let (key, _) = enscrypt_while(password, salt, |done| {
        if !progress(done, iterations) {
            cancelled = true;
            return false;
        }
        done < iterations
    })?;
    if cancelled {
        return Err(IdentityError::Cancelled);
    }
    Ok(key)
}

/// EnScrypt for at least `duration` of wall-clock time (creating or re-protecting an
/// identity), reporting the elapsed time after each iteration. Returns the key and the
/// iteration count to store.
pub fn enscrypt_for(
    password: &[u8],
    salt: &[u8],
    duration: Duration,
    mut progress: impl FnMut(Duration, Duration),
) -> Result<(EnScryptKey, u32), IdentityError> {
    let start = Instant::now();
    enscrypt_while(password, salt, |_| {
        let elapsed = start.elapsed();
        progress(elapsed.min(duration), duration);
        elapsed < duration
    })
}

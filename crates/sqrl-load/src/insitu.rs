//! The server's CPU per login measured *in situ*: what share of the server's CPU samples fall
//! in signature verification while logins run.
//!
//! A returning user's login checks exactly two signatures (the query's and the ident's
//! `ids`), so if they take a share `s` of the server's samples, the whole login costs
//! `2 / s` signature checks. Both sides of that ratio are measured in the same samples, at
//! the same moments, on the same core, so it does not move when the host's speed does (which
//! the ratio to a separately measured `verify_strict` does, on a noisy host). The samples of
//! a check include parsing its public key from 32 bytes (a point decompression, about a
//! tenth of a check), which `verify_strict` alone does not: the figure understates a login's
//! cost by about that much.
//!
//! It needs `perf` (Debian package `linux-perf`) and permission to sample the server.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Symbols of signature verification: the curve, the signature scheme and its hash.
const SIGNATURE_SYMBOLS: [&str; 4] = ["curve25519_dalek", "ed25519_dalek", "sha2::", "sha512"];

/// The result of one sampling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InSitu {
    /// Share of the samples in signature verification, in percent.
    pub(crate) signature_percent: f64,
    /// Samples taken.
    pub(crate) samples: u64,
}

impl InSitu {
    /// A login's server CPU in signature checks: 2 ÷ the signatures' share.
    pub(crate) fn per_login(&self) -> Option<f64> {
        (self.signature_percent > 0.0).then(|| 200.0 / self.signature_percent)
    }
}

/// Samples process `pid` for `length` after waiting `delay` (run it on a thread of its own: it
/// blocks). An error saying why when `perf` is missing or fails.
pub(crate) fn sample(pid: u32, delay: Duration, length: Duration) -> Result<InSitu, String> {
    // The delay is the point: sampling starts once the load has warmed up.
    #[allow(clippy::disallowed_methods)]
    std::thread::sleep(delay);
    let file = std::env::temp_dir().join(format!("sqrl-load-{}-{pid}.perf", std::process::id()));
    let recorded = Command::new("perf")
        .args(["record", "-q", "-F", "999", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&file)
        .args(["--", "sleep"])
        .arg(format!("{:.3}", length.as_secs_f64()))
        .output()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    let _cleanup = Remove(file.clone());
    if !recorded.status.success() {
        return Err(format!(
            "perf record failed: {}",
            String::from_utf8_lossy(&recorded.stderr).trim()
        ));
    }
    let report = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", "sym", "-i"])
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run perf report: {e}"))?;
    if !report.status.success() {
        return Err(format!(
            "perf report failed: {}",
            String::from_utf8_lossy(&report.stderr).trim()
        ));
    }
    parse_report(&String::from_utf8_lossy(&report.stdout))
}

/// Sums the signature symbols' percentages in `perf report --stdio --sort sym` output.
fn parse_report(report: &str) -> Result<InSitu, String> {
    let mut samples = None;
    let mut percent = 0.0;
    for line in report.lines() {
        let line = line.trim();
        // "# Samples: 4K of event 'cpu-clock'" is rounded; the event count line is not needed.
        if let Some(rest) = line.strip_prefix("# Samples: ") {
            samples = rest.split_whitespace().next().and_then(parse_count);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((share, symbol)) = line.split_once('%') else {
            continue;
        };
        let Ok(share) = share.trim().parse::<f64>() else {
            continue;
        };
        if SIGNATURE_SYMBOLS.iter().any(|s| symbol.contains(s)) {
            percent += share;
        }
    }
    match samples {
        Some(samples) if samples > 0 => Ok(InSitu {
            signature_percent: percent,
            samples,
        }),
        _ => Err("perf took no samples of the server".into()),
    }
}

/// "4K" → 4000, "812" → 812.
fn parse_count(text: &str) -> Option<u64> {
    match text.strip_suffix('K') {
        Some(thousands) => thousands.parse::<u64>().ok()?.checked_mul(1000),
        None => text.parse().ok(),
    }
}

struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut old = self.0.clone().into_os_string();
        old.push(".old");
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_share_is_the_sum_of_its_symbols() {
        let report = "# Samples: 4K of event 'cpu-clock:ppp'\n\
                      #\n\
                      # Overhead  Symbol\n\
                      \n\
                      \u{20}    6.48%  [.] <&curve25519_dalek::backend::vector::avx2::field::FieldElement2625x4 as Mul>::mul\n\
                      \u{20}    3.23%  [k] _raw_spin_unlock_irqrestore\n\
                      \u{20}    1.52%  [.] ed25519_dalek::verifying::VerifyingKey::verify_strict\n\
                      \u{20}    0.45%  [.] sha2::sha512::x86::sha512_compress_x86_64_avx2\n\
                      \u{20}    0.40%  [.] sqrl_proto::b64::decode\n";
        let found = parse_report(report).unwrap();
        assert_eq!(found.samples, 4000);
        assert!((found.signature_percent - 8.45).abs() < 1e-9);
        assert!((found.per_login().unwrap() - 200.0 / 8.45).abs() < 1e-9);
        assert!(parse_report("# no samples\n").is_err());
    }
}

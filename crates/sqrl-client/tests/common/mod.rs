//! Helpers shared by the integration tests: locating `../shared/sqrl/vectors` and reading
//! its CSV files.
#![allow(
    // A test helper module: `pub` is for the tests that include it, not an API.
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod mini_server;
pub mod one_read_server;

use std::path::PathBuf;

/// `../shared/sqrl/vectors` beside the repository (or `$SQRL_SHARED_VECTORS`). The tests that
/// read it are compiled as ignored where the build did not find it (`cfg(sqrl_vectors)`, see
/// `build.rs`), so `cargo test` counts them as skipped instead of passing them.
pub fn shared_vectors() -> Option<PathBuf> {
    let dir = match std::env::var_os("SQRL_SHARED_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sqrl/vectors"),
    };
    assert!(
        dir.is_dir(),
        "{} not found, though it was there when the tests were built",
        dir.display()
    );
    Some(dir)
}

/// Parses a CSV file of double-quoted or bare fields (`""` escapes a quote); skips the header.
pub fn read_csv(name: &str) -> Option<Vec<Vec<String>>> {
    let path = shared_vectors()?.join("sqrldev").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(parse_csv_line)
        .collect();
    assert!(!rows.is_empty(), "{name} has no rows");
    Some(rows)
}

fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

pub fn b64(text: &str) -> Vec<u8> {
    sqrl_proto::b64::decode(text).unwrap()
}

pub fn b64_32(text: &str) -> [u8; 32] {
    b64(text).try_into().unwrap()
}

pub fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

//! Checks run against a SQRL server (see the crate documentation).

//! SQRL conformance, for implementers who never read our code.
//!
//! - [`battery`]: checks run against any SQRL server over HTTP(S), each naming the rule of
//!   `spec/` it tests; the `sqrl check` command prints them.
//! - [`grade`]: grading of the requests a SQRL client under test sends, without IO; the test
//!   site (`sqrl-site --check-clients`) shows the grades on a report page.

pub mod battery;
pub mod grade;

//! The project's test kit (test-only, never published): what several crates' tests start.
//!
//! - [`Postgres`], [`Redis`]: throwaway servers on free loopback ports (`services`).
//! - [`Process`], [`binary`], [`example`], [`free_port`], [`temp_dir`]: the workspace's built
//!   programs as child processes killed on drop (`process`).
//! - [`SiteProcess`]: a running `sqrl-site` on a free port, with the address it printed
//!   (`site`).
//! - [`wait_until`]: waits for a condition with a deadline, the tests' only way to sleep
//!   (`wait`).
//! - `harness` (feature `harness`): sqrl-axum's protocol tests, each written once and run in
//!   process and over HTTP on a virtual clock.
//!
//! Helpers that cannot go on panic with a message saying why, as a test would.

#[cfg(feature = "harness")]
pub mod harness;
mod process;
mod services;
mod site;
mod wait;

pub use process::{bin_dir, binary, example, free_port, temp_dir, Process};
pub use services::{Postgres, Redis};
pub use site::SiteProcess;
pub use wait::wait_until;

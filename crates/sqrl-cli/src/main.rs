//! The `sqrl` command. Only `sqrl idk <auth-domain>` style helpers exist yet; see the client issue.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "sqrl {}: the command-line client is not implemented yet",
        env!("CARGO_PKG_VERSION")
    );
    let _ = sqrl_client::keys::enhash;
    ExitCode::from(2)
}

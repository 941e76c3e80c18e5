//! The `sqrl-site` binary. Not implemented yet; see the server issue.

use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = sqrl_server::proto::Tif::CURRENT_ID_MATCH;
    eprintln!(
        "sqrl-site {}: not implemented yet",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}

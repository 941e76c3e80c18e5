//! The SQRL protocol, each test written once and run over both transports (`*::in_process::*`
//! calls the `SqrlServer` driver, `*::over_http::*` the axum router), by topic: full logins
//! driven by the real client (`logins`), the negative matrix with hand-built (faithful or
//! hostile) requests, each checked for its exact TIF and for changing nothing (`hostile`), and
//! the regressions (`regressions`). The clock is virtual.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod hostile;
mod logins;
mod regressions;

use rand_core::OsRng;
use sqrl_client::exchange::Keys;
use sqrl_client::keys::Iuk;
use sqrl_testkit::harness::keys;

fn new_keys() -> (Iuk, Keys) {
    let iuk = Iuk::generate(&mut OsRng);
    let keys = keys(&iuk);
    (iuk, keys)
}

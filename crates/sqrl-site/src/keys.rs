//! The site's two 256-bit keys (nut sealing, browser secrets). They live in the database, so
//! every instance pointed at the same database opens every nut and cookie, and nothing secret
//! sits beside it as a file. A `<database>.keys` file left by an earlier version is imported
//! once (its keys become the stored ones, so codes and cookies keep working) and can then be
//! deleted.

use std::path::Path;

use rand_core::{OsRng, RngCore};
use sqrl_server::AccountStore;
use zeroize::Zeroizing;

pub(crate) struct Keys {
    pub(crate) nut: Zeroizing<[u8; 32]>,
    pub(crate) browser: Zeroizing<[u8; 32]>,
}

/// The keys of an earlier version's file beside a SQLite database, if there is one.
fn legacy_file(database: Option<&Path>) -> Option<([u8; 32], [u8; 32])> {
    let database = database?;
    let mut name = database.file_name()?.to_os_string();
    name.push(".keys");
    let bytes = Zeroizing::new(std::fs::read(database.with_file_name(name)).ok()?);
    let (nut, browser) = bytes.split_at_checked(32)?;
    Some((nut.try_into().ok()?, browser.try_into().ok()?))
}

pub(crate) async fn load_or_create<S: AccountStore + ?Sized>(
    store: &S,
    sqlite_path: Option<&Path>,
) -> Result<Keys, String> {
    let (mut nut, mut browser) = legacy_file(sqlite_path).unwrap_or_default();
    if nut == [0; 32] {
        OsRng.fill_bytes(&mut nut);
        OsRng.fill_bytes(&mut browser);
    }
    let (nut, browser) = (Zeroizing::new(nut), Zeroizing::new(browser));
    let read = |e| format!("cannot read the site's keys from the database: {e}");
    Ok(Keys {
        nut: store.site_key("nut", &nut).await.map_err(read)?,
        browser: store.site_key("browser", &browser).await.map_err(read)?,
    })
}

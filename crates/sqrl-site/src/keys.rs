//! The site's two 256-bit keys (nut sealing, browser secrets), kept in a file beside the
//! database so codes and cookies survive a restart. Created on first run, owner-only.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};

pub struct Keys {
    pub nut: [u8; 32],
    pub browser: [u8; 32],
}

fn path_for(database: &Path) -> PathBuf {
    let mut name = database
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".keys");
    database.with_file_name(name)
}

pub fn load_or_create(database: &Path) -> Result<Keys, String> {
    let path = path_for(database);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; 64];
            OsRng.fill_bytes(&mut bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            bytes
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let (nut, browser) = bytes
        .split_at_checked(32)
        .and_then(|(a, b)| Some((<[u8; 32]>::try_from(a).ok()?, <[u8; 32]>::try_from(b).ok()?)))
        .ok_or_else(|| format!("{} is damaged: it must hold 64 bytes", path.display()))?;
    Ok(Keys { nut, browser })
}

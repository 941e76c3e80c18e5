//! `sqrl identity ...`: create, import, export, show, re-key, change the password.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use rand_core::OsRng;
use sqrl_client::{Identity, RescueCode, Stretch};

use crate::failure::{Failure, Kind, Outcome};
use crate::global::Global;
use crate::session::{self, load};
use crate::ui::{self, Stretching};

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Create a new identity, protected by a password; prints its rescue code once and, at a
    /// terminal, asks you to type its last group before saving
    New {
        #[command(flatten)]
        stretch: StretchArgs,
        /// Replace an existing identity file
        #[arg(long)]
        force: bool,
    },
    /// Import an identity (sqrldata, SQRLDATA text, rescue-code-only, or the printed textual
    /// form); a rescue-code-only identity asks for the rescue code and a new password
    Import {
        /// The file to import, or - for standard input
        file: PathBuf,
        #[command(flatten)]
        stretch: StretchArgs,
        /// Replace an existing identity file
        #[arg(long)]
        force: bool,
    },
    /// Export the identity
    Export {
        /// What to write
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write here instead of standard output (binary needs it, or a pipe, when standard
        /// output is a terminal)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show what the identity file holds (no secrets); with --site, the public key for a site
    Show {
        /// A site: print this identity's public key (idk) there (needs the password). A host
        /// (example.com), a web address or a sqrl:// link; a link's x= counts, its nut is not
        /// needed
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// Alternate identity for --site
        #[arg(long, default_value = "")]
        alt_id: String,
    },
    /// Replace the identity's keys (needs the rescue code); prints the new rescue code and, at
    /// a terminal, asks you to type its last group before saving
    Rekey {
        #[command(flatten)]
        stretch: StretchArgs,
    },
    /// Protect the identity with a new password
    ChangePassword {
        #[command(flatten)]
        stretch: StretchArgs,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// SQRLDATA base64url text (password and rescue-code blocks)
    Text,
    /// sqrldata binary
    Binary,
    /// the rescue-code block only, as SQRLDATA text: useless without the rescue code
    RescueOnly,
    /// the printable base56 form of the rescue-code block, with check characters
    Textual,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct StretchArgs {
    /// Seconds of EnScrypt for each secret set (password, rescue code)
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    enscrypt_seconds: u64,
    /// Exact EnScrypt iteration count instead (scripts, tests)
    #[arg(long, value_name = "N", conflicts_with = "enscrypt_seconds")]
    enscrypt_iterations: Option<u32>,
}

impl StretchArgs {
    fn stretch(&self) -> Result<Stretch, Failure> {
        match self.enscrypt_iterations {
            Some(0) => Err(Failure::new(
                Kind::Input,
                "EnScrypt needs at least one iteration",
            )),
            Some(n) => Ok(Stretch::Iterations(n)),
            None if self.enscrypt_seconds == 0 => Err(Failure::new(
                Kind::Input,
                "EnScrypt needs at least one second",
            )),
            None => Ok(Stretch::For(Duration::from_secs(self.enscrypt_seconds))),
        }
    }
}

/// Writes the identity file atomically, readable by its owner only.
fn save(path: &Path, identity: &Identity, force: bool) -> Outcome {
    refuse_overwrite(path, force)?;
    write_private(path, identity.to_text().as_bytes())
}

/// Refuses to replace an existing identity file without `--force`.
fn refuse_overwrite(path: &Path, force: bool) -> Outcome {
    if !force && path.exists() {
        return Err(Failure::new(
            Kind::Identity,
            format!(
                "{} already exists; pass --force to replace it",
                path.display()
            ),
        ));
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Outcome {
    let fail = |e: std::io::Error| {
        Failure::new(
            Kind::Identity,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Shows the new rescue code (on standard output, for scripts), then at a terminal waits
/// until the user shows it was written down.
fn hand_over_rescue_code(code: &RescueCode, identity: &Identity) -> Outcome {
    let textual = identity.textual()?;
    println!("Rescue code: {}", code.grouped());
    println!();
    println!("Write the rescue code down and keep it offline. It is shown only now, and it is the");
    println!("only way to recover this identity or to unlock it at a site. The textual identity");
    println!("below is safe to print: it is useless without the rescue code.");
    println!();
    println!("{textual}");
    let _ = std::io::stdout().flush();
    ui::confirm_rescue_code(code)
}

/// The site part of `text` as a SQRL URL, for `show --site`: a bare host, a web address or a
/// sqrl:// link, with or without a nut (only the host and x= choose the key).
fn site_for_show(text: &str) -> Result<sqrl_proto::SqrlUrl, Failure> {
    let text = text.trim();
    let rest = ["sqrl://", "https://", "http://"]
        .iter()
        .find_map(|scheme| {
            text.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .and_then(|_| text.get(scheme.len()..))
        })
        .unwrap_or(text);
    let rest = rest.split('#').next().unwrap_or(rest);
    let has_nut = rest.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair == "nut" || pair.starts_with("nut="))
    });
    let link = match (has_nut, rest.contains('?')) {
        (true, _) => format!("sqrl://{rest}"),
        (false, true) => format!("sqrl://{rest}&nut=x"),
        (false, false) => format!("sqrl://{rest}?nut=x"),
    };
    session::parse_url(&link)
}

pub(crate) fn run(global: &Global, command: IdentityCommand) -> Outcome {
    let path = global.identity_path()?;
    match command {
        IdentityCommand::New { stretch, force } => {
            // Checked before asking for a password, and again when saving.
            refuse_overwrite(&path, force)?;
            let password = ui::new_password()?;
            let bar = Stretching::new();
            let (identity, code) =
                Identity::create(&password, stretch.stretch()?, &mut OsRng, &mut |p| {
                    bar.update(p)
                })?;
            drop(bar);
            hand_over_rescue_code(&code, &identity)?;
            save(&path, &identity, force)?;
            eprintln!("Created {}", path.display());
            Ok(())
        }
        IdentityCommand::Import {
            file,
            stretch,
            force,
        } => {
            let mut bytes = Vec::new();
            let read = if file.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut bytes).map(|_| ())
            } else {
                std::fs::read(&file).map(|b| bytes = b)
            };
            read.map_err(|e| {
                Failure::new(Kind::Input, format!("cannot read {}: {e}", file.display()))
            })?;
            let mut identity = Identity::import(&bytes)?;
            if !identity.has_password() {
                eprintln!("This identity holds only its rescue-code block: enter the rescue code and a new password.");
                let stretch = stretch.stretch()?;
                let mut new = None;
                identity = ui::with_rescue_code(|code| {
                    let password = match new.take() {
                        Some(password) => password,
                        None => ui::new_password()?,
                    };
                    let bar = Stretching::new();
                    let result = identity.set_password_with_rescue_code(
                        code,
                        &password,
                        stretch,
                        &mut OsRng,
                        &mut |p| bar.update(p),
                    );
                    new = Some(password);
                    Ok(result?)
                })?;
            }
            save(&path, &identity, force)?;
            eprintln!("Imported into {}", path.display());
            Ok(())
        }
        IdentityCommand::Export { format, output } => {
            let identity = load(&path)?;
            let bytes = match format {
                Format::Text => identity.to_text().into_bytes(),
                Format::Binary => identity.to_binary(),
                Format::RescueOnly => identity.rescue_only()?.to_text().into_bytes(),
                Format::Textual => identity.textual()?.into_bytes(),
            };
            match output {
                Some(file) => write_private(&file, &bytes),
                None if format == Format::Binary && std::io::stdout().is_terminal() => {
                    Err(Failure::new(
                        Kind::Input,
                        "The binary export would only garble this terminal: pass --output FILE, \
                         or redirect it (sqrl identity export --format binary > identity.bin).",
                    ))
                }
                None => {
                    let mut stdout = std::io::stdout();
                    stdout
                        .write_all(&bytes)
                        .and_then(|()| {
                            if format == Format::Binary {
                                Ok(())
                            } else {
                                stdout.write_all(b"\n")
                            }
                        })
                        .map_err(|e| Failure::new(Kind::Other, format!("cannot write: {e}")))
                }
            }
        }
        IdentityCommand::Show { site, alt_id } => {
            let identity = load(&path)?;
            let s4 = identity.s4();
            println!("file:               {}", path.display());
            println!(
                "password block:     {}",
                if s4.password.is_some() { "yes" } else { "no" }
            );
            println!(
                "rescue-code block:  {}",
                if s4.rescue.is_some() { "yes" } else { "no" }
            );
            let previous = s4.previous.as_ref().map_or(0, |p| p.ciphertext.len());
            println!("previous identities: {previous}");
            if let Some(block) = &s4.password {
                println!(
                    "password EnScrypt:  {} iterations",
                    block.stretch.iterations
                );
                let options = block.settings.options;
                println!(
                    "requests SQRL-only: {}",
                    options & sqrl_client::storage::s4::Settings::SQRL_ONLY != 0
                );
                println!(
                    "requests hardlock:  {}",
                    options & sqrl_client::storage::s4::Settings::HARDLOCK != 0
                );
            }
            if let Some(site) = site {
                let url = site_for_show(&site)?;
                let unlocked = session::unlock(&identity)?;
                println!("auth domain:        {}", url.auth_domain());
                println!(
                    "idk:                {}",
                    unlocked
                        .imk
                        .site_key(url.auth_domain(), &alt_id)
                        .public_key()
                );
            }
            Ok(())
        }
        IdentityCommand::Rekey { stretch } => {
            let identity = load(&path)?;
            let stretch = stretch.stretch()?;
            let mut new = None;
            let (next, new_code) = ui::with_rescue_code(|code| {
                let password = match new.take() {
                    Some(password) => password,
                    None => ui::new_password()?,
                };
                let bar = Stretching::new();
                let result =
                    identity.rekey(code, &password, stretch, &mut OsRng, &mut |p| bar.update(p));
                new = Some(password);
                Ok(result?)
            })?;
            hand_over_rescue_code(&new_code, &next)?;
            save(&path, &next, true)?;
            eprintln!(
                "Re-keyed {}; sites learn the new identity at your next login.",
                path.display()
            );
            Ok(())
        }
        IdentityCommand::ChangePassword { stretch } => {
            let identity = load(&path)?;
            let stretch = stretch.stretch()?;
            let mut new = None;
            let next = ui::with_password(|current| {
                let password = match new.take() {
                    Some(password) => password,
                    None => ui::new_password()?,
                };
                let bar = Stretching::new();
                let result =
                    identity.change_password(current, &password, stretch, &mut OsRng, &mut |p| {
                        bar.update(p)
                    });
                new = Some(password);
                Ok(result?)
            })?;
            save(&path, &next, true)?;
            eprintln!("Password changed.");
            Ok(())
        }
    }
}

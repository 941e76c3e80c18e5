//! `sqrl`: the phone side of SQRL for a terminal. Manage an identity; log in to a site by its
//! `sqrl://` link or a picture of its QR code.

mod cps_cmd;
mod identity_cmd;
mod qr;
mod site_cmd;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// How a run ended; the process exit code tells scripts which kind of failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything not below.
    Other = 1,
    /// 3: wrong password or rescue code, missing or damaged identity file.
    Identity = 3,
    /// 4: the server could not be reached or answered with something that is not SQRL.
    Network = 4,
    /// 5: the server refused (unknown identity, disabled, superseded, failed command).
    Refused = 5,
    /// 6: the user cancelled.
    Cancelled = 6,
    /// 7: bad input: not a SQRL URL, unreadable QR image.
    Input = 7,
}

/// A failure to report: one sentence, and its kind.
#[derive(Debug)]
pub struct Failure {
    kind: Kind,
    pub(crate) message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<sqrl_client::Error> for Failure {
    fn from(error: sqrl_client::Error) -> Self {
        use sqrl_client::Error as E;
        let kind = match &error {
            E::WrongPassword
            | E::WrongRescueCode
            | E::InvalidRescueCode
            | E::MissingBlock { .. }
            | E::S4Container(_)
            | E::S4Block { .. }
            | E::S4DuplicateBlock { .. }
            | E::TextualIdentity { .. } => Kind::Identity,
            E::Network(_) | E::HttpStatus(_) | E::ReplyTooLarge | E::InsecureTransport(_) => {
                Kind::Network
            }
            E::UnknownTifBits(_)
            | E::TransientRepeated
            | E::NotSupported(_)
            | E::ClientFailure(_)
            | E::CommandFailed(_)
            | E::Superseded
            | E::SqrlDisabled
            | E::UnknownIdentity
            | E::MissingSuk
            | E::MissingCpsUrl
            | E::NeedRescueCode => Kind::Refused,
            E::Cancelled => Kind::Cancelled,
            E::Proto(_) => Kind::Network,
            _ => Kind::Other,
        };
        let message = match &error {
            E::Proto(e) => format!("the server's reply is not valid SQRL: {e}"),
            _ => error.to_string(),
        };
        Failure::new(kind, message)
    }
}

pub type Outcome = Result<(), Failure>;

#[derive(Debug, Parser)]
#[command(
    name = "sqrl",
    version,
    about = "Log in to websites with SQRL from a terminal",
    long_about = "Log in to websites with SQRL from a terminal: the phone side of SQRL.\n\n\
        Secrets come from a prompt, or for scripts from the environment: SQRL_PASSWORD (the \
        identity's password), SQRL_NEW_PASSWORD (a password being set) and SQRL_RESCUE_CODE.",
    after_help = "Exit codes: 0 done, 1 other error, 2 usage, 3 identity (wrong password or \
        rescue code, missing or damaged file), 4 network or non-SQRL reply, 5 refused by the \
        site, 6 cancelled (at a prompt, or with the site's Cancel button), 7 bad input (URL or \
        QR image)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Identity file [default: the platform's config directory, sqrl/identity.sqrl]
    #[arg(long, global = true, env = "SQRL_IDENTITY", value_name = "PATH")]
    identity: Option<PathBuf>,
    /// Show protocol steps on stderr (-v: steps, -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Also trust the CA certificates in this PEM file (beside the built-in and the system's)
    #[arg(long, global = true, env = "SQRL_CA_CERT", value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// DANGEROUS, for a test site on this computer only: talk plain HTTP, without TLS, to
    /// loopback hosts (127.0.0.0/8, ::1, localhost)
    #[arg(long, global = true)]
    danger_loopback_http: bool,
}

impl Global {
    /// The HTTPS transport: built-in and system roots, plus `--ca-cert`.
    pub fn transport(&self) -> Result<sqrl_client::transport::HttpTransport, Failure> {
        let mut transport = sqrl_client::transport::HttpTransport::default();
        if let Some(path) = &self.ca_cert {
            transport = transport
                .with_ca_cert_file(path)
                .map_err(|e| Failure::new(Kind::Input, e.to_string()))?;
        }
        if self.danger_loopback_http {
            transport = transport.danger_allow_loopback_http();
        }
        Ok(transport)
    }
}

impl Global {
    pub fn identity_path(&self) -> Result<PathBuf, Failure> {
        match &self.identity {
            Some(path) => Ok(path.clone()),
            None => dirs::config_dir()
                .map(|d| d.join("sqrl").join("identity.sqrl"))
                .ok_or_else(|| {
                    Failure::new(
                        Kind::Identity,
                        "no config directory here; pass --identity PATH",
                    )
                }),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, import, export, show, re-key or re-protect your identity
    #[command(subcommand)]
    Identity(identity_cmd::IdentityCommand),
    /// Log in to a site by its sqrl:// link or a picture of its QR code
    Login(site_cmd::LoginArgs),
    /// Disable SQRL login for your identity at a site
    Disable(site_cmd::SiteArgs),
    /// Re-enable SQRL login at a site (needs the rescue code)
    Enable(site_cmd::SiteArgs),
    /// Remove your identity from a site (needs the rescue code)
    Remove(site_cmd::SiteArgs),
    /// Serve same-device logins on http://127.0.0.1:25519 (the SQRL localhost protocol)
    Cps(cps_cmd::CpsArgs),
    /// Print shell completions
    #[command(
        long_about = "Print shell completions on standard output.",
        after_help = "Install them where your shell looks for them, then start a new shell:\n  \
            bash:        sqrl completions bash > ~/.local/share/bash-completion/completions/sqrl\n  \
            zsh:         sqrl completions zsh > ~/.zfunc/_sqrl\n               \
            (with `fpath+=~/.zfunc` before `compinit` in ~/.zshrc)\n  \
            fish:        sqrl completions fish > ~/.config/fish/completions/sqrl.fish\n  \
            elvish:      sqrl completions elvish >> ~/.config/elvish/rc.elv\n  \
            powershell:  sqrl completions powershell >> $PROFILE"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> Outcome {
    init_tracing(cli.global.verbose);
    match cli.command {
        Command::Identity(command) => identity_cmd::run(&cli.global, command),
        Command::Login(args) => site_cmd::login(&cli.global, args),
        Command::Disable(args) => {
            site_cmd::other(&cli.global, sqrl_client::exchange::Action::Disable, args)
        }
        Command::Enable(args) => {
            site_cmd::other(&cli.global, sqrl_client::exchange::Action::Enable, args)
        }
        Command::Remove(args) => {
            site_cmd::other(&cli.global, sqrl_client::exchange::Action::Remove, args)
        }
        Command::Cps(args) => cps_cmd::run(&cli.global, args),
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
                Shell::Elvish => clap_complete::Shell::Elvish,
                Shell::Powershell => clap_complete::Shell::PowerShell,
            };
            clap_complete::generate(shell, &mut Cli::command(), "sqrl", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("sqrl: {}", failure.message);
            ExitCode::from(failure.kind as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

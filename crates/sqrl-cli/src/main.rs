//! `sqrl`: the phone side of SQRL for a terminal. Manage an identity; log in to a site by its
//! `sqrl://` link or a picture of its QR code.

mod check_cmd;
mod cps_cmd;
mod failure;
mod global;
mod identity_cmd;
mod qr;
mod session;
mod site_cmd;
mod ui;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use sqrl_client::exchange::Action;

use crate::failure::Outcome;
use crate::global::Global;

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
    /// Check a SQRL server against the spec: a battery of checks, one line each
    #[command(
        after_help = "Exit status 0 when no check failed (warnings and n/a do not \
        count), 1 when one did, 4 when no first code could be had, 7 on bad input. See \
        docs/conformance.md for every check."
    )]
    Check(check_cmd::CheckArgs),
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
        Command::Disable(args) => site_cmd::change(&cli.global, Action::Disable, args),
        Command::Enable(args) => site_cmd::change(&cli.global, Action::Enable, args),
        Command::Remove(args) => site_cmd::change(&cli.global, Action::Remove, args),
        Command::Cps(args) => cps_cmd::run(&cli.global, args),
        Command::Check(args) => check_cmd::run(&cli.global, args),
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
            ExitCode::from(failure.kind.code())
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

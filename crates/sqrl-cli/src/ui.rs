//! The terminal: secrets from a prompt or the environment, confirmations, EnScrypt progress.

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use sqrl_client::{Password, Progress, RescueCode, Stage};

use crate::{Failure, Kind};

fn no_terminal(what: &str, var: &str) -> Failure {
    Failure::new(
        Kind::Identity,
        format!("no terminal to ask for the {what}; set {var} for scripts"),
    )
}

fn read_secret(prompt: &str, what: &str, var: &str) -> Result<String, Failure> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() {
        return Err(no_terminal(what, var));
    }
    rpassword::prompt_password(prompt).map_err(|_| no_terminal(what, var))
}

/// The identity's current password (`SQRL_PASSWORD` or a prompt).
pub fn password() -> Result<Password, Failure> {
    read_secret("Password: ", "password", "SQRL_PASSWORD").map(|p| Password::new(&p))
}

/// A password being set (`SQRL_NEW_PASSWORD`, or a prompt asked twice).
pub fn new_password() -> Result<Password, Failure> {
    if let Ok(value) = std::env::var("SQRL_NEW_PASSWORD") {
        return check_new(value);
    }
    let first = read_secret("New password: ", "new password", "SQRL_NEW_PASSWORD")?;
    let second = read_secret("Repeat it: ", "new password", "SQRL_NEW_PASSWORD")?;
    if first != second {
        return Err(Failure::new(Kind::Input, "the two passwords differ"));
    }
    check_new(first)
}

fn check_new(password: String) -> Result<Password, Failure> {
    if password.chars().count() < 8 {
        return Err(Failure::new(
            Kind::Input,
            "a password needs at least 8 characters",
        ));
    }
    Ok(Password::new(&password))
}

/// The rescue code (`SQRL_RESCUE_CODE` or a prompt).
pub fn rescue_code() -> Result<RescueCode, Failure> {
    let text = read_secret(
        "Rescue code (24 digits): ",
        "rescue code",
        "SQRL_RESCUE_CODE",
    )?;
    RescueCode::parse(&text).map_err(Failure::from)
}

/// A progress bar on stderr for EnScrypt (hidden when stderr is not a terminal).
pub struct Stretching {
    bar: ProgressBar,
}

impl Stretching {
    pub fn new() -> Self {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {percent:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }

    pub fn update(&self, progress: Progress) {
        let message = match progress.stage {
            Stage::Password => "stretching password",
            Stage::RescueCode => "stretching rescue code",
        };
        self.bar.set_message(message);
        self.bar.set_length(progress.total.max(1));
        self.bar.set_position(progress.done);
    }
}

impl Drop for Stretching {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Reads one answer line from standard input (a terminal, or a pipe for scripts and tests);
/// `None` at end of input.
fn answer() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}

/// Asks a yes/no question; `false` unless the answer is yes (end of input cancels).
pub fn confirm(question: &str) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let yes = matches!(answer().as_deref(), Some("y" | "Y" | "yes" | "Yes"));
    if !std::io::stdin().is_terminal() {
        let _ = writeln!(stderr);
    }
    yes
}

/// Asks to pick one of the numbered choices or cancel; `None` to cancel.
pub fn choose(count: usize) -> Option<usize> {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "Choose 1-{count}, or anything else to cancel: ");
    let _ = stderr.flush();
    let choice = answer()?
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=count).contains(n));
    if !std::io::stdin().is_terminal() {
        let _ = writeln!(stderr);
    }
    choice
}

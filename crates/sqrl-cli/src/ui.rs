//! The terminal: secrets from a prompt or the environment, confirmations, EnScrypt progress.

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use sqrl_client::{IdentityError, Password, Progress, RescueCode, Stage};
use zeroize::Zeroizing;

use crate::failure::{Failure, Kind};

/// How many times a person at a terminal may type a password or rescue code.
pub(crate) const TRIES: u32 = 3;

fn no_terminal(what: &str, var: &str) -> Failure {
    Failure::new(
        Kind::Identity,
        format!("no terminal to ask for the {what}; set {var} for scripts"),
    )
}

/// `true` when the secret in `var` will be asked at a terminal (not taken from the
/// environment): only then is a wrong one asked again.
fn asked_at_terminal(var: &str) -> bool {
    std::env::var_os(var).is_none() && std::io::stdin().is_terminal()
}

fn read_secret(prompt: &str, what: &str, var: &str) -> Result<Zeroizing<String>, Failure> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Zeroizing::new(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(no_terminal(what, var));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|_| no_terminal(what, var))
}

/// The identity's current password (`SQRL_PASSWORD` or a prompt).
pub(crate) fn password() -> Result<Password, Failure> {
    read_secret("Password: ", "password", "SQRL_PASSWORD").map(|p| Password::new(&p))
}

/// Why an attempt with a secret failed: the identity's error (a wrong secret is asked again)
/// or anything else.
#[derive(Debug)]
pub(crate) enum Attempt {
    Identity(IdentityError),
    Failed(Failure),
}

impl From<IdentityError> for Attempt {
    fn from(error: IdentityError) -> Self {
        Attempt::Identity(error)
    }
}

impl From<Failure> for Attempt {
    fn from(failure: Failure) -> Self {
        Attempt::Failed(failure)
    }
}

impl From<Attempt> for Failure {
    fn from(attempt: Attempt) -> Self {
        match attempt {
            Attempt::Identity(error) => Failure::from(error),
            Attempt::Failed(failure) => failure,
        }
    }
}

/// Asks for a secret with `ask` and runs `attempt` with it; when `attempt` says the secret was
/// wrong (`is_wrong`) and it was typed at a terminal (not taken from `env`), asks again, up to
/// [`TRIES`] times in all.
fn with_retries<S, T>(
    env: &str,
    ask: impl Fn() -> Result<S, Failure>,
    is_wrong: impl Fn(&IdentityError) -> bool,
    again: &str,
    last: &str,
    mut attempt: impl FnMut(&S) -> Result<T, Attempt>,
) -> Result<T, Failure> {
    let tries = if asked_at_terminal(env) { TRIES } else { 1 };
    let mut tried = 0;
    loop {
        tried += 1;
        let secret = ask()?;
        match attempt(&secret) {
            Err(Attempt::Identity(e)) if is_wrong(&e) && tried < tries => {
                eprintln!("{again}; try again ({} left).", tries - tried);
            }
            Err(Attempt::Identity(e)) if is_wrong(&e) => {
                return Err(Failure::new(Kind::Identity, last))
            }
            other => return other.map_err(Failure::from),
        }
    }
}

/// Asks for the password and runs `attempt` with it (an unlock: seconds of EnScrypt). A wrong
/// password typed at a terminal is asked again, up to [`TRIES`] times in all.
pub(crate) fn with_password<T>(
    attempt: impl FnMut(&Password) -> Result<T, Attempt>,
) -> Result<T, Failure> {
    with_retries(
        "SQRL_PASSWORD",
        password,
        |e| matches!(e, IdentityError::WrongPassword),
        "Wrong password",
        "Wrong password.",
        attempt,
    )
}

/// A password being set (`SQRL_NEW_PASSWORD`, or a prompt asked twice).
pub(crate) fn new_password() -> Result<Password, Failure> {
    if let Ok(value) = std::env::var("SQRL_NEW_PASSWORD") {
        return check_new(&value);
    }
    let first = read_secret("New password: ", "new password", "SQRL_NEW_PASSWORD")?;
    let second = read_secret("Repeat it: ", "new password", "SQRL_NEW_PASSWORD")?;
    if first != second {
        return Err(Failure::new(Kind::Input, "the two passwords differ"));
    }
    check_new(&first)
}

fn check_new(password: &str) -> Result<Password, Failure> {
    if password.chars().count() < 8 {
        return Err(Failure::new(
            Kind::Input,
            "a password needs at least 8 characters",
        ));
    }
    Ok(Password::new(password))
}

/// The rescue code (`SQRL_RESCUE_CODE` or a prompt); at a terminal, something that is not
/// 24 digits is asked again at once.
pub(crate) fn rescue_code() -> Result<RescueCode, Failure> {
    let tries = if asked_at_terminal("SQRL_RESCUE_CODE") {
        TRIES
    } else {
        1
    };
    let mut tried = 0;
    loop {
        tried += 1;
        let text = read_secret(
            "Rescue code (24 digits): ",
            "rescue code",
            "SQRL_RESCUE_CODE",
        )?;
        match RescueCode::parse(&text) {
            Ok(code) => return Ok(code),
            Err(_) if tried < tries => {
                eprintln!(
                    "A rescue code is 24 digits (dashes and spaces do not matter); try again."
                );
            }
            Err(_) => {
                return Err(Failure::new(
                    Kind::Identity,
                    "That is not a rescue code: a rescue code is 24 digits.",
                ))
            }
        }
    }
}

/// Asks for the rescue code and runs `attempt` with it; a wrong code typed at a terminal is
/// asked again, up to [`TRIES`] times in all.
pub(crate) fn with_rescue_code<T>(
    attempt: impl FnMut(&RescueCode) -> Result<T, Attempt>,
) -> Result<T, Failure> {
    with_retries(
        "SQRL_RESCUE_CODE",
        rescue_code,
        |e| matches!(e, IdentityError::WrongRescueCode),
        "That rescue code does not open this identity",
        "Wrong rescue code: it does not open this identity.",
        attempt,
    )
}

/// After a new rescue code is shown: at a terminal, asks the user to type its last group so
/// nobody goes on without having written it down. `Ok` when confirmed or when there is no
/// terminal to ask (scripts read the code from standard output).
pub(crate) fn confirm_rescue_code(code: &RescueCode) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let digits = code.digits();
    let last = digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or(digits);
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr);
    let _ = writeln!(
        stderr,
        "Nothing is saved until you confirm the rescue code."
    );
    for tried in 1..=TRIES {
        discard_typed_ahead();
        let _ = write!(
            stderr,
            "To show you have written it down, type the last group of the rescue code: "
        );
        let _ = stderr.flush();
        let Some(typed) = answer() else { break };
        let typed: Zeroizing<String> =
            Zeroizing::new(typed.chars().filter(char::is_ascii_digit).collect());
        if typed.as_str() == last {
            return Ok(());
        }
        if tried < TRIES {
            eprintln!("That is not the last group; check what you wrote down.");
        }
    }
    Err(Failure::new(
        Kind::Cancelled,
        "The rescue code was not confirmed, so nothing was saved; run the command again.",
    ))
}

/// A progress bar on stderr for EnScrypt (hidden when stderr is not a terminal).
pub(crate) struct Stretching {
    bar: ProgressBar,
}

impl Stretching {
    pub(crate) fn new() -> Self {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {percent:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }

    pub(crate) fn update(&self, progress: Progress) {
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

/// Throws away whatever was typed at the terminal before a question is shown (keys pressed
/// while the password was being stretched, or into an idle `sqrl cps`), so that only a key
/// pressed after reading the question can answer it. A pipe is left alone: scripts write
/// their answers ahead.
pub(crate) fn discard_typed_ahead() {
    #[cfg(unix)]
    {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            let _ = rustix::termios::tcflush(&stdin, rustix::termios::QueueSelector::IFlush);
        }
    }
}

/// Reads one answer line from standard input (a terminal, or a pipe for scripts and tests);
/// `None` at end of input.
/// Zeroized: it may be part of a rescue code.
fn answer() -> Option<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(Zeroizing::new(line.trim().to_owned())),
    }
}

/// Asks a yes/no question; `false` unless the answer is yes (end of input cancels).
pub(crate) fn confirm(question: &str) -> bool {
    discard_typed_ahead();
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let yes = matches!(
        answer().as_deref().map(String::as_str),
        Some("y" | "Y" | "yes" | "Yes")
    );
    if !std::io::stdin().is_terminal() {
        let _ = writeln!(stderr);
    }
    yes
}

/// Asks to pick one of the numbered choices or cancel; `None` to cancel.
pub(crate) fn choose(count: usize) -> Option<usize> {
    discard_typed_ahead();
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

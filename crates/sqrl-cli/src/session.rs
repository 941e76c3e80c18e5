//! One exchange with one site, shared by the commands that log in or change an association:
//! the identity file, the password, the link, the prompt, and what a failure means to the
//! user.

use std::path::Path;

use clap::Args;
use rand_core::OsRng;
use sqrl_client::exchange::{self, Action, Config, Decision, Exchange, Keys, Prompt};
use sqrl_client::keys::{Iuk, Rlk};
use sqrl_client::storage::s4::Settings;
use sqrl_client::transport::{self, HttpTransport};
use sqrl_client::{ExchangeError, Identity, TransportError, Unlocked};
use sqrl_proto::{Button, SqrlUrl};

use crate::failure::{Failure, Kind};
use crate::global::Global;
use crate::ui::{self, Stretching};

/// Reads the identity file.
pub(crate) fn load(path: &Path) -> Result<Identity, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (create one with `sqrl identity new` or `sqrl identity import`)"
        } else {
            ""
        };
        Failure::new(
            Kind::Identity,
            format!("cannot read {}: {e}{hint}", path.display()),
        )
    })?;
    Ok(Identity::import(&bytes)?)
}

/// `host[:port]` of a SQRL URL, for messages.
fn site_of(url: &SqrlUrl) -> String {
    let rest = url.as_str().get("sqrl://".len()..).unwrap_or_default();
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_ascii_lowercase()
}

/// Unlocks the identity with the password (asked again when wrong, at a terminal).
pub(crate) fn unlock(identity: &Identity) -> Result<Unlocked, Failure> {
    ui::with_password(|password| {
        let bar = Stretching::new();
        Ok(identity.unlock(password, &mut |p| bar.update(p))?)
    })
}

/// The options of every command that talks to one site.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Do not ask; approve (for scripts)
    #[arg(short, long)]
    pub(crate) yes: bool,
    /// With --yes, the button to answer a site's question with (1 or 2; default: 1)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub(crate) button: Option<u8>,
    /// Alternate identity at this site
    #[arg(long, default_value = "")]
    pub(crate) alt_id: String,
    /// The browser is on another device: skip the site's same-IP check
    #[arg(long)]
    pub(crate) cross_device: bool,
}

fn action_text(prompt: &Prompt) -> &'static str {
    match prompt.action {
        Action::Login if prompt.replaces_previous => {
            "log in, replacing your previous identity at this site"
        }
        Action::Login if prompt.known => "log in",
        Action::Login => "log in with a new account (this site does not know you yet)",
        Action::Disable => "disable SQRL login at this site",
        Action::Enable => "re-enable SQRL login at this site (needs your rescue code)",
        Action::Remove => "remove your identity from this site",
    }
}

/// The question that approves `prompt`'s action, in the words of that action.
fn question(prompt: &Prompt) -> String {
    let site = &prompt.auth_domain;
    match prompt.action {
        Action::Login => format!("Log in to {site}?"),
        Action::Disable => format!("Disable SQRL login for your identity at {site}?"),
        Action::Enable => format!("Re-enable SQRL login for your identity at {site}?"),
        Action::Remove => format!(
            "Remove your identity from {site}? The site forgets it; logging in again makes a new account."
        ),
    }
}

/// Shows what the prompt is about: the site, the request and the IP check.
fn show(prompt: &Prompt) {
    eprintln!("Site:      {}", prompt.auth_domain);
    eprintln!("Request:   {}", action_text(prompt));
    if prompt.ips_matched {
        eprintln!("IP check:  matched (this device and the login page share an address)");
    } else {
        eprintln!("IP check:  NOT matched. If you did not open this login page yourself, cancel.");
    }
}

/// A login found SQRL disabled for the identity at the site: offers to re-enable it on the
/// same exchange with the rescue code (the code's nut is spent by then, so `sqrl enable`
/// could not use it). `None` when declined, with `--yes`, or when the rescue code fails
/// (`failure` says why).
fn offer_reenable(
    prompt: &Prompt,
    identity: &Identity,
    common: &Common,
    failure: &mut Option<Failure>,
) -> Option<Iuk> {
    if common.yes {
        return None;
    }
    show(prompt);
    eprintln!(
        "SQRL login is disabled for your identity at {}.",
        prompt.auth_domain
    );
    if !ui::confirm("Re-enable it now with your rescue code, then log in?") {
        return None;
    }
    let recovered = ui::with_rescue_code(|code| {
        let bar = Stretching::new();
        Ok(identity.recover(code, &mut |p| bar.update(p))?)
    });
    match recovered {
        Ok(iuk) => Some(iuk),
        Err(error) => {
            *failure = Some(error);
            None
        }
    }
}

/// Shows the prompt and gets the user's decision.
fn decide(prompt: &Prompt, common: &Common) -> Decision {
    show(prompt);
    let buttons = prompt.ask.as_ref().map_or(0, |a| a.buttons.len());
    let login = prompt.action == Action::Login;
    if let Some(ask) = &prompt.ask {
        if login {
            eprintln!("The site asks:");
        } else {
            // A site asks before it knows what the client will do, so its question is about
            // logging in; its buttons would not say what is about to happen.
            eprintln!("The site's login page says (about logging in, not about this request):");
        }
        for line in ask.message.lines() {
            eprintln!("  {line}");
        }
        if login {
            for (i, button) in ask.buttons.iter().enumerate() {
                eprintln!("  [{}] {}", i + 1, button.label);
            }
        }
    }
    let pick = |n: u8| {
        if n == 2 {
            Button::Second
        } else {
            Button::First
        }
    };
    if common.yes {
        return match (buttons, common.button) {
            (0, _) => Decision::Approve,
            (_, Some(n)) => Decision::Button(pick(n)),
            (_, None) => Decision::Button(Button::First),
        };
    }
    if buttons == 0 || !login {
        return match (ui::confirm(&question(prompt)), buttons) {
            (false, _) => Decision::Cancel,
            (true, 0) => Decision::Approve,
            // The site's first button is its "go ahead".
            (true, _) => Decision::Button(Button::First),
        };
    }
    match ui::choose(buttons) {
        Some(n) => Decision::Button(pick(n as u8)),
        None => Decision::Cancel,
    }
}

/// Parses a sqrl:// link, saying what is wrong with it in a person's words.
pub(crate) fn parse_url(text: &str) -> Result<SqrlUrl, Failure> {
    use sqrl_proto::Error as E;
    let text = text.trim();
    SqrlUrl::parse(text).map_err(|error| {
        let web = ["http://", "https://"].iter().any(|scheme| {
            text.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        });
        let message = match error {
            E::UrlScheme | E::UnsupportedScheme { .. } if web => {
                "That is a web address, not a SQRL link: a SQRL link starts \
                with sqrl://. Copy the link under the site's QR code, or pass a picture of the \
                code with --qr."
                    .to_owned()
            }
            E::UrlScheme => "That is not a SQRL link: a SQRL link starts with sqrl://. Copy the \
                link under the site's QR code, or pass a picture of the code with --qr."
                .to_owned(),
            E::UrlMissingNut => "This SQRL link is incomplete (it has no nut=): reload the \
                login page and copy the whole link."
                .to_owned(),
            other => format!(
                "This SQRL link is damaged ({other}): reload the login page and copy the whole \
                 link."
            ),
        };
        Failure::new(Kind::Input, message)
    })
}

/// The exchange's options: the user's (`common`, `cps`, `cross_device`) and what the
/// identity's settings ask of every site.
pub(crate) fn config(
    settings: &Settings,
    common: &Common,
    cps: bool,
    cross_device: bool,
) -> Config {
    Config {
        alt_id: common.alt_id.clone(),
        cps,
        noiptest: cross_device,
        sqrlonly: settings.options & Settings::SQRL_ONLY != 0,
        hardlock: settings.options & Settings::HARDLOCK != 0,
    }
}

/// Runs one exchange with the site of `url` over `transport`: shows the site's prompt and
/// takes the user's answer (or `--yes`), and says what a failure means in the user's words.
/// With `identity`, a login that finds SQRL disabled offers to re-enable it with the rescue
/// code and log in on the same exchange.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    global: &Global,
    transport: &HttpTransport,
    url: SqrlUrl,
    action: Action,
    keys: &Keys,
    config: Config,
    common: &Common,
    identity: Option<&Identity>,
) -> Result<exchange::Outcome, Failure> {
    let url = global.reach(url);
    let host = site_of(&url);
    let mut situation = Situation {
        action,
        host: &host,
        cross_device: config.noiptest,
        danger_loopback_http: global.danger_loopback_http,
        answered: None,
        yes: common.yes,
    };
    let mut rescue_failure = None;
    let result = Exchange::start(url, action, keys, config, Rlk::generate(&mut OsRng)).and_then(
        |(exchange, first)| {
            exchange.drive_reenabling(
                first,
                |request| transport.post(request),
                |prompt| {
                    let decision = decide(prompt, common);
                    situation.answered = Some(decision);
                    decision
                },
                |prompt| {
                    identity.and_then(|identity| {
                        offer_reenable(prompt, identity, common, &mut rescue_failure)
                    })
                },
            )
        },
    );
    result.map_err(|error| match rescue_failure {
        Some(failure) => failure,
        None => explain(error, &situation),
    })
}

/// What an exchange was, to explain how it failed.
struct Situation<'a> {
    action: Action,
    /// `host[:port]` as the link gives it.
    host: &'a str,
    cross_device: bool,
    danger_loopback_http: bool,
    /// The user's answer at the prompt, if it was shown.
    answered: Option<Decision>,
    /// `--yes`: nothing was asked.
    yes: bool,
}

impl Situation<'_> {
    /// "Login", "Disabling SQRL login", ...: what was attempted.
    fn what(&self) -> &'static str {
        match self.action {
            Action::Login => "Login",
            Action::Disable => "Disabling SQRL login",
            Action::Enable => "Re-enabling SQRL login",
            Action::Remove => "Removing your identity",
        }
    }

    /// "log you in", "disable SQRL login for your identity", ...: what the site was to do.
    fn doing(&self) -> &'static str {
        match self.action {
            Action::Login => "log you in",
            Action::Disable => "disable SQRL login for your identity",
            Action::Enable => "re-enable SQRL login for your identity",
            Action::Remove => "remove your identity",
        }
    }

    /// Whether the link names this computer (without its port).
    fn is_loopback(&self) -> bool {
        let host = sqrl_proto::split_authority(self.host).map_or(self.host, |(host, _)| host);
        transport::is_loopback_host(host)
    }
}

/// Says what happened and what to do, instead of the protocol's words.
fn explain(error: sqrl_client::Error, situation: &Situation<'_>) -> Failure {
    use sqrl_client::Error as E;
    match error {
        E::Identity(error) => Failure::from(error),
        E::Exchange(error) => explain_exchange(error, situation),
        E::Transport(error) => explain_transport(error, situation),
        E::Proto(detail) => Failure::new(
            Kind::Network,
            format!(
                "{} did not answer in SQRL ({detail}); nothing was done.",
                situation.host
            ),
        ),
    }
}

/// Why the site (or the user) ended the exchange.
fn explain_exchange(error: ExchangeError, situation: &Situation<'_>) -> Failure {
    use ExchangeError as X;
    let action = situation.action;
    let (what, doing, host) = (situation.what(), situation.doing(), situation.host);
    match error {
        // Cancelled at our prompt: the client told the site with a query (btn=2), which
        // changes nothing anywhere; a site that understands it ends its waiting login page.
        X::Cancelled => Failure::new(
            Kind::Cancelled,
            match action {
                Action::Login => format!("{what} cancelled; the site was told."),
                _ => format!("{what} cancelled; nothing was changed, and the site was told."),
            },
        ),
        // The site's second button declines ("Cancel"): the site did what it was told.
        X::CommandFailed(_) if situation.answered == Some(Decision::Button(Button::Second)) => {
            Failure::new(
                Kind::Cancelled,
                format!("{what} cancelled; the site was told."),
            )
        }
        X::CommandFailed(tif)
            if !tif.contains(sqrl_proto::Tif::IPS_MATCHED) && !situation.cross_device =>
        {
            Failure::new(
                Kind::Refused,
                format!(
                    "{host} refused to {doing}: the login page was opened from another network \
                     address than this computer's. If that page is yours on another device, run \
                     again with --cross-device; if you did not open it yourself, do not."
                ),
            )
        }
        X::CommandFailed(_) => Failure::new(
            Kind::Refused,
            format!(
                "{host} refused to {doing} and gave no reason. Reload the login page and try \
                 again with the new code."
            ),
        ),
        // A code serves one exchange: a login that found SQRL disabled has spent it.
        X::TransientRepeated if action == Action::Enable => Failure::new(
            Kind::Refused,
            "This code has expired or was already used (a login that found SQRL disabled uses \
             up its code). Reload the login page and run `sqrl login` with the new code: it \
             offers to re-enable SQRL login with your rescue code and logs you in, with one code.",
        ),
        X::TransientRepeated => Failure::new(
            Kind::Refused,
            "This login code has expired, was already used, or is incomplete: reload the login \
             page and copy the whole new link (or scan the new code).",
        ),
        X::ClientFailure(_) => Failure::new(
            Kind::Refused,
            format!(
                "{host} could not accept the request. Reload the login page and copy the whole \
                 link; if it happens again, this client and the site disagree about SQRL."
            ),
        ),
        X::BadAssociation(_) => Failure::new(
            Kind::Refused,
            format!(
                "{host} says this code was started by another identity, so it refused to \
                 {doing}. Reload the login page and try again with the new code."
            ),
        ),
        X::NotSupported(_) => Failure::new(
            Kind::Refused,
            format!("{host} does not support this: it cannot {doing} through SQRL."),
        ),
        X::UnknownTifBits(_) => Failure::new(
            Kind::Refused,
            format!(
                "{host} answered with SQRL features this version of sqrl does not know; \
                 nothing was done. Update sqrl."
            ),
        ),
        X::Superseded => Failure::new(
            Kind::Refused,
            format!(
                "{host} knows a newer identity of yours: this one was replaced there (re-keyed \
                 on another device?). Import your newest identity and try again."
            ),
        ),
        X::SqrlDisabled if action == Action::Login && situation.yes => Failure::new(
            Kind::Refused,
            format!(
                "SQRL login is disabled for your identity at {host}. Run `sqrl login` again \
                 without --yes and with a new code from the login page: it offers to re-enable \
                 SQRL login with your rescue code and logs you in."
            ),
        ),
        X::SqrlDisabled if action == Action::Login => Failure::new(
            Kind::Refused,
            format!(
                "SQRL login is disabled for your identity at {host}, and it was not re-enabled. \
                 To log in, reload the login page, run `sqrl login` with the new code and \
                 answer yes when it offers to re-enable SQRL login (it needs your rescue code)."
            ),
        ),
        X::SqrlDisabled => Failure::new(
            Kind::Refused,
            format!(
                "SQRL login is disabled for your identity at {host}; `sqrl enable` turns it \
                 back on (it needs the rescue code)."
            ),
        ),
        X::UnknownIdentity => Failure::new(
            Kind::Refused,
            format!(
                "{host} does not know your identity, so there is nothing to {}; if you use \
                 --alt-id there, give the same one.",
                match action {
                    Action::Enable => "re-enable",
                    Action::Remove => "remove",
                    _ => "disable",
                }
            ),
        ),
        X::MissingSuk | X::MissingCpsUrl => Failure::new(
            Kind::Refused,
            format!("{host} left out part of its answer ({error}); the site has a problem."),
        ),
        other => Failure::from(sqrl_client::Error::from(other)),
    }
}

/// Why the site could not be reached.
fn explain_transport(error: TransportError, situation: &Situation<'_>) -> Failure {
    use TransportError as T;
    let host = situation.host;
    match error {
        // A private or test CA: the fix is to trust it, not plain HTTP.
        error if error.is_unknown_issuer() => Failure::new(
            Kind::Network,
            format!(
                "Could not reach {host} over HTTPS: its certificate is signed by a CA this \
                 computer does not trust. If the site uses a private or test CA, give its \
                 certificate with --ca-cert FILE (or SQRL_CA_CERT)."
            ),
        ),
        T::Network(detail) if !situation.danger_loopback_http && situation.is_loopback() => {
            Failure::new(
                Kind::Network,
                format!(
                    "Could not reach {host} over HTTPS ({detail}). A test site on this computer \
                     usually speaks plain HTTP: if this one is yours, run again with \
                     --danger-loopback-http."
                ),
            )
        }
        T::Network(detail) => Failure::new(
            Kind::Network,
            format!("Could not reach {host} ({detail}). Check the connection and try again."),
        ),
        T::HttpStatus(code) => Failure::new(
            Kind::Network,
            format!(
                "{host} answered HTTP {code} instead of SQRL: the link may be incomplete or \
                 old. Reload the login page and copy the whole link."
            ),
        ),
        T::ReplyTooLarge => Failure::new(
            Kind::Network,
            format!("{host} sent a reply too large to be SQRL; nothing was done."),
        ),
        other => Failure::from(sqrl_client::Error::from(other)),
    }
}

//! `sqrl login | disable | enable | remove`: one exchange with one site.

use std::path::PathBuf;

use clap::Args;
use rand_core::OsRng;
use sqrl_client::exchange::{Action, Config, Decision, Exchange, Keys, Prompt};
use sqrl_client::keys::Rlk;
use sqrl_client::transport;
use sqrl_proto::{Button, SqrlUrl};

use crate::identity_cmd::load;
use crate::ui::{self, Stretching};
use crate::{Failure, Global, Kind, Outcome};

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The site's sqrl:// link
    pub url: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The site's sqrl:// link (or use --qr)
    #[arg(required_unless_present = "qr", conflicts_with = "qr")]
    pub url: Option<String>,
    /// Read the sqrl:// link from a picture of the QR code (PNG or JPEG); implies --cross-device
    #[arg(long, value_name = "IMAGE")]
    pub qr: Option<PathBuf>,
    /// Client-provided session: print the address that opens the logged-in session instead of
    /// letting the site log in the browser that showed the code
    #[arg(long)]
    pub cps: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Do not ask; approve (for scripts)
    #[arg(short, long)]
    pub yes: bool,
    /// With --yes, the button to answer a site's question with (1 or 2; default: 1)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub button: Option<u8>,
    /// Alternate identity at this site
    #[arg(long, default_value = "")]
    pub alt_id: String,
    /// The browser is on another device: skip the site's same-IP check
    #[arg(long)]
    pub cross_device: bool,
}

fn action_text(prompt: &Prompt) -> &'static str {
    match prompt.action {
        Action::Login if prompt.replaces_previous => {
            "log in, replacing your previous identity at this site"
        }
        Action::Login if prompt.known => "log in",
        Action::Login => "log in with a new account (this site does not know you yet)",
        Action::Disable => "disable SQRL login at this site",
        Action::Enable => "re-enable SQRL login at this site",
        Action::Remove => "remove your identity from this site",
    }
}

/// Shows the prompt and gets the user's decision.
pub(crate) fn decide(prompt: &Prompt, common: &Common) -> Decision {
    eprintln!("Site:      {}", prompt.auth_domain);
    eprintln!("Request:   {}", action_text(prompt));
    if prompt.ips_matched {
        eprintln!("IP check:  matched (this device and the login page share an address)");
    } else {
        eprintln!("IP check:  NOT matched. If you did not open this login page yourself, cancel.");
    }
    let buttons = prompt.ask.as_ref().map_or(0, |a| a.buttons.len());
    if let Some(ask) = &prompt.ask {
        eprintln!("The site asks:");
        for line in ask.message.lines() {
            eprintln!("  {line}");
        }
        for (i, button) in ask.buttons.iter().enumerate() {
            eprintln!("  [{}] {}", i + 1, button.label);
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
    if buttons == 0 {
        return if ui::confirm("Continue?") {
            Decision::Approve
        } else {
            Decision::Cancel
        };
    }
    match ui::choose(buttons) {
        Some(n) => Decision::Button(pick(n as u8)),
        None => Decision::Cancel,
    }
}

fn parse_url(text: &str) -> Result<SqrlUrl, Failure> {
    SqrlUrl::parse(text.trim())
        .map_err(|e| Failure::new(Kind::Input, format!("not a SQRL URL: {e}")))
}

fn exchange(
    global: &Global,
    action: Action,
    url: SqrlUrl,
    common: &Common,
    cps: bool,
    cross_device: bool,
) -> Result<sqrl_client::exchange::Outcome, Failure> {
    let transport = global.transport()?;
    let identity = load(&global.identity_path()?)?;
    let password = ui::password()?;
    let bar = Stretching::new();
    let unlocked = identity.unlock(&password, &mut |p| bar.update(p))?;
    let mut keys = Keys::from_unlocked(&unlocked);
    if matches!(action, Action::Enable | Action::Remove) {
        drop(bar);
        let code = ui::rescue_code()?;
        let bar = Stretching::new();
        keys = keys.with_unlock_key(identity.recover(&code, &mut |p| bar.update(p))?);
    } else {
        drop(bar);
    }
    let settings = unlocked.settings;
    let config = Config {
        alt_id: common.alt_id.clone(),
        cps,
        noiptest: cross_device,
        sqrlonly: settings.options & sqrl_client::storage::s4::Settings::SQRL_ONLY != 0,
        hardlock: settings.options & sqrl_client::storage::s4::Settings::HARDLOCK != 0,
    };
    let (exchange, first) = Exchange::start(url, action, &keys, config, Rlk::generate(&mut OsRng))?;
    Ok(transport::run(exchange, first, &transport, |prompt| {
        decide(prompt, common)
    })?)
}

pub fn login(global: &Global, args: LoginArgs) -> Outcome {
    let (text, from_qr) = match (&args.url, &args.qr) {
        (_, Some(image)) => (crate::qr::read_sqrl_url(image)?, true),
        (Some(url), None) => (url.clone(), false),
        (None, None) => {
            return Err(Failure::new(
                Kind::Input,
                "give a sqrl:// URL or --qr IMAGE",
            ))
        }
    };
    let url = parse_url(&text)?;
    let cross_device = args.common.cross_device || from_qr;
    let outcome = exchange(
        global,
        Action::Login,
        url,
        &args.common,
        args.cps,
        cross_device,
    )?;
    if outcome.rekeyed {
        eprintln!("Your previous identity at this site was replaced by the current one.");
    } else if outcome.new_association {
        eprintln!("New account created at this site.");
    }
    match (outcome.redirect, outcome.redirect_error) {
        (Some(url), _) if args.cps => println!("{url}"),
        // The site confirmed the login; only its link is unusable.
        (None, Some(error)) if args.cps => {
            eprintln!("Logged in, but the site's link cannot be followed: {error}")
        }
        _ => eprintln!("Logged in."),
    }
    Ok(())
}

pub fn other(global: &Global, action: Action, args: SiteArgs) -> Outcome {
    let url = parse_url(&args.url)?;
    exchange(
        global,
        action,
        url,
        &args.common,
        false,
        args.common.cross_device,
    )?;
    eprintln!(
        "{}",
        match action {
            Action::Disable => "SQRL login is now disabled at this site.",
            Action::Enable => "SQRL login is enabled again at this site.",
            _ => "Your identity was removed from this site.",
        }
    );
    Ok(())
}

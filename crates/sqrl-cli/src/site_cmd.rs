//! `sqrl login | disable | enable | remove`: one exchange with one site.

use std::path::PathBuf;

use clap::Args;
use sqrl_client::exchange::{Action, Keys};
use sqrl_proto::SqrlUrl;

use crate::failure::{Failure, Kind, Outcome};
use crate::global::Global;
use crate::qr;
use crate::session::{self, Common};
use crate::ui::{self, Stretching};

#[derive(Debug, Args)]
pub(crate) struct SiteArgs {
    /// The site's sqrl:// link
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The site's sqrl:// link (or use --qr)
    #[arg(required_unless_present = "qr", conflicts_with = "qr")]
    pub(crate) url: Option<String>,
    /// Read the sqrl:// link from a picture of the QR code (PNG or JPEG); implies --cross-device
    #[arg(long, value_name = "IMAGE")]
    pub(crate) qr: Option<PathBuf>,
    /// Client-provided session: print the address that opens the logged-in session instead of
    /// letting the site log in the browser that showed the code
    #[arg(long)]
    pub(crate) cps: bool,
    #[command(flatten)]
    pub(crate) common: Common,
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
    let identity = session::load(&global.identity_path()?)?;
    let unlocked = session::unlock(&identity)?;
    let mut keys = Keys::from_unlocked(&unlocked);
    if matches!(action, Action::Enable | Action::Remove) {
        let iuk = ui::with_rescue_code(|code| {
            let bar = Stretching::new();
            Ok(identity.recover(code, &mut |p| bar.update(p))?)
        })?;
        keys = keys.with_unlock_key(iuk);
    }
    let config = session::config(&unlocked.settings, common, cps, cross_device);
    session::run(
        global,
        &transport,
        url,
        action,
        &keys,
        config,
        common,
        Some(&identity),
    )
}

pub(crate) fn login(global: &Global, args: LoginArgs) -> Outcome {
    let (text, from_qr) = match (&args.url, &args.qr) {
        (_, Some(image)) => (qr::read_sqrl_url(image)?, true),
        (Some(url), None) => (url.clone(), false),
        (None, None) => {
            return Err(Failure::new(
                Kind::Input,
                "give a sqrl:// URL or --qr IMAGE",
            ))
        }
    };
    let url = session::parse_url(&text)?;
    let cross_device = args.common.cross_device || from_qr;
    let outcome = exchange(
        global,
        Action::Login,
        url,
        &args.common,
        args.cps,
        cross_device,
    )?;
    if outcome.reenabled {
        eprintln!("SQRL login is enabled again at this site.");
    }
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

pub(crate) fn change(global: &Global, action: Action, args: SiteArgs) -> Outcome {
    let url = session::parse_url(&args.url)?;
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
            Action::Enable => {
                "SQRL login is enabled again at this site. The login page that showed this code \
                 does not log in from it: reload the page and log in with a new code (next time, \
                 `sqrl login` offers to re-enable and log in with one code)."
            }
            _ => "Your identity was removed from this site.",
        }
    );
    Ok(())
}

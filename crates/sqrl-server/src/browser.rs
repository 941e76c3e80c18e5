//! The browser's side without IO: what the waiting page sees, and the redemption of a
//! confirmed login into a session. Like the phone's side, the driver loads (the flow and the
//! account it confirmed, a [`RedeemSnapshot`]), calls [`Endpoint::redeem`], and commits the
//! [`RedeemCommit`] it returns with [`Store::redeem`](crate::Store::redeem).

use std::net::IpAddr;

use rand_core::CryptoRngCore;
use sqrl_proto::b64;
use subtle::ConstantTimeEq;

use crate::account::{Account, Session};
use crate::endpoint::{hmac_sha256, sha256, Endpoint};
use crate::flow::{Flow, FlowError, Status};
use crate::nut::{FlowId, QrNut};
use crate::store::{RedeemCommit, StoreError};
use crate::time::UnixTime;
use crate::useragent::BrowserInfo;

/// Why the browser side was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserError {
    /// Unknown flow, or the secret does not match.
    #[error("unknown login")]
    Unknown,
    /// The flow cannot be redeemed now.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The store failed or another request won.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A session to create when a login is redeemed (the account is filled in by the redemption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDraft {
    /// SHA-256 of the new session id.
    pub id_hash: [u8; 32],
    /// Now, in seconds since the Unix epoch (stored as is: [`UnixTime::as_secs`]).
    pub created_at: u64,
    /// The browser's IP address.
    pub ip: String,
    /// Browser and OS.
    pub browser: String,
}

/// A new login flow for a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    /// The flow.
    pub flow: FlowId,
    /// The QR nut.
    pub nut: String,
    /// The `sqrl://` URL for the QR code.
    pub url: String,
    /// The secret only this browser holds; it must present it to see and redeem the flow.
    pub browser_secret: String,
}

/// The longest application name a login code carries, in characters.
pub const APP_LABEL_MAX: usize = 40;

/// An application's name as a login code carries it: control characters dropped, runs of
/// white space made one space, trimmed, at most [`APP_LABEL_MAX`] characters (cut with "…").
/// Empty when nothing is left.
pub fn app_label(name: &str) -> String {
    // Control characters and the invisible format characters that reorder or hide text
    // (bidirectional overrides, zero-width characters) would let a name misquote itself.
    let invisible = |c: char| {
        matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    let cleaned: String = name.chars().filter(|&c| !invisible(c)).collect();
    let words: Vec<&str> = cleaned
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= APP_LABEL_MAX {
        return joined;
    }
    let cut: String = joined.chars().take(APP_LABEL_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Who redeems a confirmed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via<'a> {
    /// The page that showed the code, with its browser secret and the code's issue time as
    /// its cookie says ([`Endpoint::check_browser`]; the redemption checks them itself).
    Page {
        /// The code's issue time (seconds since the Unix epoch), from the page's cookie.
        issued_at: u64,
        /// The browser secret, from the page's cookie.
        secret: &'a str,
    },
    /// The holder of the CPS token (the `url=` a client opened).
    Cps(&'a str),
}

/// What a redemption reads from the store: the flow, and the account it confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedeemSnapshot {
    /// The flow (`None`: unknown or forgotten).
    pub flow: Option<Flow>,
    /// The account of [`Flow::confirmed_account`], as it is now.
    pub account: Option<Account>,
}

impl Endpoint {
    /// The secret of the browser that started `flow` at `issued_at`: it authenticates both,
    /// so a forged issue time in the browser's cookie is refused like a forged flow.
    fn browser_secret(&self, flow: &FlowId, issued_at: u64) -> Option<[u8; 32]> {
        hmac_sha256(
            &self.browser_key,
            &[
                b"sqrl-rs browser secret v2",
                &flow.0,
                &issued_at.to_be_bytes(),
            ],
        )
    }

    /// `true` when `secret` is the browser secret of `flow` issued at `issued_at` (constant
    /// time).
    pub fn check_browser(&self, flow: &FlowId, issued_at: u64, secret: &str) -> bool {
        b64::decode_array::<32>(secret, "secret")
            .ok()
            .zip(self.browser_secret(flow, issued_at))
            .is_some_and(|(given, expected)| bool::from(given.ct_eq(&expected)))
    }

    /// Starts a flow for the browser loading the login page. Stores nothing.
    pub fn start_flow(
        &self,
        browser_ip: IpAddr,
        user_agent: &str,
        now: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> NewFlow {
        self.start_flow_for(browser_ip, user_agent, "", now, rng)
    }

    /// [`Endpoint::start_flow`] for a login into the application `app` (an identity
    /// provider's client, by the name the site registered; `""` for none): the URL carries
    /// the name (`&app=`, sealed with the nut) and the phone's question says "Log in to *app*
    /// via *host*". Pass the name through [`app_label`] first.
    pub fn start_flow_for(
        &self,
        browser_ip: IpAddr,
        user_agent: &str,
        app: &str,
        now: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> NewFlow {
        let flow = FlowId::generate(rng);
        let nut = self.codec.mint_qr_for(
            &QrNut {
                flow,
                issued_at: now.as_secs(),
                browser_ip,
                browser: BrowserInfo::from_user_agent(user_agent),
            },
            app,
        );
        NewFlow {
            flow,
            url: self.url_for_app(&nut, app),
            nut,
            // (Empty, which no check accepts, if the MAC could not be made: it always can.)
            browser_secret: self
                .browser_secret(&flow, now.as_secs())
                .map(b64::encode)
                .unwrap_or_default(),
        }
    }

    /// What the waiting page of `flow` shows at `now`, from its stored record (`None`: no
    /// phone has reached it yet). `issued_at` is the code's issue time as the page's
    /// authenticated cookie says.
    pub fn page_status(&self, flow: Option<&Flow>, issued_at: u64, now: UnixTime) -> Status {
        let config = self.config();
        let life = config.lifetimes;
        match flow {
            Some(stored) => stored.status(now, life),
            None if issued_at < config.codes_not_before => Status::Expired,
            None if now.as_secs() < issued_at.saturating_add(life.nut) => Status::New,
            None => Status::Expired,
        }
    }

    /// The flow a CPS token names (`None`: not a token of this site's shape). The token is
    /// checked against the flow by [`Endpoint::redeem`].
    pub fn cps_flow(token: &str) -> Option<FlowId> {
        let bytes = b64::decode_array::<32>(token, "token").ok()?;
        let mut id = [0u8; 16];
        id.copy_from_slice(bytes.get(..16)?);
        Some(FlowId(id))
    }

    /// Decides a redemption on what was loaded: the redeemer must prove it is the page that
    /// showed the code (its browser secret) or the holder of the CPS token, the flow must be
    /// confirmed for this kind of redeemer and still in its redeem window, and its account must still exist and not be
    /// disabled (an account disabled or removed since the login was confirmed gets no new
    /// session). Returns the flow redeemed, the session to create and the status to publish.
    /// Pure: nothing is stored until the driver commits it.
    pub fn redeem(
        &self,
        snapshot: RedeemSnapshot,
        via: Via<'_>,
        draft: SessionDraft,
        now: UnixTime,
    ) -> Result<RedeemCommit, BrowserError> {
        let life = self.config().lifetimes;
        let mut flow = snapshot.flow.ok_or(BrowserError::Unknown)?;
        let read = flow.version();
        let account = match via {
            Via::Page { issued_at, secret } => {
                if !self.check_browser(&flow.id(), issued_at, secret) {
                    return Err(BrowserError::Unknown);
                }
                flow.redeem(now, life)?
            }
            Via::Cps(token) => {
                let matches = flow
                    .cps_token_hash()
                    .is_some_and(|h| bool::from(h.ct_eq(&sha256(token))));
                if !matches {
                    return Err(BrowserError::Unknown);
                }
                flow.redeem_cps(now, life)?
            }
        };
        match snapshot.account {
            Some(found) if found.id == account && !found.disabled => {}
            _ => return Err(BrowserError::Flow(FlowError::WrongState)),
        }
        flow.advance(Some(read));
        let status = flow.status(now, life);
        Ok(RedeemCommit {
            flow,
            expected_version: read,
            session: Session {
                id_hash: draft.id_hash,
                account,
                created_at: draft.created_at,
                ip: draft.ip,
                browser: draft.browser,
            },
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::testkit::{account, flow};

    const T: u64 = 1_800_000_020;
    const NOW: UnixTime = UnixTime::from_secs(T);

    fn server() -> Endpoint {
        Endpoint::new(Config::new("example.com"), &[1; 32], &[2; 32])
    }

    /// The page of flow 1 (issued at `T - 10`), with its own browser secret.
    fn page(secret: &str) -> Via<'_> {
        Via::Page {
            issued_at: T - 10,
            secret,
        }
    }

    /// The browser secret the page of `flow` got when its code was issued at `T - 10`.
    fn secret_of(flow: FlowId) -> String {
        b64::encode(server().browser_secret(&flow, T - 10).unwrap())
    }

    fn draft() -> SessionDraft {
        SessionDraft {
            id_hash: [9; 32],
            created_at: T,
            ip: "192.0.2.1".into(),
            browser: "Firefox on Linux".into(),
        }
    }

    /// Flow 1 at version 1: confirmed for the page (not CPS) for account 1.
    fn loaded(account: Option<Account>) -> RedeemSnapshot {
        RedeemSnapshot {
            flow: Some(flow(1, 1)),
            account,
        }
    }

    #[test]
    fn a_redemption_moves_the_version_once_and_names_the_session_s_account() {
        let mine = account(1);
        let secret = secret_of(FlowId([1; 16]));
        let commit = server()
            .redeem(loaded(Some(mine.clone())), page(&secret), draft(), NOW)
            .unwrap();
        assert_eq!(commit.expected_version, 1);
        assert_eq!(commit.flow.version(), 2);
        assert_eq!(commit.session.account, mine.id);
        assert_eq!(commit.status, Status::Redeemed);
    }

    #[test]
    fn an_account_disabled_or_gone_since_the_confirmation_gets_no_session() {
        let disabled = Account {
            disabled: true,
            ..account(1)
        };
        let secret = secret_of(FlowId([1; 16]));
        for found in [None, Some(disabled), Some(account(2))] {
            assert_eq!(
                server().redeem(loaded(found), page(&secret), draft(), NOW),
                Err(BrowserError::Flow(FlowError::WrongState))
            );
        }
    }

    #[test]
    fn a_cps_token_must_match_the_flow_and_the_page_cannot_redeem_a_cps_login() {
        // Flow 2 at version 2: confirmed through CPS, token hash [7; 32].
        let cps = RedeemSnapshot {
            flow: Some(flow(2, 2)),
            account: Some(account(2)),
        };
        assert_eq!(
            server().redeem(cps.clone(), Via::Cps("not-the-token"), draft(), NOW),
            Err(BrowserError::Unknown)
        );
        let secret = secret_of(FlowId([2; 16]));
        assert_eq!(
            server().redeem(cps, page(&secret), draft(), NOW),
            Err(BrowserError::Flow(FlowError::WrongState))
        );
        assert_eq!(
            server().redeem(RedeemSnapshot::default(), page(&secret), draft(), NOW),
            Err(BrowserError::Unknown)
        );
    }

    /// Before, the pure redemption took `Via::Page` on trust: any caller of the public core
    /// could turn someone else's confirmed login into a session without its browser secret.
    #[test]
    fn a_page_redemption_without_the_browser_secret_is_refused() {
        let other = secret_of(FlowId([2; 16]));
        let forged_time = Via::Page {
            issued_at: T - 9,
            secret: &other,
        };
        for via in [page(""), page("not-a-secret"), page(&other), forged_time] {
            assert_eq!(
                server().redeem(loaded(Some(account(1))), via, draft(), NOW),
                Err(BrowserError::Unknown)
            );
        }
    }
}

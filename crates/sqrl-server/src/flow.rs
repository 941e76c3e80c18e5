//! One login flow (one QR code), as a state machine with the clock as input.
//!
//! ```text
//! new ──query──▶ scanned ──ident──▶ confirmed ──browser redeems──▶ redeemed
//!                 ▲    │ │                  └── (cps: the token redeems instead)
//!                 │    │ ├──ident or query with btn=2──▶ rejected
//!                 │    │ └──disable / remove──▶ ended (disabled | removed)
//!          enable │    ▼ a reply says "SQRL disabled"
//!            scanned, identity disabled ── (ident refused; btn=2, disable, remove as above)
//! new / scanned ──lifetime passes──▶ expired;   confirmed ──redeem window passes──▶ expired
//! ```
//!
//! `new` is never stored: it is what a valid QR nut with no flow record means. Every
//! transition takes `now` (a [`UnixTime`]) and refuses to leave a final state.

use std::net::IpAddr;

use sqrl_proto::Bytes32;

use crate::account::AccountId;
use crate::nut::{FlowId, QrNut};
use crate::time::UnixTime;
use crate::useragent::BrowserInfo;

/// How long things last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// From the QR code's issue to the end of the exchange (default 300 s).
    pub nut: u64,
    /// From confirmation to the browser's (or the CPS link's) redemption (default 120 s).
    pub redeem: u64,
}

/// How far in the future a code's issue time may be and still be accepted: the clocks of
/// several instances may disagree by this much.
pub const CLOCK_SKEW: u64 = 60;

impl Lifetimes {
    /// How long after its code's issue a flow must be kept: until every phase has ended by
    /// itself (the exchange within `nut`, the redemption within `redeem` of confirming),
    /// plus [`CLOCK_SKEW`]. Until then the stored flow is what keeps its code single use;
    /// after it, nothing can change the flow any more, and a flow that is not found reads as
    /// expired (also one that had ended otherwise). Housekeeping passes
    /// `now - flow_retention()` to [`FlowStore::purge_flows`](crate::FlowStore::purge_flows);
    /// instances that share a store must use the longest retention any of them has.
    pub fn flow_retention(&self) -> u64 {
        self.nut
            .saturating_add(self.redeem)
            .saturating_add(CLOCK_SKEW)
    }

    /// [`flow_retention`](Self::flow_retention) for flows in a store that instances with other
    /// lifetimes share (a fleet in the middle of changing its code lifetime): each accepts a
    /// code for as long as its own setting says, so flows are kept as if the code lifetime
    /// were `longest_nut`, the longest any instance may have, and no used code is forgotten
    /// while some instance would still take it.
    pub fn shared_flow_retention(&self, longest_nut: u64) -> u64 {
        Lifetimes {
            nut: self.nut.max(longest_nut),
            ..*self
        }
        .flow_retention()
    }
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            nut: 300,
            redeem: 120,
        }
    }
}

/// The stored phase of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A query arrived.
    Scanned,
    /// Scanned, and the latest reply told the phone that SQRL login is disabled for its
    /// identity here (TIF `0x08`): an `ident` is refused, but the exchange stays open, since
    /// the phone may still `enable` with the rescue code and then log in.
    ScannedDisabled,
    /// The identity logged in; the browser (or, with CPS, the token holder) may redeem.
    Confirmed {
        /// The account that logged in.
        account: AccountId,
        /// Client-provided session: only the CPS token logs a browser in.
        cps: bool,
        /// When, in seconds since the Unix epoch.
        at: u64,
    },
    /// The user declined on the phone.
    Rejected,
    /// The login was turned into a browser session (`cps`: by the client's link, not by the
    /// page that showed the code).
    Redeemed {
        /// Redeemed through the CPS link.
        cps: bool,
    },
    /// The phone's conversation ended without a login.
    Ended(End),
}

/// How a conversation ended without a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The user disabled SQRL login for this account (`disable`).
    Disabled,
    /// The user removed their identity from this site (`remove`).
    Removed,
    /// The conversation failed (reserved: a refused command changes nothing today, so the
    /// phone may correct it).
    Failed,
}

impl End {
    /// A one-byte code for storage.
    pub fn code(self) -> u8 {
        match self {
            End::Disabled => 1,
            End::Removed => 2,
            End::Failed => 3,
        }
    }

    /// The end of a code from [`End::code`] (unknown codes read as `Failed`).
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => End::Disabled,
            2 => End::Removed,
            _ => End::Failed,
        }
    }
}

/// What the waiting page sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for a scan.
    New,
    /// A phone has the code.
    Scanned,
    /// A phone has the code, but SQRL login is disabled for its identity at this site: it
    /// cannot log in until it re-enables it with the rescue code. Not final.
    ScannedDisabled,
    /// Logged in; the page should redeem now.
    Confirmed,
    /// Logged in through CPS: the phone's client opens the session, not this page.
    ConfirmedElsewhere,
    /// Declined on the phone.
    Rejected,
    /// Too late: get a new code.
    Expired,
    /// Already turned into a session.
    Redeemed,
    /// SQRL login was disabled for the account on the phone: no login.
    Disabled,
    /// The identity was removed from this site on the phone: no login.
    Removed,
    /// The site refused the phone's command: no login.
    Failed,
}

impl Status {
    /// A one-byte code, for events sent between instances.
    pub fn code(self) -> u8 {
        match self {
            Status::New => 0,
            Status::Scanned => 1,
            Status::Confirmed => 2,
            Status::ConfirmedElsewhere => 3,
            Status::Rejected => 4,
            Status::Expired => 5,
            Status::Redeemed => 6,
            Status::Disabled => 7,
            Status::Removed => 8,
            Status::Failed => 9,
            Status::ScannedDisabled => 10,
        }
    }

    /// The status of a code from [`Status::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Status::New,
            1 => Status::Scanned,
            2 => Status::Confirmed,
            3 => Status::ConfirmedElsewhere,
            4 => Status::Rejected,
            5 => Status::Expired,
            6 => Status::Redeemed,
            7 => Status::Disabled,
            8 => Status::Removed,
            9 => Status::Failed,
            10 => Status::ScannedDisabled,
            _ => return None,
        })
    }
}

/// The names of [`Status`] as the waiting page's contract spells them (sqrl-axum's JSON, SSE
/// and long-poll, and its widget). A status that adds to another keeps that one's name and
/// says more in [`Status::detail`], so a page that does not know the detail behaves as before.
impl Status {
    /// Every status, in [`Status::code`] order.
    pub const ALL: [Status; 11] = [
        Status::New,
        Status::Scanned,
        Status::Confirmed,
        Status::ConfirmedElsewhere,
        Status::Rejected,
        Status::Expired,
        Status::Redeemed,
        Status::Disabled,
        Status::Removed,
        Status::Failed,
        Status::ScannedDisabled,
    ];

    /// The status's name: `new`, `scanned`, `confirmed`, `confirmed-elsewhere`, `rejected`,
    /// `expired`, `redeemed`, `disabled`, `removed` or `failed` (`ScannedDisabled` is
    /// `scanned` with the detail `disabled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Scanned | Status::ScannedDisabled => "scanned",
            Status::Confirmed => "confirmed",
            Status::ConfirmedElsewhere => "confirmed-elsewhere",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Redeemed => "redeemed",
            Status::Disabled => "disabled",
            Status::Removed => "removed",
            Status::Failed => "failed",
        }
    }

    /// More about a live status: `disabled` with `scanned` when SQRL login is disabled for the
    /// phone's identity here (it must re-enable it with the rescue code to log in).
    pub fn detail(self) -> Option<&'static str> {
        match self {
            Status::ScannedDisabled => Some("disabled"),
            _ => None,
        }
    }

    /// The status of a name and detail (`None`: no detail), as [`Status::as_str`] and
    /// [`Status::detail`] give them.
    pub fn from_parts(name: &str, detail: Option<&str>) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name && s.detail() == detail)
    }

    /// Nothing changes the flow any more: the page stops watching. Not final: `new`,
    /// `scanned` (with or without detail) and `confirmed` (the page redeems it, or it expires).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            Status::New | Status::Scanned | Status::ScannedDisabled | Status::Confirmed
        )
    }
}

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a status's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

/// Parses a name from [`Status::as_str`] (without detail: `scanned` is [`Status::Scanned`]).
impl core::str::FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_parts(name, None).ok_or_else(|| UnknownStatus(name.to_owned()))
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The flow's time is up.
    #[error("the login code has expired")]
    Expired,
    /// The transition is not allowed from the current phase.
    #[error("not allowed in this state of the login")]
    WrongState,
}

/// A flow as plain data, for backends that store and restore flows ([`Flow::record`],
/// `Flow::from(record)`). Everything else works on [`Flow`], which changes only by its
/// transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// Its id.
    pub id: FlowId,
    /// Incremented on every write (optimistic concurrency).
    pub version: u64,
    /// QR code issue time, in seconds since the Unix epoch.
    pub issued_at: u64,
    /// The IP of the browser that loaded the login page.
    pub browser_ip: IpAddr,
    /// That browser's kind.
    pub browser: BrowserInfo,
    /// The identity the flow is bound to (by its first query).
    pub idk: Bytes32,
    /// The phase.
    pub phase: Phase,
    /// The reply nut the next request must carry.
    pub expected_nut: String,
    /// SHA-256 of the last reply body, which the next request must echo.
    pub reply_hash: [u8; 32],
    /// The last reply carried an `ask`.
    pub asked: bool,
    /// SHA-256 of the CPS token, once issued.
    pub cps_token_hash: Option<[u8; 32]>,
}

/// A login flow: read through its accessors, changed only by its transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow(FlowRecord);

impl From<FlowRecord> for Flow {
    /// Restores a stored flow.
    fn from(record: FlowRecord) -> Self {
        Self(record)
    }
}

impl Flow {
    /// `new → scanned`: the first query with a QR nut. Refused once the nut has expired.
    pub fn scanned(
        nut: &QrNut,
        idk: Bytes32,
        now: UnixTime,
        life: Lifetimes,
    ) -> Result<Flow, FlowError> {
        let now = now.as_secs();
        if now >= nut.issued_at.saturating_add(life.nut)
            || now.saturating_add(CLOCK_SKEW) < nut.issued_at
        {
            return Err(FlowError::Expired);
        }
        Ok(Flow(FlowRecord {
            id: nut.flow,
            version: 0,
            issued_at: nut.issued_at,
            browser_ip: nut.browser_ip,
            browser: nut.browser,
            idk,
            phase: Phase::Scanned,
            expected_nut: String::new(),
            reply_hash: [0; 32],
            asked: false,
            cps_token_hash: None,
        }))
    }

    /// The plain data, for a backend to store.
    pub fn record(&self) -> &FlowRecord {
        &self.0
    }

    /// The plain data, for a backend to store.
    pub fn into_record(self) -> FlowRecord {
        self.0
    }

    /// Its id.
    pub fn id(&self) -> FlowId {
        self.0.id
    }

    /// Its version: moves on with every write (optimistic concurrency).
    pub fn version(&self) -> u64 {
        self.0.version
    }

    /// When its QR code was issued, in seconds since the Unix epoch.
    pub fn issued_at(&self) -> u64 {
        self.0.issued_at
    }

    /// The IP of the browser that loaded the login page.
    pub fn browser_ip(&self) -> IpAddr {
        self.0.browser_ip
    }

    /// That browser's kind.
    pub fn browser(&self) -> BrowserInfo {
        self.0.browser
    }

    /// The identity the flow is bound to.
    pub fn idk(&self) -> Bytes32 {
        self.0.idk
    }

    /// The stored phase.
    pub fn phase(&self) -> Phase {
        self.0.phase
    }

    /// The reply nut the next request must carry.
    pub fn expected_nut(&self) -> &str {
        &self.0.expected_nut
    }

    /// SHA-256 of the last reply body, which the next request must echo.
    pub fn reply_hash(&self) -> &[u8; 32] {
        &self.0.reply_hash
    }

    /// The user was asked (`ask`) in this flow.
    pub fn asked(&self) -> bool {
        self.0.asked
    }

    /// SHA-256 of the CPS token, once issued.
    pub fn cps_token_hash(&self) -> Option<[u8; 32]> {
        self.0.cps_token_hash
    }

    /// The flow as the first step of a commit that changes an account writes it (the
    /// claim): still scanned (commands run only on scanned flows), with a nut nobody holds,
    /// so that a concurrent request on the same nut loses before any account changes.
    pub fn claimed(&self) -> Flow {
        Flow(FlowRecord {
            expected_nut: String::new(),
            phase: Phase::Scanned,
            ..self.0.clone()
        })
    }

    /// Records the reply just sent: the nut the next request must carry, the hash of the
    /// body it must echo, and whether it asked the user. Once asked in a flow, every later
    /// `ident` must answer: a reply without the question does not clear it.
    pub(crate) fn replied(&mut self, nut: String, reply_hash: [u8; 32], asked: bool) {
        self.0.expected_nut = nut;
        self.0.reply_hash = reply_hash;
        self.0.asked |= asked;
    }

    /// Records the hash of the CPS token issued with a confirmation.
    pub(crate) fn issue_cps_token(&mut self, hash: [u8; 32]) {
        self.0.cps_token_hash = Some(hash);
    }

    /// The page's view at `now`.
    pub fn status(&self, now: UnixTime, life: Lifetimes) -> Status {
        let now = now.as_secs();
        match self.0.phase {
            Phase::Scanned if now >= self.0.issued_at.saturating_add(life.nut) => Status::Expired,
            Phase::Scanned => Status::Scanned,
            Phase::ScannedDisabled if now >= self.0.issued_at.saturating_add(life.nut) => {
                Status::Expired
            }
            Phase::ScannedDisabled => Status::ScannedDisabled,
            Phase::Confirmed { at, .. } if now >= at.saturating_add(life.redeem) => Status::Expired,
            Phase::Confirmed { cps: true, .. } => Status::ConfirmedElsewhere,
            Phase::Confirmed { .. } => Status::Confirmed,
            Phase::Rejected => Status::Rejected,
            Phase::Redeemed { cps: true } => Status::ConfirmedElsewhere,
            Phase::Redeemed { cps: false } => Status::Redeemed,
            Phase::Ended(End::Disabled) => Status::Disabled,
            Phase::Ended(End::Removed) => Status::Removed,
            Phase::Ended(End::Failed) => Status::Failed,
        }
    }

    /// `scanned → ended`: the conversation ended without a login.
    pub fn end(&mut self, how: End, now: UnixTime, life: Lifetimes) -> Result<(), FlowError> {
        self.check_open(now, life)?;
        self.0.phase = Phase::Ended(how);
        Ok(())
    }

    /// Records whether the latest reply told the phone that SQRL login is disabled for its
    /// identity here (`scanned ⇄ scanned, identity disabled`). Only an open exchange is
    /// marked: any other phase stays as it is.
    pub fn note_disabled(&mut self, disabled: bool) {
        self.0.phase = match (self.0.phase, disabled) {
            (Phase::Scanned | Phase::ScannedDisabled, true) => Phase::ScannedDisabled,
            (Phase::Scanned | Phase::ScannedDisabled, false) => Phase::Scanned,
            (other, _) => other,
        };
    }

    /// Checks the exchange may go on at `now` (scanned and within the nut lifetime).
    pub fn check_open(&self, now: UnixTime, life: Lifetimes) -> Result<(), FlowError> {
        match self.status(now, life) {
            Status::Scanned | Status::ScannedDisabled => Ok(()),
            Status::Expired => Err(FlowError::Expired),
            _ => Err(FlowError::WrongState),
        }
    }

    /// `scanned → confirmed`.
    pub fn confirm(
        &mut self,
        account: AccountId,
        cps: bool,
        now: UnixTime,
        life: Lifetimes,
    ) -> Result<(), FlowError> {
        self.check_open(now, life)?;
        self.0.phase = Phase::Confirmed {
            account,
            cps,
            at: now.as_secs(),
        };
        Ok(())
    }

    /// `scanned → rejected`.
    pub fn reject(&mut self, now: UnixTime, life: Lifetimes) -> Result<(), FlowError> {
        self.check_open(now, life)?;
        self.0.phase = Phase::Rejected;
        Ok(())
    }

    /// The account a confirmed login is for (`None` in every other phase).
    pub fn confirmed_account(&self) -> Option<AccountId> {
        match self.0.phase {
            Phase::Confirmed { account, .. } => Some(account),
            _ => None,
        }
    }

    /// Moves the version on from the one read (`None`: the flow is new): the only place a
    /// flow's version changes, so that its write applies only over the record it was decided
    /// on.
    pub(crate) fn advance(&mut self, read: Option<u64>) {
        self.0.version = read.map_or(0, |v| v.saturating_add(1));
    }

    /// `confirmed → redeemed` by the waiting browser (not for CPS flows). Returns the account.
    pub fn redeem(&mut self, now: UnixTime, life: Lifetimes) -> Result<AccountId, FlowError> {
        self.redeem_as(false, now, life)
    }

    /// `confirmed → redeemed` by the CPS token holder. Returns the account.
    pub fn redeem_cps(&mut self, now: UnixTime, life: Lifetimes) -> Result<AccountId, FlowError> {
        self.redeem_as(true, now, life)
    }

    fn redeem_as(
        &mut self,
        via_cps: bool,
        now: UnixTime,
        life: Lifetimes,
    ) -> Result<AccountId, FlowError> {
        match (self.status(now, life), self.0.phase) {
            (Status::Expired, _) => Err(FlowError::Expired),
            (
                Status::Confirmed | Status::ConfirmedElsewhere,
                Phase::Confirmed { account, cps, .. },
            ) if cps == via_cps => {
                self.0.phase = Phase::Redeemed { cps };
                Ok(account)
            }
            _ => Err(FlowError::WrongState),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::useragent::{Browser, Os};

    const LIFE: Lifetimes = Lifetimes {
        nut: 300,
        redeem: 120,
    };
    const T0: u64 = 1_800_000_000;

    /// `secs` seconds since the Unix epoch.
    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn nut() -> QrNut {
        QrNut {
            flow: FlowId([1; 16]),
            issued_at: T0,
            browser_ip: "192.0.2.1".parse().unwrap(),
            browser: BrowserInfo {
                browser: Browser::Firefox,
                os: Os::Linux,
            },
        }
    }

    fn scanned_at(t: u64) -> Flow {
        Flow::scanned(&nut(), Bytes32([2; 32]), at(t), LIFE).unwrap()
    }

    #[test]
    fn happy_path_on_a_virtual_clock() {
        let mut flow = scanned_at(T0 + 10);
        assert_eq!(flow.status(at(T0 + 10), LIFE), Status::Scanned);
        flow.confirm(AccountId([3; 16]), false, at(T0 + 20), LIFE)
            .unwrap();
        assert_eq!(flow.status(at(T0 + 21), LIFE), Status::Confirmed);
        assert_eq!(flow.redeem(at(T0 + 22), LIFE), Ok(AccountId([3; 16])));
        assert_eq!(flow.status(at(T0 + 23), LIFE), Status::Redeemed);
    }

    #[test]
    fn scan_is_refused_at_and_after_expiry_and_for_future_nuts() {
        assert!(Flow::scanned(&nut(), Bytes32([2; 32]), at(T0 + 299), LIFE).is_ok());
        assert_eq!(
            Flow::scanned(&nut(), Bytes32([2; 32]), at(T0 + 300), LIFE),
            Err(FlowError::Expired)
        );
        assert_eq!(
            Flow::scanned(&nut(), Bytes32([2; 32]), at(T0 - 61), LIFE),
            Err(FlowError::Expired)
        );
    }

    #[test]
    fn scanned_flow_expires_with_its_nut() {
        let mut flow = scanned_at(T0 + 1);
        assert_eq!(flow.status(at(T0 + 300), LIFE), Status::Expired);
        assert_eq!(
            flow.clone()
                .confirm(AccountId([3; 16]), false, at(T0 + 300), LIFE),
            Err(FlowError::Expired)
        );
        assert_eq!(flow.reject(at(T0 + 301), LIFE), Err(FlowError::Expired));
    }

    #[test]
    fn confirmed_flow_must_be_redeemed_in_time_and_once() {
        let mut flow = scanned_at(T0);
        flow.confirm(AccountId([3; 16]), false, at(T0 + 250), LIFE)
            .unwrap();
        // The redeem window runs from confirmation, past the nut lifetime.
        assert_eq!(flow.status(at(T0 + 360), LIFE), Status::Confirmed);
        assert_eq!(
            flow.clone().redeem(at(T0 + 370), LIFE),
            Err(FlowError::Expired)
        );
        flow.redeem(at(T0 + 369), LIFE).unwrap();
        assert_eq!(flow.redeem(at(T0 + 369), LIFE), Err(FlowError::WrongState));
    }

    #[test]
    fn an_ended_conversation_is_final_and_says_how() {
        let mut flow = scanned_at(T0);
        flow.end(End::Removed, at(T0 + 1), LIFE).unwrap();
        assert_eq!(flow.status(at(T0 + 2), LIFE), Status::Removed);
        assert_eq!(
            flow.clone()
                .confirm(AccountId([3; 16]), false, at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        assert_eq!(
            flow.end(End::Failed, at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        for end in [End::Disabled, End::Removed, End::Failed] {
            assert_eq!(End::from_code(end.code()), end);
        }
        for code in 0..=10 {
            let status = Status::from_code(code).unwrap();
            assert_eq!(status.code(), code);
        }
    }

    /// Before, a flow whose phone was told "SQRL disabled" looked like any scanned flow: the
    /// page said "confirm on your phone" to someone who could not log in.
    #[test]
    fn a_disabled_identity_keeps_the_flow_open_and_the_page_is_told() {
        let mut flow = scanned_at(T0);
        flow.note_disabled(true);
        assert_eq!(flow.phase(), Phase::ScannedDisabled);
        assert_eq!(flow.status(at(T0 + 1), LIFE), Status::ScannedDisabled);
        assert_eq!(
            flow.check_open(at(T0 + 1), LIFE),
            Ok(()),
            "enable may follow"
        );
        assert_eq!(flow.status(at(T0 + 300), LIFE), Status::Expired);
        assert_eq!(flow.check_open(at(T0 + 300), LIFE), Err(FlowError::Expired));
        // Re-enabled: a plain scanned flow again, which may confirm.
        flow.note_disabled(false);
        assert_eq!(flow.status(at(T0 + 2), LIFE), Status::Scanned);
        flow.note_disabled(true);
        flow.confirm(AccountId([3; 16]), false, at(T0 + 3), LIFE)
            .unwrap();
        // Only an open exchange is marked.
        flow.note_disabled(true);
        assert_eq!(flow.status(at(T0 + 4), LIFE), Status::Confirmed);
        let mut ended = scanned_at(T0);
        ended.note_disabled(true);
        ended.end(End::Disabled, at(T0 + 1), LIFE).unwrap();
        ended.note_disabled(false);
        assert_eq!(ended.status(at(T0 + 2), LIFE), Status::Disabled);
    }

    #[test]
    fn forbidden_transitions() {
        // rejected is final
        let mut flow = scanned_at(T0);
        flow.reject(at(T0 + 5), LIFE).unwrap();
        assert_eq!(flow.status(at(T0 + 5), LIFE), Status::Rejected);
        assert_eq!(
            flow.clone()
                .confirm(AccountId([3; 16]), false, at(T0 + 6), LIFE),
            Err(FlowError::WrongState)
        );
        assert_eq!(
            flow.clone().reject(at(T0 + 6), LIFE),
            Err(FlowError::WrongState)
        );
        assert_eq!(flow.redeem(at(T0 + 6), LIFE), Err(FlowError::WrongState));
        // a scanned flow cannot be redeemed
        assert_eq!(
            scanned_at(T0).redeem(at(T0 + 1), LIFE),
            Err(FlowError::WrongState)
        );
        // confirmed cannot be confirmed again or rejected
        let mut flow = scanned_at(T0);
        flow.confirm(AccountId([3; 16]), false, at(T0 + 1), LIFE)
            .unwrap();
        assert_eq!(
            flow.clone()
                .confirm(AccountId([4; 16]), false, at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        assert_eq!(
            flow.clone().reject(at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        // the CPS token cannot redeem a browser flow, nor the browser a CPS flow
        assert_eq!(
            flow.clone().redeem_cps(at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        let mut cps = scanned_at(T0);
        cps.confirm(AccountId([3; 16]), true, at(T0 + 1), LIFE)
            .unwrap();
        assert_eq!(cps.status(at(T0 + 2), LIFE), Status::ConfirmedElsewhere);
        assert_eq!(
            cps.clone().redeem(at(T0 + 2), LIFE),
            Err(FlowError::WrongState)
        );
        assert_eq!(cps.redeem_cps(at(T0 + 2), LIFE), Ok(AccountId([3; 16])));
        assert_eq!(
            cps.status(at(T0 + 3), LIFE),
            Status::ConfirmedElsewhere,
            "the page never thinks it is logged in"
        );
        assert_eq!(cps.redeem_cps(at(T0 + 3), LIFE), Err(FlowError::WrongState));
        assert_eq!(cps.redeem(at(T0 + 3), LIFE), Err(FlowError::WrongState));
    }

    /// The widget's own list of final statuses had lost `failed`: the names and which are
    /// final now live on `Status` alone.
    #[test]
    fn status_names_round_trip_and_failed_is_final() {
        for status in Status::ALL {
            assert_eq!(Status::from_code(status.code()), Some(status));
            assert_eq!(
                Status::from_parts(status.as_str(), status.detail()),
                Some(status)
            );
        }
        assert_eq!("scanned".parse(), Ok(Status::Scanned));
        assert_eq!("failed".parse(), Ok(Status::Failed));
        assert!("ended".parse::<Status>().is_err());
        assert_eq!(Status::from_parts("scanned", Some("other")), None);
        let live = [
            Status::New,
            Status::Scanned,
            Status::ScannedDisabled,
            Status::Confirmed,
        ];
        for status in Status::ALL {
            assert_eq!(status.is_final(), !live.contains(&status), "{status:?}");
        }
        assert!(Status::Failed.is_final());
    }

    /// Flows in a shared store are kept for the longest code lifetime any instance may use,
    /// never for less than this instance's own.
    #[test]
    fn shared_flows_are_kept_for_the_longest_code_lifetime() {
        let short = Lifetimes { nut: 60, ..LIFE };
        let longest = Lifetimes { nut: 900, ..LIFE };
        assert_eq!(short.shared_flow_retention(900), longest.flow_retention());
        assert_eq!(longest.shared_flow_retention(60), longest.flow_retention());
        assert!(short.flow_retention() < short.shared_flow_retention(900));
    }
}

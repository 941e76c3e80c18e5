//! Flows as storage records: [`Phase::code`] and [`PhaseData`] (the phase as plain values, for
//! the byte record here and for SQL columns), and a flow as a compact, versioned byte record,
//! for backends that keep flows as opaque values (PostgreSQL `BYTEA`, Redis strings). Decoding
//! never panics: a damaged record is `None`.
//!
//! Phase codes ([`Phase::code`]) never change meaning; a new phase gets a new code (5: scanned,
//! identity disabled), which an older decoder reads as a damaged record (during a rolling upgrade, an
//! old instance sees no such flow: the phone is told to reload, nobody is logged in).

use std::net::{IpAddr, Ipv6Addr};

use sqrl_proto::Bytes32;

use crate::account::AccountId;
use crate::flow::{End, Flow, FlowRecord, Phase};
use crate::nut::FlowId;
use crate::useragent::BrowserInfo;

/// The data a [`Phase`] carries besides its kind, as plain values for storage
/// ([`Phase::data`], [`Phase::from_code`]). A field a phase does not have is its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseData {
    /// `Confirmed`: the account.
    pub account: Option<AccountId>,
    /// `Confirmed`, `Redeemed`: through CPS.
    pub cps: bool,
    /// `Confirmed`: when.
    pub at: u64,
    /// `Ended`: how.
    pub end: Option<End>,
}

impl Phase {
    /// The kind of phase as a one-byte code for storage. Codes never change meaning; a new
    /// phase gets a new code: 0 scanned, 1 confirmed, 2 rejected, 3 redeemed, 4 ended, 5
    /// scanned with the identity disabled.
    pub fn code(&self) -> u8 {
        match self {
            Phase::Scanned => 0,
            Phase::Confirmed { .. } => 1,
            Phase::Rejected => 2,
            Phase::Redeemed { .. } => 3,
            Phase::Ended(_) => 4,
            Phase::ScannedDisabled => 5,
        }
    }

    /// The data this phase carries.
    pub fn data(&self) -> PhaseData {
        match *self {
            Phase::Confirmed { account, cps, at } => PhaseData {
                account: Some(account),
                cps,
                at,
                end: None,
            },
            Phase::Redeemed { cps } => PhaseData {
                cps,
                ..PhaseData::default()
            },
            Phase::Ended(end) => PhaseData {
                end: Some(end),
                ..PhaseData::default()
            },
            Phase::Scanned | Phase::Rejected | Phase::ScannedDisabled => PhaseData::default(),
        }
    }

    /// The phase of a [`Phase::code`] with its [`Phase::data`] (`None`: an unknown code, or a
    /// confirmation without its account).
    pub fn from_code(code: u8, data: PhaseData) -> Option<Phase> {
        Some(match code {
            0 => Phase::Scanned,
            1 => Phase::Confirmed {
                account: data.account?,
                cps: data.cps,
                at: data.at,
            },
            2 => Phase::Rejected,
            3 => Phase::Redeemed { cps: data.cps },
            4 => Phase::Ended(data.end.unwrap_or(End::Failed)),
            5 => Phase::ScannedDisabled,
            _ => return None,
        })
    }
}

const FORMAT: u8 = 1;

fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl Flow {
    /// This flow as a compact, versioned byte record, for backends that keep flows as opaque
    /// values ([`Flow::from_bytes`] reads it back).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// The flow of a record made by [`Flow::to_bytes`] (`None` if it is damaged or of an
    /// unknown format). Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Option<Flow> {
        decode(bytes)
    }
}

/// The record of a flow.
fn encode(flow: &Flow) -> Vec<u8> {
    let flow = flow.record();
    let mut out = Vec::with_capacity(200);
    out.push(FORMAT);
    out.extend_from_slice(&flow.id.0);
    out.extend_from_slice(&flow.version.to_be_bytes());
    out.extend_from_slice(&flow.issued_at.to_be_bytes());
    out.extend_from_slice(&ip_bytes(flow.browser_ip));
    out.push(flow.browser.browser as u8);
    out.push(flow.browser.os as u8);
    out.extend_from_slice(&flow.idk.0);
    out.push(flow.phase.code());
    match flow.phase {
        Phase::Confirmed { account, cps, at } => {
            out.extend_from_slice(&account.0);
            out.push(u8::from(cps));
            out.extend_from_slice(&at.to_be_bytes());
        }
        Phase::Redeemed { cps } => out.push(u8::from(cps)),
        Phase::Ended(end) => out.push(end.code()),
        Phase::Scanned | Phase::Rejected | Phase::ScannedDisabled => {}
    }
    let nut = flow.expected_nut.as_bytes();
    let len = u8::try_from(nut.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(nut.get(..usize::from(len)).unwrap_or_default());
    out.extend_from_slice(&flow.reply_hash);
    out.push(u8::from(flow.asked));
    match flow.cps_token_hash {
        Some(hash) => {
            out.push(1);
            out.extend_from_slice(&hash);
        }
        None => out.push(0),
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// The flow of a record (`None` if it is damaged or of an unknown format).
fn decode(bytes: &[u8]) -> Option<Flow> {
    let mut r = Reader(bytes);
    if r.byte()? != FORMAT {
        return None;
    }
    let id = FlowId(r.array()?);
    let version = r.u64()?;
    let issued_at = r.u64()?;
    let v6 = Ipv6Addr::from(r.array::<16>()?);
    let browser_ip = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
    let browser = BrowserInfo::from_codes(r.byte()?, r.byte()?);
    let idk = Bytes32(r.array()?);
    let code = r.byte()?;
    let data = match code {
        1 => PhaseData {
            account: Some(AccountId(r.array()?)),
            cps: r.flag()?,
            at: r.u64()?,
            end: None,
        },
        3 => PhaseData {
            cps: r.flag()?,
            ..PhaseData::default()
        },
        4 => PhaseData {
            end: Some(End::from_code(r.byte()?)),
            ..PhaseData::default()
        },
        _ => PhaseData::default(),
    };
    let phase = Phase::from_code(code, data)?;
    let len = usize::from(r.byte()?);
    let expected_nut = String::from_utf8(r.take(len)?.to_vec()).ok()?;
    let reply_hash = r.array()?;
    let asked = r.flag()?;
    let cps_token_hash = match r.flag()? {
        true => Some(r.array()?),
        false => None,
    };
    if !r.0.is_empty() {
        return None;
    }
    Some(Flow::from(FlowRecord {
        id,
        version,
        issued_at,
        browser_ip,
        browser,
        idk,
        phase,
        expected_nut,
        reply_hash,
        asked,
        cps_token_hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::flow;

    #[test]
    fn every_phase_is_its_code_and_data_and_unknown_codes_are_none() {
        let phases = [
            Phase::Scanned,
            Phase::ScannedDisabled,
            Phase::Confirmed {
                account: AccountId([3; 16]),
                cps: true,
                at: 7,
            },
            Phase::Rejected,
            Phase::Redeemed { cps: true },
            Phase::Ended(End::Disabled),
            Phase::Ended(End::Removed),
            Phase::Ended(End::Failed),
        ];
        for phase in phases {
            assert_eq!(Phase::from_code(phase.code(), phase.data()), Some(phase));
        }
        assert_eq!(Phase::from_code(6, PhaseData::default()), None);
        assert_eq!(
            Phase::from_code(1, PhaseData::default()),
            None,
            "a confirmation names its account"
        );
    }

    #[test]
    fn every_phase_round_trips_and_damage_is_none() {
        for (id, version) in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)] {
            let mut f = flow(id, version).into_record();
            if id == 4 {
                f.phase = Phase::Redeemed { cps: true };
                f.browser_ip = "2001:db8::1".parse().unwrap();
            }
            if id == 5 {
                f.phase = Phase::Ended(End::Removed);
            }
            if id == 6 {
                f.phase = Phase::ScannedDisabled;
            }
            let f = Flow::from(f);
            let bytes = encode(&f);
            assert_eq!(decode(&bytes), Some(f));
            for cut in 0..bytes.len() {
                assert_eq!(decode(&bytes[..cut]), None, "truncated at {cut}");
            }
            let mut long = bytes.clone();
            long.push(0);
            assert_eq!(decode(&long), None, "trailing bytes");
        }
        assert_eq!(decode(&[9, 0, 0]), None, "unknown format");
    }
}

//! `ver=` values: comma-separated versions and ranges (`1`, `1,3-5`) and their negotiation.

use core::fmt;

use crate::{Error, Result};

/// The protocol versions this crate speaks.
pub const SUPPORTED: VersionSet = VersionSet::single(1);

const MAX_ITEMS: usize = 16;

/// A set of protocol versions, kept as sorted, non-overlapping inclusive ranges.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionSet {
    ranges: RangeList,
}

// A tiny fixed-capacity list keeps `SUPPORTED` a `const` and avoids allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RangeList {
    len: usize,
    items: [(u16, u16); MAX_ITEMS],
}

impl VersionSet {
    /// The set holding one version.
    pub const fn single(version: u16) -> Self {
        let mut items = [(0, 0); MAX_ITEMS];
        items[0] = (version, version);
        Self {
            ranges: RangeList { len: 1, items },
        }
    }

    fn ranges(&self) -> &[(u16, u16)] {
        self.ranges.items.get(..self.ranges.len).unwrap_or_default()
    }

    /// Parses `1`, `1,2`, `1-3,7`. Versions are 1..=65535, each range is ascending, at most 16
    /// items, no spaces.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidVersion { reason };
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        let mut items = [(0u16, 0u16); MAX_ITEMS];
        let mut len = 0;
        for item in text.split(',') {
            let number = |s: &str| -> Result<u16> {
                if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("a version must be a decimal number"));
                }
                match s.parse::<u16>() {
                    Ok(0) | Err(_) => Err(invalid("versions are 1 to 65535")),
                    Ok(v) => Ok(v),
                }
            };
            let range = match item.split_once('-') {
                Some((low, high)) => (number(low)?, number(high)?),
                None => {
                    let v = number(item)?;
                    (v, v)
                }
            };
            if range.0 > range.1 {
                return Err(invalid("a range must be ascending"));
            }
            let slot = items.get_mut(len).ok_or(invalid("more than 16 items"))?;
            *slot = range;
            len += 1;
        }
        let items_slice = items.get_mut(..len).unwrap_or_default();
        items_slice.sort_unstable();
        // merge overlapping or adjacent ranges
        let mut merged = [(0u16, 0u16); MAX_ITEMS];
        let mut count = 0usize;
        for &(low, high) in items_slice.iter() {
            match count.checked_sub(1).and_then(|i| merged.get_mut(i)) {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => {
                    if let Some(slot) = merged.get_mut(count) {
                        *slot = (low, high);
                        count += 1;
                    }
                }
            }
        }
        Ok(Self {
            ranges: RangeList {
                len: count,
                items: merged,
            },
        })
    }

    /// `true` if `version` is in the set.
    pub fn contains(&self, version: u16) -> bool {
        self.ranges()
            .iter()
            .any(|&(low, high)| (low..=high).contains(&version))
    }

    /// The highest version in the set.
    pub fn highest(&self) -> u16 {
        self.ranges().last().map_or(0, |&(_, high)| high)
    }

    /// The highest version both sets contain.
    pub fn negotiate(&self, other: &VersionSet) -> Result<u16> {
        let mut best = None;
        for &(a_low, a_high) in self.ranges() {
            for &(b_low, b_high) in other.ranges() {
                let (low, high) = (a_low.max(b_low), a_high.min(b_high));
                if low <= high {
                    best = best.max(Some(high));
                }
            }
        }
        best.ok_or(Error::NoCommonVersion)
    }
}

impl fmt::Display for VersionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.ranges().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for VersionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let set = VersionSet::parse("1,3-5").unwrap();
        assert!(set.contains(1) && set.contains(4) && !set.contains(2) && !set.contains(6));
        assert_eq!(set.to_string(), "1,3-5");
        assert_eq!(VersionSet::parse("3-5,1,2").unwrap().to_string(), "1-5");
        assert_eq!(SUPPORTED.to_string(), "1");
    }

    #[test]
    fn negotiates_highest_common() {
        let ours = VersionSet::parse("1-3").unwrap();
        assert_eq!(ours.negotiate(&VersionSet::parse("2,5").unwrap()), Ok(2));
        assert_eq!(ours.negotiate(&VersionSet::parse("1").unwrap()), Ok(1));
        assert_eq!(
            SUPPORTED.negotiate(&VersionSet::parse("2-9").unwrap()),
            Err(Error::NoCommonVersion)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "0", "1,", ",1", "a", "3-1", "1 ", "-1", "1-", "70000", "1--2", "+1",
        ] {
            assert!(VersionSet::parse(bad).is_err(), "{bad:?}");
        }
        let many = (1..=17)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(VersionSet::parse(&many).is_err());
    }
}

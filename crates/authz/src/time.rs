//! Points in time as values: the caller reads the clock, this crate never does.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC), as JWT `NumericDate`s count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The time `secs` seconds after the epoch.
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// This time plus `secs` seconds, saturating at the end of time.
    #[must_use]
    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// This time minus `secs` seconds, saturating at the epoch.
    #[must_use]
    pub const fn minus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs))
    }

    /// Seconds from `self` until `later`, zero when `later` is not later.
    #[must_use]
    pub const fn secs_until(self, later: Self) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(10);
        assert_eq!(t.plus_secs(5).as_secs(), 15);
        assert_eq!(t.minus_secs(20).as_secs(), 0);
        assert_eq!(
            UnixTime::from_secs(u64::MAX).plus_secs(1).as_secs(),
            u64::MAX
        );
        assert_eq!(t.secs_until(UnixTime::from_secs(4)), 0);
        assert_eq!(t.secs_until(UnixTime::from_secs(14)), 4);
        assert_eq!(serde_json::to_string(&t).unwrap(), "10");
    }
}

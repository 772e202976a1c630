//! Sign-in throttling: after [`FREE_FAILURES`] failures in a row, each
//! further attempt must wait twice as long as the last, starting at 2 s (so
//! that, on a clock counted in whole seconds, at least one full second
//! always passes), up to [`MAX_LOCK_SECS`]. Kept per account and per client address; a success
//! clears the account's count.

/// Failures allowed before any waiting.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// Failures older than this are forgotten.
pub const FORGET_AFTER_SECS: i64 = 24 * 60 * 60;

/// The failure record of one account or one address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttle {
    /// Failures in a row.
    pub failures: u32,
    /// When the last one happened (Unix seconds).
    pub last_failure_unix: i64,
}

impl Throttle {
    /// Seconds until another attempt is allowed at `now` (0: allowed now).
    pub fn wait_secs(&self, now_unix: i64) -> i64 {
        let failures = self.current_failures(now_unix);
        if failures < FREE_FAILURES {
            return 0;
        }
        let exponent = (failures - FREE_FAILURES + 1).min(20);
        let lock = (1i64 << exponent).min(MAX_LOCK_SECS);
        (self.last_failure_unix + lock - now_unix).max(0)
    }

    /// The record after one more failure at `now`.
    pub fn after_failure(&self, now_unix: i64) -> Throttle {
        Throttle {
            failures: self.current_failures(now_unix).saturating_add(1),
            last_failure_unix: now_unix,
        }
    }

    fn current_failures(&self, now_unix: i64) -> u32 {
        if now_unix - self.last_failure_unix > FORGET_AFTER_SECS {
            0
        } else {
            self.failures
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn after(n: u32, at: i64) -> Throttle {
        (0..n).fold(Throttle::default(), |t, _| t.after_failure(at))
    }

    #[test]
    fn five_failures_are_free_then_waits_double() {
        let t0 = 1_000_000;
        for n in 0..FREE_FAILURES {
            assert_eq!(after(n, t0).wait_secs(t0), 0, "{n}");
        }
        assert_eq!(after(5, t0).wait_secs(t0), 2);
        assert_eq!(
            after(5, t0).wait_secs(t0 + 1),
            1,
            "a second boundary never clears it"
        );
        assert_eq!(after(6, t0).wait_secs(t0), 4);
        assert_eq!(after(7, t0).wait_secs(t0), 8);
        assert_eq!(after(10, t0).wait_secs(t0), 64);
        assert_eq!(after(40, t0).wait_secs(t0), MAX_LOCK_SECS);
        assert_eq!(after(7, t0).wait_secs(t0 + 7), 1);
        assert_eq!(after(7, t0).wait_secs(t0 + 8), 0);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t0 = 1_000_000;
        let t = after(12, t0);
        assert_eq!(t.wait_secs(t0 + FORGET_AFTER_SECS + 1), 0);
        assert_eq!(t.after_failure(t0 + FORGET_AFTER_SECS + 1).failures, 1);
    }

    proptest! {
        #[test]
        fn waits_never_shrink_with_more_failures(n in 0u32..200, gap in 0i64..2000) {
            let t0 = 5_000_000;
            let a = after(n, t0).wait_secs(t0 + gap);
            let b = after(n + 1, t0).wait_secs(t0 + gap);
            prop_assert!(b >= a);
            prop_assert!((0..=MAX_LOCK_SECS).contains(&b));
        }
    }
}

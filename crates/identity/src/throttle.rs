//! Sign-in and sign-up throttling, as pure rules over a counter.
//!
//! Every attempt is *counted before it is tried*: the store takes one
//! attempt under every key of a request in one atomic step ([`Throttle::take`]
//! decides whether it may), and only then is a password hash computed. So
//! however many requests arrive at once, no more attempts are tried than the
//! rule lets through. A success gives its attempt back (the account's count
//! is cleared, the address's is decremented), so the counter holds failures.
//!
//! Sign-in: after [`FREE_FAILURES`] attempts in a row, each further attempt
//! must wait twice as long as the last, starting at 2 s (so that, on a clock
//! counted in whole seconds, at least one full second always passes), up to
//! [`MAX_LOCK_SECS`]. Kept per account and per client address.
//!
//! Sign-up: [`SignUpLimit`] accounts per address, then an hour's wait after
//! the last one.
//!
//! Keys ([`ThrottleKey`]) are a fixed-size hash, never the text a client
//! sent: a 64 KiB handle costs a row of 64 hex characters like any other.
//! An IPv6 client counts per /64, the block one subscriber gets.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// Failures allowed before any waiting.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// Counts older than this are forgotten (and their rows may be deleted).
pub const FORGET_AFTER_SECS: i64 = 24 * 60 * 60;
/// The sign-up window: after the limit, this long after the last sign-up.
pub const SIGN_UP_WINDOW_SECS: i64 = 60 * 60;

/// The counter of one key: attempts counted and not given back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts counted in a row.
    pub failures: u32,
    /// When the last one was counted (Unix seconds).
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

    /// The sign-in rule: the counter with this attempt counted, or the
    /// seconds to wait (nothing counted).
    pub fn take(&self, now_unix: i64) -> Result<Throttle, i64> {
        match self.wait_secs(now_unix) {
            0 => Ok(self.after_failure(now_unix)),
            wait => Err(wait),
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

/// How many accounts one address may create per [`SIGN_UP_WINDOW_SECS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignUpLimit {
    /// Sign-ups allowed in a row; 0 means no limit.
    pub per_window: u32,
}

impl SignUpLimit {
    /// The sign-up rule over an address's counter: `per_window` sign-ups,
    /// then none until [`SIGN_UP_WINDOW_SECS`] after the last one.
    pub fn take(&self, counter: &Throttle, now_unix: i64) -> Result<Throttle, i64> {
        let quiet = now_unix - counter.last_failure_unix >= SIGN_UP_WINDOW_SECS;
        let counted = if quiet { 0 } else { counter.failures };
        if self.per_window > 0 && counted >= self.per_window {
            return Err((counter.last_failure_unix + SIGN_UP_WINDOW_SECS - now_unix).max(1));
        }
        Ok(Throttle {
            failures: counted.saturating_add(1),
            last_failure_unix: now_unix,
        })
    }
}

/// What a throttle counts: a fixed-size hash (SHA-256, hex) of what it is
/// about, never the client's own text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// Sign-in attempts at one account, by the handle as typed (trimmed
    /// and lower-cased, as handles are stored), whether or not it exists.
    pub fn handle(typed: &str) -> ThrottleKey {
        ThrottleKey::of(
            "sign-in handle",
            typed.trim().to_ascii_lowercase().as_bytes(),
        )
    }

    /// Sign-in attempts from one client address (IPv6: its /64).
    pub fn address(client: IpAddr) -> ThrottleKey {
        ThrottleKey::of("sign-in address", &network(client))
    }

    /// Sign-ups from one client address (IPv6: its /64).
    pub fn sign_up_address(client: IpAddr) -> ThrottleKey {
        ThrottleKey::of("sign-up address", &network(client))
    }

    fn of(kind: &str, what: &[u8]) -> ThrottleKey {
        let mut hash = Sha256::new();
        hash.update(kind.as_bytes());
        hash.update([0]);
        hash.update(what);
        ThrottleKey(crate::secret::hex_lower(&hash.finalize()))
    }

    /// The key as stored: 64 lower-case hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The part of an address that names one client: all of an IPv4 address
/// (an IPv4-mapped IPv6 address is its IPv4 address), the first 64 bits of
/// an IPv6 one — a subscriber gets a whole /64 and can pick any address in
/// it.
fn network(client: IpAddr) -> Vec<u8> {
    match client {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets()[..8].to_vec(),
        },
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

    #[test]
    fn taking_counts_five_then_refuses_without_counting() {
        let t0 = 1_000_000;
        let mut t = Throttle::default();
        for n in 1..=FREE_FAILURES {
            t = t.take(t0).unwrap();
            assert_eq!(t.failures, n);
        }
        assert_eq!(t.take(t0), Err(2));
        assert_eq!(t.failures, FREE_FAILURES, "a refusal counts nothing");
        assert_eq!(t.take(t0 + 2).unwrap().failures, FREE_FAILURES + 1);
    }

    #[test]
    fn sign_ups_are_limited_per_window_after_the_last() {
        let limit = SignUpLimit { per_window: 3 };
        let t0 = 2_000_000;
        let mut t = Throttle::default();
        for _ in 0..3 {
            t = limit.take(&t, t0).unwrap();
        }
        assert_eq!(limit.take(&t, t0 + 10), Err(SIGN_UP_WINDOW_SECS - 10));
        assert_eq!(limit.take(&t, t0 + SIGN_UP_WINDOW_SECS - 1), Err(1));
        assert_eq!(
            limit.take(&t, t0 + SIGN_UP_WINDOW_SECS).unwrap().failures,
            1,
            "an hour's quiet starts a new window"
        );
        let off = SignUpLimit { per_window: 0 };
        let many = Throttle {
            failures: 1_000,
            last_failure_unix: t0,
        };
        assert!(off.take(&many, t0).is_ok());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_key_and_other_64s_do_not() {
        let a = ThrottleKey::address(ip("2001:db8:1:2::1"));
        assert_eq!(
            a,
            ThrottleKey::address(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(a, ThrottleKey::address(ip("2001:db8:1:2:abcd::9")));
        assert_ne!(a, ThrottleKey::address(ip("2001:db8:1:3::1")));
        assert_ne!(a, ThrottleKey::sign_up_address(ip("2001:db8:1:2::1")));
    }

    #[test]
    fn ipv4_counts_per_address_and_mapped_ipv4_is_the_same_client() {
        let a = ThrottleKey::address(ip("203.0.113.7"));
        assert_eq!(a, ThrottleKey::address(ip("::ffff:203.0.113.7")));
        assert_ne!(a, ThrottleKey::address(ip("203.0.113.8")));
    }

    #[test]
    fn handle_keys_are_fixed_size_and_normalised() {
        let key = ThrottleKey::handle("Ada ");
        assert_eq!(key, ThrottleKey::handle("ada"));
        assert_ne!(key, ThrottleKey::handle("adb"));
        let huge = ThrottleKey::handle(&"x".repeat(64 * 1024));
        for k in [&key, &huge] {
            assert_eq!(k.as_str().len(), 64);
            assert!(k.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}

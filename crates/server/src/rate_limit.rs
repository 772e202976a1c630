//! Per-client rate limits on the endpoints a company can call in a loop:
//! the token endpoint and `POST /v1/requests`. A bucket per authenticated
//! client (never per claimed id, which would let anyone exhaust another
//! company's budget): `rate` requests a second on average, bursts of twice
//! that. Over the limit the answer is `429` with `Retry-After`.
//!
//! The arithmetic is `governor`'s (GCRA, which admits exactly what a token
//! bucket of that size and refill would); this module chooses the key, the
//! quota and how many idle clients are remembered.
//!
//! Buckets live in each process's memory: with several servers behind a
//! balancer a client gets up to the limit from each. Sign-in throttling is
//! separate (per account and address, in the database).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter as Governor};

/// Clients remembered before the idle ones (whose bucket is full again)
/// are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// governor's keyed limiter over a mutex-guarded map, on clock `C`.
type Buckets<C> =
    Governor<String, HashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Buckets keyed by client.
pub struct RateLimiter<C: Clock = DefaultClock> {
    /// `None`: limiting is off.
    buckets: Option<Buckets<C>>,
    clock: C,
}

impl RateLimiter {
    /// `rate` requests a second per client; `0` turns limiting off.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter::with_clock(rate, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    fn with_clock(rate: u32, clock: C) -> RateLimiter<C> {
        let buckets = NonZeroU32::new(rate).map(|rate| {
            let burst = rate.saturating_add(rate.get());
            let quota = Quota::per_second(rate).allow_burst(burst);
            Governor::hashmap_with_clock(quota, clock.clone())
        });
        RateLimiter { buckets, clock }
    }

    /// Takes one request from `client`'s bucket, or says how long to wait.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        // The table is bounded: once full, clients whose bucket has filled
        // up again (idle ones) are dropped; remembering them changes nothing.
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        buckets
            .check_key(&client.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limiter(rate: u32) -> (RateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (RateLimiter::with_clock(rate, clock.clone()), clock)
    }

    #[test]
    fn a_burst_then_the_steady_rate_then_refusal_with_the_wait() {
        let (limiter, clock) = limiter(10);
        for i in 0..20 {
            assert_eq!(limiter.check("acme"), Ok(()), "request {i} of the burst");
        }
        let wait = limiter.check("acme").unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another client has its own bucket.
        assert_eq!(limiter.check("globex"), Ok(()));
        // A tenth of a second later, one more.
        clock.advance(Duration::from_millis(100));
        assert_eq!(limiter.check("acme"), Ok(()));
        assert!(limiter.check("acme").is_err());
        // Idle long enough, the full burst is back, and no more.
        clock.advance(Duration::from_secs(60));
        for _ in 0..20 {
            assert_eq!(limiter.check("acme"), Ok(()));
        }
        assert!(limiter.check("acme").is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let (limiter, _) = limiter(0);
        for _ in 0..10_000 {
            assert_eq!(limiter.check("acme"), Ok(()));
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }

    #[test]
    fn idle_buckets_are_dropped_when_the_table_is_full() {
        let (limiter, clock) = limiter(1);
        for i in 0..MAX_BUCKETS {
            limiter.check(&format!("c{i}")).unwrap();
        }
        clock.advance(Duration::from_secs(10));
        limiter.check("newcomer").unwrap();
        let remembered = limiter.buckets.as_ref().unwrap().len();
        assert!(remembered < 10, "{remembered}");
    }

    #[test]
    fn a_full_table_still_limits_the_clients_that_are_not_idle() {
        let (limiter, _) = limiter(1);
        limiter.check("busy").unwrap();
        limiter.check("busy").unwrap();
        for i in 0..MAX_BUCKETS {
            limiter.check(&format!("c{i}")).unwrap();
        }
        assert!(limiter.check("busy").is_err(), "an emptied bucket is kept");
    }

    /// Many threads at once, the clock standing still: exactly the burst
    /// gets through, however the checks interleave.
    #[test]
    fn concurrent_checks_admit_exactly_the_burst() {
        let (limiter, _) = limiter(5);
        let admitted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        if limiter.check("acme").is_ok() {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 10);
    }
}

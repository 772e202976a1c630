//! Per-client rate limits on the endpoints a company can call in a loop:
//! the token endpoint and `POST /v1/requests`. A token bucket per
//! authenticated client (never per claimed id, which would let anyone
//! exhaust another company's budget): `rate` requests a second on average,
//! bursts of twice that. Over the limit the answer is `429` with
//! `Retry-After`.
//!
//! Buckets live in each process's memory: with several servers behind a
//! balancer a client gets up to the limit from each. Sign-in throttling is
//! separate (per account and address, in the database).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by client.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` requests a second per client; `0` turns limiting off.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client`'s bucket, or says how long to wait.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(client) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_then_refusal_with_the_wait() {
        let limiter = RateLimiter::new(10);
        let start = Instant::now();
        for i in 0..20 {
            assert_eq!(
                limiter.check_at("acme", start),
                Ok(()),
                "request {i} of the burst"
            );
        }
        let wait = limiter.check_at("acme", start).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another client has its own bucket.
        assert_eq!(limiter.check_at("globex", start), Ok(()));
        // A tenth of a second later, one more.
        let later = start + Duration::from_millis(100);
        assert_eq!(limiter.check_at("acme", later), Ok(()));
        assert!(limiter.check_at("acme", later).is_err());
        // Idle long enough, the full burst is back, and no more.
        let idle = later + Duration::from_secs(60);
        for _ in 0..20 {
            assert_eq!(limiter.check_at("acme", idle), Ok(()));
        }
        assert!(limiter.check_at("acme", idle).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(limiter.check_at("acme", now), Ok(()));
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
        let limiter = RateLimiter::new(1);
        let now = Instant::now();
        for i in 0..MAX_BUCKETS {
            limiter.check_at(&format!("c{i}"), now).unwrap();
        }
        let later = now + Duration::from_secs(10);
        limiter.check_at("newcomer", later).unwrap();
        assert!(limiter.buckets.lock().unwrap().len() < 10);
    }
}

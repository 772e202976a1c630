//! How long SQLite's writes take, phase by phase, for `GET /metrics`.
//!
//! Every `GET /v1/data` read waits for the commit of the disclosure group
//! it joined, so the tail of that route is the tail of these commits. To
//! tell the disk's share from ours, the disclosure writer times each group
//! in three phases: waiting for the write turn (behind the pool's writers
//! and the checkpointer), running its statements, and the `COMMIT` (the
//! pages written to the log and `fsync`ed: with `synchronous=FULL` almost
//! all of it is the sync). The checkpointer counts its passes and times
//! the turns it takes, since a writer waits out each of those.
//!
//! Counters are atomics: a commit adds a few relaxed increments.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the write histograms, in seconds: fine where a commit
/// lands on a healthy disk, coarse beyond.
pub const WRITE_BUCKETS_SECONDS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.015, 0.025, 0.05,
    0.1,
];

/// A histogram of durations over [`WRITE_BUCKETS_SECONDS`].
#[derive(Debug, Default)]
pub struct Histogram {
    sum_nanos: AtomicU64,
    /// Observations in each bucket (not cumulative); the last one counts
    /// those above every bound.
    buckets: [AtomicU64; WRITE_BUCKETS_SECONDS.len() + 1],
}

/// What a [`Histogram`] held at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum_seconds: f64,
    /// Observations at or below each of [`WRITE_BUCKETS_SECONDS`],
    /// cumulative as Prometheus wants them.
    pub cumulative: [u64; WRITE_BUCKETS_SECONDS.len()],
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = WRITE_BUCKETS_SECONDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(WRITE_BUCKETS_SECONDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts so far. The count is the buckets' sum, so that the
    /// `+Inf` bucket is never below the last bound's while commits go on.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = [0; WRITE_BUCKETS_SECONDS.len()];
        let mut running = 0;
        for (total, bucket) in cumulative.iter_mut().zip(&self.buckets) {
            running += bucket.load(Ordering::Relaxed);
            *total = running;
        }
        let above = self.buckets[WRITE_BUCKETS_SECONDS.len()].load(Ordering::Relaxed);
        HistogramSnapshot {
            count: running + above,
            sum_seconds: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
            cumulative,
        }
    }
}

/// One group writer's commits.
#[derive(Debug, Default)]
pub struct GroupWrites {
    /// Transactions committed or attempted.
    pub groups: AtomicU64,
    /// Entries (reads or requests) they carried.
    pub members: AtomicU64,
    /// From asking for the write turn to holding it.
    pub turn: Histogram,
    /// From `BEGIN IMMEDIATE` to the last statement.
    pub statements: Histogram,
    /// The `COMMIT`: the log written and synced.
    pub commit: Histogram,
}

/// The checkpointer's work (see [`crate::checkpoint`]).
#[derive(Debug, Default)]
pub struct Checkpoints {
    /// Passive passes, outside the write turn.
    pub passes: AtomicU64,
    /// Passes in the write turn, so that the log can rewind.
    pub rewinds: AtomicU64,
    /// How long each of those held the turn.
    pub rewind_turn: Histogram,
}

/// Every SQLite writer's figures, shared by the clones of a store.
#[derive(Debug, Default)]
pub struct WriteStats {
    /// The disclosure group writer ([`crate::disclosure`]).
    pub disclosures: GroupWrites,
    /// The request group writer ([`crate::request_group`]).
    pub requests: GroupWrites,
    /// The log's checkpointer.
    pub checkpoints: Checkpoints,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let histogram = Histogram::default();
        for micros in [100, 250, 251, 4_000, 4_001, 99_000, 2_000_000] {
            histogram.observe(Duration::from_micros(micros));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 7);
        assert!((snapshot.sum_seconds - 2.107_602).abs() < 1e-9);
        let at = |bound: f64| {
            let i = WRITE_BUCKETS_SECONDS
                .iter()
                .position(|b| *b == bound)
                .unwrap();
            snapshot.cumulative[i]
        };
        assert_eq!(at(0.000_25), 2, "a bound is inclusive");
        assert_eq!(at(0.000_5), 3);
        assert_eq!(at(0.004), 4);
        assert_eq!(at(0.005), 5);
        assert_eq!(at(0.1), 6, "two seconds is above every bound");
    }
}

//! A closed-loop load generator: `connections` tasks, each with one
//! keep-alive HTTP/1.1 connection, sending the next request as soon as the
//! last is answered. A second of warm-up is discarded; then every latency
//! is recorded (microseconds) until the time or request bound is reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::http;

/// How long one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How hard and how long.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Concurrent connections.
    pub connections: usize,
    /// Run but not recorded.
    pub warm_up: Duration,
    /// Recorded.
    pub measure: Duration,
    /// Stop after this many recorded requests, whatever the time.
    pub max_requests: u64,
}

/// What one workload measured.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Recorded requests answered as expected.
    pub ok: u64,
    /// Recorded requests answered otherwise (or not at all).
    pub errors: u64,
    /// The recorded interval.
    pub elapsed: Duration,
    /// Latency percentiles of the recorded requests, microseconds.
    pub p50_us: u32,
    /// 99th percentile.
    pub p99_us: u32,
    /// The first unexpected answer, to say why.
    pub first_error: Option<String>,
    /// The share of the machine's CPU time the hypervisor gave to other
    /// guests while this was recorded (`steal` in `/proc/stat`): a
    /// virtual machine's figures move with it.
    pub stolen: Option<f64>,
}

impl Stats {
    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A client for setup calls (not measured).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client with default TLS settings")
}

/// What counts as the right answer: this status and a body holding `needle`.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// The HTTP status.
    pub status: u16,
    /// Text the body must hold.
    pub needle: &'static str,
    /// What is wrong when it does not.
    pub why: &'static str,
}

impl Expect {
    fn check(&self, answer: &http::Answer<'_>) -> Result<(), String> {
        if answer.status != self.status {
            return Err(format!(
                "{}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
            ));
        }
        let needle = self.needle.as_bytes();
        if answer.body.windows(needle.len()).any(|w| w == needle) {
            Ok(())
        } else {
            Err(self.why.to_owned())
        }
    }
}

/// Sends `request(connection, sequence)` to `address` (`host:port`) in a
/// closed loop on every connection and checks each answer against `expect`.
pub async fn run<F>(settings: &Settings, address: &str, expect: Expect, request: F) -> Stats
where
    F: Fn(usize, u64) -> http::Request + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let recorded = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let record_from = start + settings.warm_up;
    let stop_at = record_from + settings.measure;
    let max = settings.max_requests;
    let cpu_before = tokio::spawn(async move {
        tokio::time::sleep_until(record_from.into()).await;
        cpu_times()
    });
    let tasks: Vec<_> = (0..settings.connections)
        .map(|connection| {
            let request = request.clone();
            let recorded = recorded.clone();
            let mut http = http::Connection::new(address);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0u64;
                let mut first_error = None;
                let mut sequence = connection as u64;
                loop {
                    let sent = Instant::now();
                    if sent >= stop_at {
                        break;
                    }
                    let recording = sent >= record_from;
                    if recording && recorded.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                    let bytes = request(connection, sequence);
                    let outcome =
                        match tokio::time::timeout(REQUEST_TIMEOUT, http.send(&bytes)).await {
                            Ok(Ok(answer)) => expect.check(&answer),
                            Ok(Err(why)) => Err(why),
                            Err(_) => {
                                http = http::Connection::new(http.address());
                                Err(format!("no answer in {REQUEST_TIMEOUT:?}"))
                            }
                        };
                    sequence += 1 << 20;
                    if !recording {
                        continue;
                    }
                    match outcome {
                        Ok(()) => {
                            let micros = sent.elapsed().as_micros();
                            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                        }
                        Err(why) => {
                            errors += 1;
                            first_error.get_or_insert(why);
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        if let Ok((mut l, e, f)) = task.await {
            latencies.append(&mut l);
            errors += e;
            if first_error.is_none() {
                first_error = f;
            }
        }
    }
    let cpu_after = cpu_times();
    let stolen = match cpu_before.await {
        Ok(Some(before)) => cpu_after.and_then(|after| stolen_share(before, after)),
        _ => None,
    };
    let elapsed = Instant::now()
        .min(stop_at)
        .saturating_duration_since(record_from);
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return 0;
        }
        let rank = ((latencies.len() as f64) * p).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    Stats {
        ok: latencies.len() as u64,
        errors,
        elapsed,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        first_error,
        stolen,
    }
}

/// `(steal, total)` CPU time of the whole machine so far, in ticks.
fn cpu_times() -> Option<(u64, u64)> {
    cpu_times_in(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Reads the `cpu` line of `/proc/stat`: user, nice, system, idle, iowait,
/// irq, softirq, steal (guest time is counted in user already).
fn cpu_times_in(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().sum()))
}

/// The stolen share of the CPU time between two readings.
fn stolen_share(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1).filter(|&t| t > 0)?;
    let steal = after.0.checked_sub(before.0)?;
    Some(steal as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stolen_share_is_read_from_proc_stat() {
        let before = "cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n";
        let after = "cpu  200 0 100 1500 10 0 10 180 0 0\nintr 1\n";
        let (b, a) = (cpu_times_in(before).unwrap(), cpu_times_in(after).unwrap());
        assert_eq!(b, (35, 1000));
        assert_eq!(a, (180, 2000));
        assert_eq!(stolen_share(b, a), Some(0.145));
        assert_eq!(stolen_share(a, a), None, "no time passed");
        assert_eq!(cpu_times_in("cpu  1 2 3\n"), None, "a kernel without steal");
        assert_eq!(cpu_times_in("intr 1\n"), None);
    }
}

/// Sends `builder` and checks the status; the body when it is `expected`.
pub async fn expect(
    builder: reqwest::RequestBuilder,
    expected: reqwest::StatusCode,
) -> Result<bytes_body::Body, String> {
    let response = builder.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != expected {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(bytes_body::Body(body.to_vec()))
}

/// A response body.
pub mod bytes_body {
    /// The raw bytes.
    pub struct Body(pub Vec<u8>);

    impl Body {
        /// Parsed as JSON.
        pub fn json(&self) -> Result<serde_json::Value, String> {
            serde_json::from_slice(&self.0).map_err(|e| e.to_string())
        }
    }
}

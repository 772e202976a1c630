//! A closed-loop load generator: `connections` tasks, each with one
//! keep-alive HTTP/1.1 connection, sending the next request as soon as the
//! last is answered. A second of warm-up is discarded; then every latency
//! is recorded (microseconds) until the time or request bound is reached.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
}

impl Stats {
    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One keep-alive connection's client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client with default TLS settings")
}

/// Runs `request(client, connection, sequence)` in a closed loop on every
/// connection. The future resolves to `Err(why)` for an unexpected answer.
pub async fn run<F, Fut>(settings: &Settings, request: F) -> Stats
where
    F: Fn(reqwest::Client, usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let recorded = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let record_from = start + settings.warm_up;
    let stop_at = record_from + settings.measure;
    let max = settings.max_requests;
    let tasks: Vec<_> = (0..settings.connections)
        .map(|connection| {
            let request = request.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let client = client();
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
                    let outcome = request(client.clone(), connection, sequence).await;
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
        /// Whether the body holds `needle`.
        pub fn contains(&self, needle: &str) -> bool {
            self.0
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        }

        /// `Ok` when the body holds `needle`, else `why`.
        pub fn require(&self, needle: &str, why: &str) -> Result<(), String> {
            if self.contains(needle) {
                Ok(())
            } else {
                Err(why.to_owned())
            }
        }

        /// Parsed as JSON.
        pub fn json(&self) -> Result<serde_json::Value, String> {
            serde_json::from_slice(&self.0).map_err(|e| e.to_string())
        }
    }
}

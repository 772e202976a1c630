//! `GET /metrics` in the Prometheus text format (version 0.0.4): request
//! counts and latencies per route, and the state an operator watches —
//! live grants, the ledger's size and how old its newest checkpoint is.
//!
//! Every label value comes from a closed set, so no client can grow the
//! series (each one a few hundred bytes, kept for the life of the process):
//! routes are labelled by their pattern (`/v1/me/grants/{id}`) or
//! `unmatched`, never by the path a client sent, so no id, token or value
//! reaches the metrics; methods are the nine of RFC 9110 and PATCH, any
//! other token a client invents counts as `OTHER`; statuses are the ones
//! this server answers with. It is served on the admin listener
//! (`--admin-bind`), never on the public port.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use store::write_stats::{GroupWrites, WRITE_BUCKETS_SECONDS, WriteStats};

use actix_web::http::Method;
use actix_web::{HttpResponse, get, web};

use crate::problem::Problem;
use crate::startup::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Observations at or below each of [`BUCKETS`] (cumulative on output).
    buckets: [u64; BUCKETS.len()],
}

/// Request metrics, shared by every worker.
#[derive(Default)]
pub struct Metrics {
    /// (method label, route pattern, status) → series.
    series: Mutex<BTreeMap<(&'static str, String, u16), Series>>,
}

/// The label of a request's method: one of the standard methods, or
/// `OTHER` for any extension token (actix accepts any token as a method,
/// and a label per invented token would let a stranger grow the metrics
/// without bound).
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

impl Metrics {
    /// Records one answered request. `route` is the matched route's
    /// pattern (from the server's own route table) or `None`, counted as
    /// `unmatched`.
    pub fn observe(&self, method: &Method, route: Option<String>, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let route = route.unwrap_or_else(|| "unmatched".to_owned());
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = series
            .entry((method_label(method), route, status))
            .or_default();
        entry.count += 1;
        entry.sum_seconds += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            entry.buckets[i] += 1;
        }
    }

    /// The request metrics as Prometheus text.
    fn render(&self, out: &mut String) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        out.push_str("# HELP apiome_http_requests_total Requests answered, by method, route pattern and status.\n");
        out.push_str("# TYPE apiome_http_requests_total counter\n");
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "apiome_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                s.count
            );
        }
        out.push_str("# HELP apiome_http_request_duration_seconds Time to answer, by method and route pattern.\n");
        out.push_str("# TYPE apiome_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((method, route, _), s) in series.iter() {
            let merged = by_route.entry((*method, route)).or_default();
            merged.count += s.count;
            merged.sum_seconds += s.sum_seconds;
            for (m, b) in merged.buckets.iter_mut().zip(s.buckets) {
                *m += b;
            }
        }
        for ((method, route), s) in &by_route {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let cumulative = s.buckets.iter().scan(0, |total, n| {
                *total += n;
                Some(*total)
            });
            histogram(
                out,
                "apiome_http_request_duration_seconds",
                &labels,
                BUCKETS.iter().copied().zip(cumulative),
                s.count,
                s.sum_seconds,
            );
        }
    }
}

/// One histogram's series: `cumulative` pairs each bucket's upper bound
/// with the observations at or below it.
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    cumulative: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum_seconds: f64,
) {
    for (bound, n) in cumulative {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum_seconds}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

/// A counter's `HELP`, `TYPE` and one line per label set.
fn counter(out: &mut String, name: &str, help: &str, series: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in series {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// One of the store's write histograms, with `labels`.
fn write_histogram(out: &mut String, name: &str, labels: &str, h: &store::write_stats::Histogram) {
    let snapshot = h.snapshot();
    histogram(
        out,
        name,
        labels,
        WRITE_BUCKETS_SECONDS
            .iter()
            .copied()
            .zip(snapshot.cumulative),
        snapshot.count,
        snapshot.sum_seconds,
    );
}

/// The SQLite writers' figures (see `store::write_stats`); all zero on
/// PostgreSQL.
fn render_writes(stats: &WriteStats, out: &mut String) {
    let writers = [
        ("disclosures", &stats.disclosures),
        ("requests", &stats.requests),
    ];
    let per_writer = |count: fn(&GroupWrites) -> &AtomicU64| -> Vec<(String, u64)> {
        writers
            .iter()
            .map(|(writer, w)| {
                (
                    format!("writer=\"{writer}\""),
                    count(w).load(Ordering::Relaxed),
                )
            })
            .collect()
    };
    counter(
        out,
        "apiome_store_write_groups_total",
        "Transactions of a group writer.",
        &per_writer(|w| &w.groups),
    );
    counter(
        out,
        "apiome_store_write_group_members_total",
        "Reads or requests those transactions carried.",
        &per_writer(|w| &w.members),
    );
    out.push_str("# HELP apiome_store_write_seconds A group writer's time per transaction, by phase: waiting for the write turn, running the statements, committing (the log written and synced).\n# TYPE apiome_store_write_seconds histogram\n");
    for (writer, w) in writers {
        for (phase, h) in [
            ("turn", &w.turn),
            ("statements", &w.statements),
            ("commit", &w.commit),
        ] {
            let labels = format!("writer=\"{writer}\",phase=\"{phase}\"");
            write_histogram(out, "apiome_store_write_seconds", &labels, h);
        }
    }
    let checkpoints = &stats.checkpoints;
    counter(
        out,
        "apiome_store_checkpoints_total",
        "Checkpoints of the write-ahead log: passive, or in the write turn so that the log can rewind.",
        &[
            (
                "kind=\"passive\"".to_owned(),
                checkpoints.passes.load(Ordering::Relaxed),
            ),
            (
                "kind=\"rewind\"".to_owned(),
                checkpoints.rewinds.load(Ordering::Relaxed),
            ),
        ],
    );
    out.push_str("# HELP apiome_store_checkpoint_turn_seconds How long a rewinding checkpoint held the write turn.\n# TYPE apiome_store_checkpoint_turn_seconds histogram\n");
    write_histogram(
        out,
        "apiome_store_checkpoint_turn_seconds",
        "kind=\"rewind\"",
        &checkpoints.rewind_turn,
    );
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics, on the admin listener only. Not in the OpenAPI document:
/// it is for the operator's scraper, not for companies or people.
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    requests: web::Data<Metrics>,
) -> Result<HttpResponse, Problem> {
    let mut out = String::with_capacity(4096);
    requests.render(&mut out);
    render_writes(state.store.write_stats(), &mut out);
    let grants = state.store.live_grant_count().await?;
    let size = state.store.ledger_size().await?;
    let checkpoint = state.store.latest_checkpoint().await?;
    out.push_str("# HELP apiome_grants_live Grants neither revoked nor expired.\n# TYPE apiome_grants_live gauge\n");
    let _ = writeln!(out, "apiome_grants_live {grants}");
    out.push_str("# HELP apiome_ledger_entries Entries in the transparency log.\n# TYPE apiome_ledger_entries gauge\n");
    let _ = writeln!(out, "apiome_ledger_entries {size}");
    out.push_str("# HELP apiome_ledger_checkpoint_size Tree size of the newest signed checkpoint.\n# TYPE apiome_ledger_checkpoint_size gauge\n");
    let _ = writeln!(
        out,
        "apiome_ledger_checkpoint_size {}",
        checkpoint.as_ref().map_or(0, |c| c.tree_size)
    );
    out.push_str("# HELP apiome_ledger_checkpoint_age_seconds Seconds since the newest checkpoint was signed (-1 before the first).\n# TYPE apiome_ledger_checkpoint_age_seconds gauge\n");
    let age = checkpoint.map_or(-1.0, |c| {
        (time::OffsetDateTime::now_utc() - c.created_at).as_seconds_f64()
    });
    let _ = writeln!(out, "apiome_ledger_checkpoint_age_seconds {age}");
    let (hits, misses) = state.oauth.verified.hits_and_misses();
    out.push_str("# HELP apiome_access_token_checks_total Access-token checks, by whether the signature was verified again (miss) or remembered (hit).\n# TYPE apiome_access_token_checks_total counter\n");
    let _ = writeln!(
        out,
        "apiome_access_token_checks_total{{signature=\"remembered\"}} {hits}"
    );
    let _ = writeln!(
        out,
        "apiome_access_token_checks_total{{signature=\"verified\"}} {misses}"
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_per_status() {
        let m = Metrics::default();
        let data = || Some("/v1/data".to_owned());
        m.observe(&Method::GET, data(), 200, Duration::from_micros(300));
        m.observe(&Method::GET, data(), 200, Duration::from_millis(3));
        m.observe(&Method::GET, data(), 401, Duration::from_secs(5));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "apiome_http_requests_total{method=\"GET\",route=\"/v1/data\",status=\"200\"} 2"
        ));
        assert!(out.contains(
            "apiome_http_requests_total{method=\"GET\",route=\"/v1/data\",status=\"401\"} 1"
        ));
        let bucket = |le: &str| {
            let line = format!(
                "apiome_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/v1/data\",le=\"{le}\"}} "
            );
            out.lines()
                .find_map(|l| l.strip_prefix(line.as_str()))
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert_eq!(bucket("0.0005"), 1);
        assert_eq!(bucket("0.005"), 2);
        assert_eq!(bucket("2.5"), 2);
        assert_eq!(bucket("+Inf"), 3);
        assert!(out.contains(
            "apiome_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/data\"} 3"
        ));
    }

    #[test]
    fn the_writers_phases_are_histograms_by_writer_and_phase() {
        let stats = WriteStats::default();
        stats.disclosures.groups.fetch_add(2, Ordering::Relaxed);
        stats.disclosures.members.fetch_add(30, Ordering::Relaxed);
        stats
            .disclosures
            .commit
            .observe(Duration::from_micros(1_500));
        stats.disclosures.commit.observe(Duration::from_millis(7));
        stats.checkpoints.passes.fetch_add(5, Ordering::Relaxed);
        let mut out = String::new();
        render_writes(&stats, &mut out);
        for line in [
            "apiome_store_write_groups_total{writer=\"disclosures\"} 2",
            "apiome_store_write_group_members_total{writer=\"disclosures\"} 30",
            "apiome_store_write_groups_total{writer=\"requests\"} 0",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.001\"} 0",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.002\"} 1",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.008\"} 2",
            "apiome_store_write_seconds_count{writer=\"disclosures\",phase=\"commit\"} 2",
            "apiome_store_write_seconds_count{writer=\"disclosures\",phase=\"turn\"} 0",
            "apiome_store_checkpoints_total{kind=\"passive\"} 5",
            "apiome_store_checkpoint_turn_seconds_count{kind=\"rewind\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "no {line:?} in\n{out}");
        }
    }

    #[test]
    fn invented_methods_and_unmatched_paths_share_one_series() {
        let m = Metrics::default();
        for i in 0..100 {
            let invented = Method::from_bytes(format!("X-INVENTED-{i}").as_bytes()).unwrap();
            m.observe(&invented, None, 404, Duration::from_millis(1));
        }
        m.observe(&Method::PATCH, None, 404, Duration::from_millis(1));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "apiome_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 100"
        ));
        assert!(out.contains("method=\"PATCH\",route=\"unmatched\""));
        assert!(!out.contains("INVENTED"), "{out}");
        assert_eq!(m.series.lock().unwrap().len(), 2);
        for (method, label) in [
            (Method::GET, "GET"),
            (Method::HEAD, "HEAD"),
            (Method::OPTIONS, "OPTIONS"),
            (Method::from_bytes(b"get").unwrap(), "OTHER"),
            (Method::from_bytes(b"PROPFIND").unwrap(), "OTHER"),
        ] {
            assert_eq!(method_label(&method), label);
        }
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

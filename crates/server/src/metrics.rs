//! `GET /metrics` in the Prometheus text format (version 0.0.4), encoded by
//! `prometheus-client`: request counts and latencies per route, the
//! process's own figures (CPU, memory, file descriptors, threads), and the
//! state an operator watches — live grants, the ledger's size and how old
//! its newest checkpoint is, the SQLite writers' group commits.
//!
//! Every label value comes from a closed set, so no client can grow the
//! series (each one a few hundred bytes, kept for the life of the process):
//! routes are labelled by their pattern (`/v1/me/grants/{id}`) or
//! `unmatched`, never by the path a client sent, so no id, token or value
//! reaches the metrics; methods are the nine of RFC 9110 and PATCH, any
//! other token a client invents counts as `OTHER`; statuses are the ones
//! this server answers with. It is served on the admin listener
//! (`--admin-bind`), never on the public port.
//!
//! Two registries make one scrape: the process's, which lives as long as
//! it does (request series, the process collector), and one made for each
//! scrape from what was read just then (the database's gauges, the
//! store's and the token cache's counters, which their crates keep as
//! plain atomics so that they need no Prometheus library).

mod process;

use std::fmt;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{HttpResponse, get, web};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric as _, NoLabelSet, prometheus_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use store::write_stats::{HistogramSnapshot, WRITE_BUCKETS_SECONDS, WriteStats};

use crate::problem::Problem;
use crate::startup::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// One request counter's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// One latency histogram's labels (all statuses together).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Request metrics and the process collector, shared by every worker.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let mut registry = Registry::default();
        registry.register(
            "apiome_http_requests",
            "Requests answered, by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "apiome_http_request_duration_seconds",
            "Time to answer, by method and route pattern",
            durations.clone(),
        );
        registry.register_collector(Box::new(process::Process));
        Metrics {
            registry,
            requests,
            durations,
        }
    }
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
        let method = method_label(method);
        let route = route.unwrap_or_else(|| "unmatched".to_owned());
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The request and process metrics as Prometheus text.
    fn render(&self, out: &mut String) -> fmt::Result {
        prometheus_text::encode(out, &self.registry)
    }
}

/// What one scrape read from the database and the counters other crates
/// keep.
#[derive(Debug)]
struct Scrape {
    grants_live: u64,
    ledger_entries: u64,
    checkpoint_size: u64,
    /// -1 before the first checkpoint.
    checkpoint_age_seconds: f64,
    /// (remembered, verified again).
    token_checks: (u64, u64),
    writes: Writes,
}

/// The SQLite writers' figures (see `store::write_stats`); all zero on
/// PostgreSQL.
#[derive(Debug)]
struct Writes {
    writers: Vec<Writer>,
    passive_checkpoints: u64,
    rewinds: u64,
    rewind_turn: HistogramSnapshot,
}

/// One group writer at one moment.
#[derive(Debug)]
struct Writer {
    name: &'static str,
    groups: u64,
    members: u64,
    /// Each phase's name and histogram.
    phases: [(&'static str, HistogramSnapshot); 3],
}

impl Writes {
    fn read(stats: &WriteStats) -> Writes {
        use std::sync::atomic::Ordering::Relaxed;
        let writer = |name, w: &store::write_stats::GroupWrites| Writer {
            name,
            groups: w.groups.load(Relaxed),
            members: w.members.load(Relaxed),
            phases: [
                ("turn", w.turn.snapshot()),
                ("statements", w.statements.snapshot()),
                ("commit", w.commit.snapshot()),
            ],
        };
        Writes {
            writers: vec![
                writer("disclosures", &stats.disclosures),
                writer("requests", &stats.requests),
            ],
            passive_checkpoints: stats.checkpoints.passes.load(Relaxed),
            rewinds: stats.checkpoints.rewinds.load(Relaxed),
            rewind_turn: stats.checkpoints.rewind_turn.snapshot(),
        }
    }
}

/// A gauge without labels.
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl prometheus_client::encoding::EncodeGaugeValue,
) -> fmt::Result {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A counter (`name` without `_total`, which the encoder adds) with one
/// labelled series per entry.
fn counter<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(L, u64)],
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(*value).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

/// A histogram from the store's snapshots, one series per label set.
fn histograms<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(L, &HistogramSnapshot)],
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, snapshot) in series {
        // The encoder adds the buckets up itself.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = WRITE_BUCKETS_SECONDS
            .iter()
            .zip(snapshot.cumulative)
            .map(|(bound, cumulative)| {
                let in_bucket = cumulative - below;
                below = cumulative;
                (*bound, in_bucket)
            })
            .collect();
        metric
            .encode_family(labels)?
            .encode_histogram::<NoLabelSet>(snapshot.sum_seconds, snapshot.count, &buckets, None)?;
    }
    Ok(())
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let e = &mut encoder;
        self.writes.encode(e)?;
        gauge(
            e,
            "apiome_grants_live",
            "Grants neither revoked nor expired.",
            self.grants_live,
        )?;
        gauge(
            e,
            "apiome_ledger_entries",
            "Entries in the transparency log.",
            self.ledger_entries,
        )?;
        gauge(
            e,
            "apiome_ledger_checkpoint_size",
            "Tree size of the newest signed checkpoint.",
            self.checkpoint_size,
        )?;
        gauge(
            e,
            "apiome_ledger_checkpoint_age_seconds",
            "Seconds since the newest checkpoint was signed (-1 before the first).",
            self.checkpoint_age_seconds,
        )?;
        let (remembered, verified) = self.token_checks;
        counter(
            e,
            "apiome_access_token_checks",
            "Access-token checks, by whether the signature was verified again (miss) or remembered (hit).",
            &[
                ([("signature", "remembered")], remembered),
                ([("signature", "verified")], verified),
            ],
        )
    }
}

impl Writes {
    fn encode(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let per_writer = |value: fn(&Writer) -> u64| {
            self.writers
                .iter()
                .map(|w| ([("writer", w.name)], value(w)))
                .collect::<Vec<_>>()
        };
        counter(
            e,
            "apiome_store_write_groups",
            "Transactions of a group writer.",
            &per_writer(|w| w.groups),
        )?;
        counter(
            e,
            "apiome_store_write_group_members",
            "Reads or requests those transactions carried.",
            &per_writer(|w| w.members),
        )?;
        let phases: Vec<_> = self
            .writers
            .iter()
            .flat_map(|w| {
                w.phases
                    .iter()
                    .map(move |(phase, h)| ([("writer", w.name), ("phase", *phase)], h))
            })
            .collect();
        histograms(
            e,
            "apiome_store_write_seconds",
            "A group writer's time per transaction, by phase: waiting for the write turn, running the statements, committing (the log written and synced).",
            &phases,
        )?;
        counter(
            e,
            "apiome_store_checkpoints",
            "Checkpoints of the write-ahead log: passive, or in the write turn so that the log can rewind.",
            &[
                ([("kind", "passive")], self.passive_checkpoints),
                ([("kind", "rewind")], self.rewinds),
            ],
        )?;
        histograms(
            e,
            "apiome_store_checkpoint_turn_seconds",
            "How long a rewinding checkpoint held the write turn.",
            &[([("kind", "rewind")], &self.rewind_turn)],
        )
    }
}

/// The metrics, on the admin listener only. Not in the OpenAPI document:
/// it is for the operator's scraper, not for companies or people.
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    requests: web::Data<Metrics>,
) -> Result<HttpResponse, Problem> {
    let checkpoint = state.store.latest_checkpoint().await?;
    let scrape = Scrape {
        grants_live: state.store.live_grant_count().await?,
        ledger_entries: state.store.ledger_size().await?,
        checkpoint_size: checkpoint.as_ref().map_or(0, |c| c.tree_size),
        checkpoint_age_seconds: checkpoint.map_or(-1.0, |c| {
            (time::OffsetDateTime::now_utc() - c.created_at).as_seconds_f64()
        }),
        token_checks: state.oauth.verified.hits_and_misses(),
        writes: Writes::read(state.store.write_stats()),
    };
    let mut now = Registry::default();
    now.register_collector(Box::new(scrape));
    let mut out = String::with_capacity(8192);
    requests
        .render(&mut out)
        .and_then(|()| prometheus_text::encode(&mut out, &now))
        .map_err(|_| Problem::internal())?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus_text::CONTENT_TYPE)
        .insert_header(("cache-control", "no-store"))
        .body(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use std::sync::atomic::Ordering;

    use super::*;

    fn rendered(m: &Metrics) -> String {
        let mut out = String::new();
        m.render(&mut out).unwrap();
        out
    }

    fn scraped(stats: &WriteStats) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape {
            grants_live: 2,
            ledger_entries: 7,
            checkpoint_size: 5,
            checkpoint_age_seconds: -1.0,
            token_checks: (3, 1),
            writes: Writes::read(stats),
        }));
        let mut out = String::new();
        prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn histograms_are_cumulative_and_counters_per_status() {
        let m = Metrics::default();
        let data = || Some("/v1/data".to_owned());
        m.observe(&Method::GET, data(), 200, Duration::from_micros(300));
        m.observe(&Method::GET, data(), 200, Duration::from_millis(3));
        m.observe(&Method::GET, data(), 401, Duration::from_secs(5));
        let out = rendered(&m);
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
                .unwrap_or_else(|| panic!("no {line} in\n{out}"))
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
        assert!(out.contains("# TYPE apiome_http_requests_total counter"));
        assert!(out.contains("# TYPE apiome_http_request_duration_seconds histogram"));
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
        let out = scraped(&stats);
        for line in [
            "apiome_store_write_groups_total{writer=\"disclosures\"} 2",
            "apiome_store_write_group_members_total{writer=\"disclosures\"} 30",
            "apiome_store_write_groups_total{writer=\"requests\"} 0",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.001\"} 0",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.002\"} 1",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"0.008\"} 2",
            "apiome_store_write_seconds_bucket{writer=\"disclosures\",phase=\"commit\",le=\"+Inf\"} 2",
            "apiome_store_write_seconds_count{writer=\"disclosures\",phase=\"commit\"} 2",
            "apiome_store_write_seconds_count{writer=\"disclosures\",phase=\"turn\"} 0",
            "apiome_store_checkpoints_total{kind=\"passive\"} 5",
            "apiome_store_checkpoint_turn_seconds_count{kind=\"rewind\"} 0",
            "apiome_grants_live 2",
            "apiome_ledger_entries 7",
            "apiome_ledger_checkpoint_age_seconds -1.0",
            "apiome_access_token_checks_total{signature=\"remembered\"} 3",
            "apiome_access_token_checks_total{signature=\"verified\"} 1",
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
        let out = rendered(&m);
        assert!(out.contains(
            "apiome_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 100"
        ));
        assert!(out.contains("method=\"PATCH\",route=\"unmatched\""));
        assert!(!out.contains("INVENTED"), "{out}");
        let series = out
            .lines()
            .filter(|l| l.starts_with("apiome_http_requests_total{"))
            .count();
        assert_eq!(series, 2, "{out}");
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
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.observe(
            &Method::GET,
            Some("/a\"b\\c\nd".to_owned()),
            200,
            Duration::ZERO,
        );
        let out = rendered(&m);
        assert!(out.contains(r#"route="/a\"b\\c\nd""#), "{out}");
    }
}

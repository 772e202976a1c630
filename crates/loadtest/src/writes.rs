//! What the server's SQLite writers did during the run, read from its
//! `GET /metrics` (see `store::write_stats`): how many groups each writer
//! committed, how large they were, and how long each phase took. The
//! percentiles are bucket bounds ("at most"), as a histogram gives them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One histogram: its cumulative buckets, count and sum.
#[derive(Debug, Default, PartialEq)]
struct Series {
    /// `(upper bound in seconds, observations at or below it)`, ascending.
    buckets: Vec<(f64, u64)>,
    count: u64,
    sum: f64,
}

impl Series {
    /// The smallest bucket bound holding the fraction `q` of observations,
    /// or `None` when that lies above every bound (or nothing was seen).
    fn quantile_bound(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let wanted = (q * self.count as f64).ceil() as u64;
        self.buckets
            .iter()
            .find(|(_, n)| *n >= wanted)
            .map(|(bound, _)| *bound)
    }
}

/// `name{labels} value` → (name, labels, value); comments and blank lines
/// are `None`.
fn sample(line: &str) -> Option<(&str, BTreeMap<&str, &str>, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, rest.strip_suffix('}')?),
        None => (series, ""),
    };
    let labels = labels
        .split(',')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key, value.trim_matches('"')))
        })
        .collect();
    Some((name, labels, value))
}

/// The histogram `name` whose labels include every one of `wanted`.
fn histogram(text: &str, name: &str, wanted: &[(&str, &str)]) -> Series {
    let mut series = Series::default();
    let matches = |labels: &BTreeMap<&str, &str>| {
        wanted
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
    };
    for (metric, labels, value) in text.lines().filter_map(sample) {
        if !matches(&labels) {
            continue;
        }
        match metric.strip_prefix(name) {
            Some("_bucket") => {
                if let Some(Ok(bound)) = labels.get("le").map(|le| le.parse::<f64>()) {
                    series.buckets.push((bound, value as u64));
                }
            }
            Some("_count") => series.count = value as u64,
            Some("_sum") => series.sum = value,
            _ => {}
        }
    }
    series.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    series
}

/// The counter `name` with exactly these labels, or 0.
fn counter(text: &str, name: &str, wanted: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(sample)
        .find(|(metric, labels, _)| {
            *metric == name && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .map_or(0.0, |(_, _, value)| value)
}

fn millis(bound: Option<f64>) -> String {
    match bound {
        Some(seconds) if seconds.is_finite() => format!("≤ {} ms", seconds * 1000.0),
        Some(_) => "above every bound".to_owned(),
        None => "none".to_owned(),
    }
}

fn phases(out: &mut String, series: &Series) {
    let mean = series.sum / series.count.max(1) as f64 * 1000.0;
    let _ = write!(
        out,
        "mean {mean:.2} ms, p50 {}, p99 {}",
        millis(series.quantile_bound(0.5)),
        millis(series.quantile_bound(0.99)),
    );
}

/// A few lines on each writer that committed anything, for the report.
pub fn summary(text: &str) -> String {
    let mut out = String::new();
    for writer in ["disclosures", "requests"] {
        let groups = counter(
            text,
            "apiome_store_write_groups_total",
            &[("writer", writer)],
        );
        if groups == 0.0 {
            continue;
        }
        let members = counter(
            text,
            "apiome_store_write_group_members_total",
            &[("writer", writer)],
        );
        let _ = writeln!(
            out,
            "- the {writer} writer: {groups} transactions of {:.1} on average",
            members / groups
        );
        for phase in ["turn", "statements", "commit"] {
            let series = histogram(
                text,
                "apiome_store_write_seconds",
                &[("writer", writer), ("phase", phase)],
            );
            let _ = write!(out, "  - {phase}: ");
            phases(&mut out, &series);
            out.push('\n');
        }
    }
    let passive = counter(
        text,
        "apiome_store_checkpoints_total",
        &[("kind", "passive")],
    );
    let rewinds = counter(
        text,
        "apiome_store_checkpoints_total",
        &[("kind", "rewind")],
    );
    let _ = write!(
        out,
        "- checkpoints: {passive} passive, {rewinds} in the write turn"
    );
    if rewinds > 0.0 {
        out.push_str(", holding it ");
        phases(
            &mut out,
            &histogram(
                text,
                "apiome_store_checkpoint_turn_seconds",
                &[("kind", "rewind")],
            ),
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = r#"# HELP apiome_store_write_groups_total Transactions of a group writer.
apiome_store_write_groups_total{writer="disclosures"} 4
apiome_store_write_groups_total{writer="requests"} 0
apiome_store_write_group_members_total{writer="disclosures"} 50
apiome_store_write_seconds_bucket{writer="disclosures",phase="commit",le="0.001"} 1
apiome_store_write_seconds_bucket{writer="disclosures",phase="commit",le="0.002"} 3
apiome_store_write_seconds_bucket{writer="disclosures",phase="commit",le="0.005"} 3
apiome_store_write_seconds_bucket{writer="disclosures",phase="commit",le="+Inf"} 4
apiome_store_write_seconds_sum{writer="disclosures",phase="commit"} 0.02
apiome_store_write_seconds_count{writer="disclosures",phase="commit"} 4
apiome_store_write_seconds_count{writer="disclosures",phase="turn"} 0
apiome_store_checkpoints_total{kind="passive"} 7
apiome_store_checkpoints_total{kind="rewind"} 0
"#;

    #[test]
    fn histograms_are_read_by_their_labels() {
        let commit = histogram(
            METRICS,
            "apiome_store_write_seconds",
            &[("writer", "disclosures"), ("phase", "commit")],
        );
        assert_eq!(commit.count, 4);
        assert_eq!(commit.buckets.len(), 4, "+Inf parses as a bound too");
        assert_eq!(commit.quantile_bound(0.25), Some(0.001));
        assert_eq!(commit.quantile_bound(0.5), Some(0.002));
        assert_eq!(commit.quantile_bound(0.99), Some(f64::INFINITY));
        let turn = histogram(
            METRICS,
            "apiome_store_write_seconds",
            &[("writer", "disclosures"), ("phase", "turn")],
        );
        assert_eq!(turn.quantile_bound(0.5), None, "nothing observed");
    }

    #[test]
    fn the_summary_names_only_writers_that_wrote() {
        let text = summary(METRICS);
        assert!(
            text.contains("the disclosures writer: 4 transactions of 12.5 on average"),
            "{text}"
        );
        assert!(
            text.contains("commit: mean 5.00 ms, p50 ≤ 2 ms, p99 above every bound"),
            "{text}"
        );
        assert!(!text.contains("requests writer"), "{text}");
        assert!(text.contains("checkpoints: 7 passive, 0 in the write turn"));
    }
}

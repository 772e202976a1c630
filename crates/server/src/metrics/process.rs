//! The process's own figures, under the names every Prometheus client
//! library uses (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! ...), so the usual dashboards and alerts work unchanged.
//!
//! Read from `/proc/self` at each scrape (Linux); elsewhere, and for any
//! file that cannot be read, the figure is left out rather than made up.
//! `prometheus-client` has no process collector, and the crates that read
//! `/proc` for one (`procfs`) would add a dozen packages for seven numbers.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks a second in `/proc`'s CPU times: `USER_HZ`, fixed at 100 in
/// Linux's user-space ABI whatever the kernel's own tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// Collects on each scrape.
#[derive(Debug)]
pub(super) struct Process;

/// One reading of `/proc/self`.
#[derive(Debug, Default, PartialEq)]
struct Reading {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    threads: Option<i64>,
    resident_bytes: Option<i64>,
    virtual_bytes: Option<i64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
}

impl Reading {
    fn now() -> Reading {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat");
        let status = read("/proc/self/status");
        let boot_time = read("/proc/stat").and_then(|s| boot_time_seconds(&s));
        let stat = stat.as_deref().and_then(stat_fields);
        Reading {
            cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / TICKS_PER_SECOND),
            start_time_seconds: stat
                .zip(boot_time)
                .map(|(s, boot)| boot + s.start_ticks as f64 / TICKS_PER_SECOND),
            threads: status.as_deref().and_then(|s| status_field(s, "Threads:")),
            resident_bytes: status
                .as_deref()
                .and_then(|s| status_field(s, "VmRSS:"))
                .map(|kib| kib * 1024),
            virtual_bytes: status
                .as_deref()
                .and_then(|s| status_field(s, "VmSize:"))
                .map(|kib| kib * 1024),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| i64::try_from(entries.count()).unwrap_or(i64::MAX)),
            max_fds: read("/proc/self/limits").and_then(|l| max_open_files(&l)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Stat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
}

/// utime, stime and starttime from `/proc/self/stat`: fields 14, 15 and 22,
/// counted after the command name, which is in parentheses and may hold
/// spaces and parentheses itself.
fn stat_fields(stat: &str) -> Option<Stat> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // Field 3 (state) is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
    })
}

/// A number from a `Key:   value [kB]` line of `/proc/self/status`.
fn status_field(status: &str, key: &str) -> Option<i64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` of `/proc/stat`: when the machine booted, in Unix seconds.
fn boot_time_seconds(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<i64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let reading = Reading::now();
        if let Some(seconds) = reading.cpu_seconds {
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(seconds).encode(metric)?;
        }
        if let Some(start) = reading.start_time_seconds {
            let metric = encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(start).encode(metric)?;
        }
        for (name, help, value) in [
            (
                "process_threads",
                "Number of OS threads in the process.",
                reading.threads,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                reading.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                reading.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                reading.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                reading.max_fds,
            ),
        ] {
            if let Some(value) = value {
                let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstGauge::new(value).encode(metric)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "4242 (apiome (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 50 0 0 20 0 9 0 123456 100000000 5000 18446744073709551615";
        let s = stat_fields(stat).unwrap();
        assert_eq!((s.utime, s.stime, s.start_ticks), (250, 50, 123456));
        assert!(stat_fields("garbage").is_none());
    }

    #[test]
    fn status_limits_and_boot_time_are_read_by_their_keys() {
        let status = "Name:\tapiome\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\nThreads:\t9\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(2048));
        assert_eq!(status_field(status, "Threads:"), Some(9));
        assert_eq!(status_field(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time_seconds("cpu 1 2 3\nbtime 1765000000\n"),
            Some(1.765e9)
        );
    }

    /// On Linux every figure is there and plausible for this very process.
    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read_whole() {
        let r = Reading::now();
        assert!(r.cpu_seconds.unwrap() >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = r.start_time_seconds.unwrap();
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started} vs {now}"
        );
        assert!(r.threads.unwrap() >= 1);
        assert!(r.resident_bytes.unwrap() > 0);
        assert!(r.virtual_bytes.unwrap() >= r.resident_bytes.unwrap());
        assert!(r.open_fds.unwrap() >= 3);
        assert!(r.max_fds.unwrap() >= r.open_fds.unwrap());
    }
}

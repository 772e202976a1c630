//! Structured logs with `tracing`, and spans to an OpenTelemetry collector
//! when one is configured; `RUST_LOG` chooses what is written and sent.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;
use crate::log_writer::{self, LogGuard};

/// What is logged when `RUST_LOG` is unset. sqlx would log every statement
/// at INFO, and statements can carry values: keep it at WARN.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// What logging and tracing hold until exit.
#[must_use = "dropping it stops the log writer; call `shutdown` to send the last spans"]
pub struct Telemetry {
    log: Option<LogGuard>,
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still batched (waiting for the runtime the exporter
    /// runs on: call it from outside that runtime, before it is dropped),
    /// then writes the last log lines.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces
            && let Err(error) = traces.shutdown()
        {
            tracing::warn!(%error, "the last spans were not exported");
        }
        drop(self.log);
    }
}

/// Installs the global subscriber, writing to stderr so that stdout stays
/// for command output (`apiome openapi`), and, with an `otlp` endpoint,
/// exporting spans there (see [`crate::traces`]) from `runtime`.
///
/// Lines reach stderr in batches, from a thread of their own (see
/// [`crate::log_writer`]), within 50 ms. Should the thread not start,
/// lines are written directly, as before.
///
/// # Errors
/// When the trace exporter cannot be built.
pub fn init(
    format: LogFormat,
    otlp: Option<&url::Url>,
    runtime: &tokio::runtime::Handle,
) -> Result<Telemetry, crate::traces::TracesError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::stderr().is_terminal();
    let batched = log_writer::spawn(
        std::io::stderr(),
        "apiome-log",
        log_writer::FLUSH_EVERY,
        log_writer::MAX_BUFFERED,
    );
    let (writer, guard) = match batched {
        Ok((writer, guard)) => (
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(move || writer.clone()),
            Some(guard),
        ),
        Err(error) => {
            eprintln!("apiome: logging without a writer thread: {error}");
            (
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
                None,
            )
        }
    };
    let traces = otlp
        .map(|endpoint| crate::traces::provider(endpoint, runtime.clone()))
        .transpose()?;
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(writer);
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let spans = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(crate::traces::tracer(provider))
    });
    // A second init (tests starting several servers) is harmless.
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .with(filter)
        .try_init();
    Ok(Telemetry { log: guard, traces })
}

/// Installs a subscriber for tests: output captured per test by the test
/// harness, warnings and errors only unless `RUST_LOG` says otherwise.
pub fn init_for_tests() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

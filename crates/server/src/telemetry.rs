//! Structured logs with `tracing`; `RUST_LOG` chooses what is written.

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` is unset. sqlx would log every statement
/// at INFO, and statements can carry values: keep it at WARN.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Lines the log writer may fall behind by before a request waits for it.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Installs the global subscriber, writing to stderr so that stdout stays
/// for command output (`apiome openapi`).
///
/// Lines go to stderr from a thread of their own, buffered and flushed
/// whenever the queue runs dry: a `write` per request line on the worker
/// that served it cost ~7 % of the server's CPU under load. No line is
/// dropped; a request waits only if the writer is 64 Ki lines behind. Keep
/// the returned guard until exit: dropping it writes what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("apiome-log")
        .finish(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    // A second init (tests starting several servers) is harmless.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    guard
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

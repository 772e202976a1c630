//! Structured logs with `tracing`; `RUST_LOG` chooses what is written.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::log_writer::{self, LogGuard};

/// What is logged when `RUST_LOG` is unset. sqlx would log every statement
/// at INFO, and statements can carry values: keep it at WARN.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber, writing to stderr so that stdout stays
/// for command output (`apiome openapi`).
///
/// Lines reach stderr in batches, from a thread of their own (see
/// [`crate::log_writer`]), within 50 ms. Keep the returned guard until
/// exit: dropping it writes the last lines. Should the thread not start,
/// lines are written directly, as before.
#[must_use = "dropping the guard writes the last lines and stops the log writer"]
pub fn init(format: LogFormat) -> Option<LogGuard> {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
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

//! The leaf hashes an inclusion proof needs, read on SQLite through plain
//! synchronous connections.
//!
//! A warm proof is one indexed read of a 64-leaf block plus ~40 µs of
//! hashing. Through sqlx that read cost ~200 µs of CPU: the statement goes
//! to the connection's worker thread and every row comes back through a
//! channel, with thread wake-ups both ways (the profile in
//! `docs/benchmarks.md`). The same read on a connection owned by the
//! calling thread costs tens of microseconds, so proofs read here, inline:
//! read-only connections in WAL mode never wait for the writer, and every
//! leaf a proof asks for is below a size already committed.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use sea_orm::DbErr;

use crate::StoreError;

/// Idle connections kept (one per concurrent proof beyond that is opened
/// and then closed).
const MAX_IDLE: usize = 8;

const LEAF_RANGE: &str = "SELECT idx, leaf_hash FROM ledger_entry WHERE idx >= ?1 AND idx < ?2";

/// Read-only connections to one SQLite file.
#[derive(Debug)]
pub(crate) struct LeafReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn database_error(error: rusqlite::Error) -> StoreError {
    StoreError::Database(DbErr::Custom(format!("reading leaf hashes: {error}")))
}

impl LeafReader {
    pub(crate) fn new(path: PathBuf) -> LeafReader {
        LeafReader {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(database_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(database_error)?;
        Ok(connection)
    }

    /// `(idx, leaf_hash)` of the entries in `[start, end)`.
    pub(crate) fn leaf_hashes(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        let rows = {
            let mut statement = connection
                .prepare_cached(LEAF_RANGE)
                .map_err(database_error)?;
            statement
                .query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(database_error)?
        };
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
        Ok(rows)
    }
}

//! A SQLite connection of one group writer's own.
//!
//! The disclosure writer commits one transaction per group of
//! `GET /v1/data` reads, and every read waits for it. Through sqlx each of
//! its ~9 statements went to the pool connection's worker thread and back,
//! two thread wake-ups per statement on a busy two-core machine, and that
//! was most of a commit's time: under load the server used one of its two
//! cores while reads waited on the commit. On a
//! connection the writer's thread owns, the same statements run inline.
//!
//! The connection is configured as the pool's are (WAL, `synchronous=FULL`,
//! foreign keys, the same busy timeout, checkpoints left to
//! [`crate::checkpoint`]), and it writes only in this
//! process's write turn ([`Store::write_turn`]), so the pool's writers and
//! this one still take turns first come, first served, and a transaction
//! starts with the write lock (`BEGIN IMMEDIATE`).

use std::path::Path;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use sea_orm::DbErr;

use crate::write_stats::GroupWrites;
use crate::{Store, StoreError};

/// Page cache of the writer's connection, in KiB: the pages an append
/// touches again and again (the right edges of the ledger's B-trees, the
/// upper levels of its person index) stay in memory. Default: 2 MiB; 8 MiB
/// was no faster than 4 and cost peak memory under `apiome-load bench`.
const CACHE_KIB: i64 = 4 * 1024;

pub(crate) fn database_error(what: &str, error: rusqlite::Error) -> StoreError {
    StoreError::Database(DbErr::Custom(format!("{what}: {error}")))
}

/// A read-write connection to the store's SQLite file.
pub(crate) struct SqliteWriter {
    connection: Connection,
}

impl SqliteWriter {
    /// Opens the (existing, migrated) database file for writing.
    pub(crate) fn open(path: &Path) -> Result<SqliteWriter, StoreError> {
        let open = || -> rusqlite::Result<Connection> {
            let connection = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            connection.busy_timeout(crate::connect::SQLITE_BUSY_TIMEOUT)?;
            connection.pragma_update(None, "synchronous", "FULL")?;
            connection.pragma_update(None, "foreign_keys", true)?;
            connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
            connection.pragma_update(None, "wal_autocheckpoint", 0)?;
            connection.pragma_update(None, "secure_delete", true)?;
            let journal: String =
                connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
            if !journal.eq_ignore_ascii_case("wal") {
                return Err(rusqlite::Error::InvalidParameterName(format!(
                    "the database is in {journal} mode, not WAL"
                )));
            }
            Ok(connection)
        };
        let connection = open().map_err(|e| database_error("opening a writer", e))?;
        Ok(SqliteWriter { connection })
    }

    /// Runs `write` in one `BEGIN IMMEDIATE` transaction in the store's
    /// write turn, and commits it when `write` succeeds (rolls it back
    /// otherwise); `timed` gets the time of each phase. Blocks its thread
    /// while SQLite works: for a thread of its own, not an async worker.
    pub(crate) async fn write<T>(
        &mut self,
        store: &Store,
        timed: &GroupWrites,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let asked = Instant::now();
        let _turn = store.write_turn().await?;
        let begun = Instant::now();
        timed.turn.observe(begun - asked);
        let txn = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| database_error("beginning a write", e))?;
        let value = write(&txn)?;
        let committing = Instant::now();
        timed.statements.observe(committing - begun);
        txn.commit()
            .map_err(|e| database_error("committing a write", e))?;
        timed.commit.observe(committing.elapsed());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_is_configured_as_the_pool_is() {
        let db = crate::testing::sqlite().await;
        let crate::DatabaseUrl::Sqlite(path) = &db.url else {
            unreachable!()
        };
        let writer = SqliteWriter::open(path).unwrap();
        let pragma = |name: &str| -> i64 {
            writer
                .connection
                .pragma_query_value(None, name, |row| row.get(0))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), 2, "FULL");
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("secure_delete"), 1);
        assert_eq!(pragma("busy_timeout"), 5000);
        assert_eq!(pragma("cache_size"), -CACHE_KIB);
        assert_eq!(pragma("wal_autocheckpoint"), 0, "see checkpoint.rs");
        db.cleanup().await;
    }

    #[tokio::test]
    async fn a_failed_write_rolls_back_and_a_missing_file_is_an_error() {
        let db = crate::testing::sqlite().await;
        let crate::DatabaseUrl::Sqlite(path) = &db.url else {
            unreachable!()
        };
        let mut writer = SqliteWriter::open(path).unwrap();
        let timed = GroupWrites::default();
        let result: Result<(), StoreError> = writer
            .write(&db.store, &timed, |txn| {
                txn.execute(
                    "INSERT INTO company (id, name, created_at) VALUES ('acme', 'Acme', '2026-01-01T00:00:00Z')",
                    [],
                )
                .map_err(|e| database_error("insert", e))?;
                Err(StoreError::corrupt("fails after the insert"))
            })
            .await;
        assert!(result.is_err());
        let companies = db
            .store
            .query_text("SELECT CAST(COUNT(*) AS TEXT) FROM company")
            .await
            .unwrap();
        assert_eq!(companies.as_deref(), Some("0"));
        let phases = |h: &crate::write_stats::Histogram| h.snapshot().count;
        assert_eq!(
            (
                phases(&timed.turn),
                phases(&timed.statements),
                phases(&timed.commit)
            ),
            (1, 0, 0),
            "it never got to commit"
        );
        // The pool writes next: the turn and the lock were both released.
        let (_turn, txn) = db.store.write_txn().await.unwrap();
        txn.commit().await.unwrap();
        assert!(SqliteWriter::open(&path.with_extension("missing")).is_err());
        db.cleanup().await;
    }
}

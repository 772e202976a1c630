//! Checkpoints of SQLite's write-ahead log, off the commit path.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the
//! log past 1,000 pages: that commit, and every read waiting on it, also
//! waits while the log is copied into the database file and both are
//! synced. Under `GET /v1/data` load that was every ~20th group commit.
//! Here every connection this store opens turns the automatic checkpoint
//! off, and a thread of the store's own runs a `PASSIVE` checkpoint every
//! [`INTERVAL`]: it copies what has been committed without blocking
//! writers or readers.
//!
//! A passive checkpoint cannot finish while commits keep arriving, and
//! SQLite only rewinds the log to its start once one has finished, so
//! under steady load the log would grow without bound. When the log holds
//! more than [`REWIND_FRAMES`] frames, the checkpointer therefore catches
//! up with a few passive passes, takes this process's write turn (see
//! [`crate::Store::write_txn`]), copies the few frames committed since its
//! last pass, and lets the next writer rewind the log. (A pass that copied everything without the turn is not
//! enough: under load a commit lands between it and the next writer's
//! start, and that writer cannot rewind; tried under load, the log grew to
//! 1 GB in a minute.) Durability is not touched: a commit is durable in the
//! log (`synchronous=FULL`) before anyone answers, checkpointed or not.
//!
//! The thread ends with the last clone of the store.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::write_stats::WriteStats;

/// How often the log is copied into the database.
const INTERVAL: Duration = Duration::from_millis(100);

/// A log longer than this many frames (64 MiB of 4 KiB pages) is brought
/// to its end in the write turn so that it can rewind. Every read of
/// `GET /v1/data` waits while the turn is held, so the fewer the better:
/// at 16 MiB a log under full load rewound five times a second, holding
/// the turn 4.4 ms each time (measured under `apiome-load bench`).
const REWIND_FRAMES: i64 = 16_384;

/// Before taking the turn, passive passes are repeated (at most this many
/// more) while they leave more than [`CATCH_UP_FRAMES`] frames behind:
/// what is left for the turn is what commits while the last one ran.
const CATCH_UP_PASSES: usize = 4;
const CATCH_UP_FRAMES: i64 = 256;

/// Held by every clone of a SQLite [`crate::Store`]; the checkpointer stops
/// when the last is dropped.
#[derive(Debug)]
pub(crate) struct Running;

/// What one pass found, from `PRAGMA wal_checkpoint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pass {
    /// Frames in the log.
    log: i64,
    /// Frames of it now in the database file.
    copied: i64,
}

/// Runs one passive checkpoint.
fn pass(connection: &Connection) -> rusqlite::Result<Pass> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Pass {
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(connection)
}

/// Starts the checkpointer of the database at `path`; it runs until every
/// clone of the returned handle is gone. `turn` is the store's write turn;
/// `stats` counts the passes.
pub(crate) fn start(
    path: PathBuf,
    turn: Arc<tokio::sync::Mutex<()>>,
    stats: Arc<WriteStats>,
) -> Arc<Running> {
    start_with(path, turn, stats, INTERVAL, REWIND_FRAMES)
}

fn start_with(
    path: PathBuf,
    turn: Arc<tokio::sync::Mutex<()>>,
    stats: Arc<WriteStats>,
    interval: Duration,
    rewind_frames: i64,
) -> Arc<Running> {
    let running = Arc::new(Running);
    let alive = Arc::downgrade(&running);
    let spawned = std::thread::Builder::new()
        .name("apiome-checkpoint".to_owned())
        .spawn(move || run(&path, &alive, &turn, &stats, interval, rewind_frames));
    if let Err(error) = spawned {
        tracing::error!(%error, "no thread for WAL checkpoints: the log grows until the server stops");
    }
    running
}

fn run(
    path: &Path,
    alive: &Weak<Running>,
    turn: &tokio::sync::Mutex<()>,
    stats: &WriteStats,
    interval: Duration,
    rewind_frames: i64,
) {
    let counts = &stats.checkpoints;
    let connection = match open(path) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "no connection for WAL checkpoints: the log grows until the server stops");
            return;
        }
    };
    let mut failing = false;
    loop {
        std::thread::sleep(interval);
        if alive.strong_count() == 0 {
            return;
        }
        counts.passes.fetch_add(1, Ordering::Relaxed);
        let result = pass(&connection).and_then(|mut done| {
            if done.log <= rewind_frames {
                return Ok(done);
            }
            for _ in 0..CATCH_UP_PASSES {
                if done.log - done.copied <= CATCH_UP_FRAMES {
                    break;
                }
                counts.passes.fetch_add(1, Ordering::Relaxed);
                done = pass(&connection)?;
            }
            // No writer of this process commits while the turn is held, so
            // this pass reaches the end of the log.
            let _turn = turn.blocking_lock();
            let held = Instant::now();
            counts.rewinds.fetch_add(1, Ordering::Relaxed);
            let done = pass(&connection);
            counts.rewind_turn.observe(held.elapsed());
            done
        });
        match result {
            Ok(_) => failing = false,
            // Logged once per run of failures, not every pass.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "WAL checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_bytes(path: &Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// With the automatic checkpoint off everywhere, commits that never
    /// pause would grow the log without end; the checkpointer keeps it
    /// rewinding. 32 MiB are committed here, the log stays under 4 MiB.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_rewinds_under_commits_that_never_pause() {
        let db = crate::testing::sqlite().await;
        let crate::DatabaseUrl::Sqlite(path) = db.url.clone() else {
            unreachable!()
        };
        let store = &db.store;
        use sea_orm::ConnectionTrait;
        let autocheckpoint: i64 = store
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA wal_autocheckpoint",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(autocheckpoint, 0, "off on the pool");
        store
            .execute_unprepared("CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB)")
            .await
            .unwrap();
        // A stricter checkpointer beside the store's own: rewind past 256
        // frames (1 MiB), checked every 5 ms.
        let running = start_with(
            path.clone(),
            store.write_turn.clone(),
            store.write_stats.clone(),
            Duration::from_millis(5),
            256,
        );
        let mut largest = 0;
        for i in 0..1024 {
            let (_turn, txn) = store.write_txn().await.unwrap();
            txn.execute_unprepared(&format!(
                "INSERT INTO filler (id, bytes) VALUES ({i}, zeroblob(32768))"
            ))
            .await
            .unwrap();
            txn.commit().await.unwrap();
            largest = largest.max(wal_bytes(&path));
        }
        assert!(
            largest < 4 << 20,
            "the log grew to {largest} bytes for 32 MiB committed"
        );
        let rows = store
            .query_text("SELECT CAST(COUNT(*) AS TEXT) FROM filler")
            .await
            .unwrap();
        assert_eq!(rows.as_deref(), Some("1024"));
        let counts = &store.write_stats().checkpoints;
        assert!(counts.rewinds.load(Ordering::Relaxed) > 0, "it did rewind");
        assert!(counts.rewind_turn.snapshot().count > 0);
        drop(running);
        db.cleanup().await;
    }

    /// Without a checkpointer the same commits grow the log: the test above
    /// could not pass by accident.
    #[tokio::test]
    async fn without_checkpoints_the_log_only_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bare.db");
        let connection = Connection::open(&path).unwrap();
        connection
            .pragma_update_and_check(None, "journal_mode", "wal", |_| Ok(()))
            .unwrap();
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .unwrap();
        connection
            .execute_batch("CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB)")
            .unwrap();
        for i in 0..256 {
            connection
                .execute(
                    "INSERT INTO filler (id, bytes) VALUES (?1, zeroblob(32768))",
                    [i],
                )
                .unwrap();
        }
        assert!(wal_bytes(&path) > 8 << 20, "{}", wal_bytes(&path));
        let done = pass(&connection).unwrap();
        assert_eq!(done.log, done.copied, "one quiet pass copies it all");
    }
}

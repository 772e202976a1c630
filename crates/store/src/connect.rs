//! Opening the database: SQLite under the data directory by default,
//! PostgreSQL when the operator gives a `postgres://` URL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::StoreError;
use crate::sealed::DataKeys;

/// SQLite allows one writer at a time; a few readers beside it is plenty.
const SQLITE_POOL_SIZE: u32 = 8;
/// Per server process; several processes share one PostgreSQL.
const POSTGRES_POOL_SIZE: u32 = 16;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a SQLite writer waits for the lock before giving up.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL server, e.g. `postgres://user@127.0.0.1:5432/apiome`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Reads a `DATABASE_URL`: `postgres://` or `postgresql://` for
    /// PostgreSQL, `sqlite://PATH` or `sqlite:PATH` for a SQLite file.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                format!(
                    "unsupported database URL {:?}: use postgres://USER@HOST:PORT/DB or sqlite://PATH",
                    redact(url)
                )
            })?;
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err("the sqlite:// URL names no file".to_owned());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// The URL for messages: any password replaced by `***`.
    pub fn display(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => redact(url),
        }
    }
}

/// Removes the password from `scheme://user:password@host/...`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Which database engine a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The repositories over one connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    /// Seal and open attribute values (see [`crate::sealed`]).
    pub(crate) keys: DataKeys,
    /// Immutable ledger hashes already read.
    pub(crate) ledger_cache: std::sync::Arc<crate::ledger::NodeCache>,
    /// Disclosure entries waiting to be committed together.
    pub(crate) disclosures: std::sync::Arc<crate::disclosure::DisclosureQueue>,
    /// Synchronous reads for the hot path: clients, revocations, grants,
    /// attributes and proof leaves (SQLite only; see [`crate::sqlite_reader`]).
    pub(crate) sqlite_reader: Option<std::sync::Arc<crate::sqlite_reader::SqliteReader>>,
    /// Whose turn it is to write (SQLite; see [`Store::write_txn`]).
    pub(crate) write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Requests waiting to be recorded together (SQLite; see
    /// [`crate::request_group`]).
    pub(crate) requests: std::sync::Arc<crate::request_group::RequestQueue>,
    /// Keeps the WAL checkpointer running (SQLite; see [`crate::checkpoint`]).
    pub(crate) checkpoints: Option<std::sync::Arc<crate::checkpoint::Running>>,
    /// How long the SQLite writers take (see [`crate::write_stats`]).
    pub(crate) write_stats: std::sync::Arc<crate::write_stats::WriteStats>,
    /// Client records already read (see [`crate::oauth::ClientCache`]).
    pub(crate) clients: std::sync::Arc<crate::oauth::ClientCache>,
    /// Revoked access tokens, in memory while this process holds the
    /// database alone (see [`crate::revoked`]).
    pub(crate) revoked: std::sync::Arc<crate::revoked::RevokedAccess>,
    /// Signs consent receipts, once the server installed its key (see
    /// [`crate::receipt`]).
    pub(crate) receipts: crate::receipt::ReceiptKeys,
}

/// A SQLite writer's turn at the database: held until its transaction ends.
/// `None` on PostgreSQL, which has row locks and many writers.
#[must_use = "the turn ends when this is dropped"]
pub(crate) struct WriteTurn(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

impl Store {
    /// Connects (creating a SQLite file with owner-only permissions if it
    /// is missing) and brings the schema up to date.
    pub async fn open(url: &DatabaseUrl, keys: DataKeys) -> Result<Store, StoreError> {
        let store = Self::connect(url, None, keys).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The same database with other data keys (a second process's view,
    /// e.g. a test checking what a server with its own keys wrote).
    pub fn with_data_keys(&self, keys: DataKeys) -> Store {
        Store {
            db: self.db.clone(),
            keys,
            ledger_cache: self.ledger_cache.clone(),
            disclosures: self.disclosures.clone(),
            sqlite_reader: self.sqlite_reader.clone(),
            write_turn: self.write_turn.clone(),
            requests: self.requests.clone(),
            checkpoints: self.checkpoints.clone(),
            write_stats: self.write_stats.clone(),
            clients: self.clients.clone(),
            revoked: self.revoked.clone(),
            receipts: self.receipts.clone(),
        }
    }

    /// The same store reading everything through the pool (tests compare
    /// the SQLite fast path with it).
    #[cfg(test)]
    pub(crate) fn without_sqlite_reader(&self) -> Store {
        Store {
            sqlite_reader: None,
            ..self.clone()
        }
    }

    /// The same database with a client cache of its own, as another
    /// process would see it.
    #[cfg(test)]
    pub(crate) fn without_client_cache(&self) -> Store {
        Store {
            clients: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    /// Connects without migrating. `schema` confines a PostgreSQL session to
    /// one schema (tests use one each).
    pub(crate) async fn connect(
        url: &DatabaseUrl,
        schema: Option<&str>,
        keys: DataKeys,
    ) -> Result<Store, StoreError> {
        let mut options = match url {
            DatabaseUrl::Sqlite(path) => {
                create_private_file(path)?;
                let mut options = ConnectOptions::new(format!("sqlite://{}", path.display()));
                options
                    .max_connections(SQLITE_POOL_SIZE)
                    .map_sqlx_sqlite_opts(|opts| {
                        opts.journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Full)
                            .foreign_keys(true)
                            .busy_timeout(SQLITE_BUSY_TIMEOUT)
                            // Checkpoints run off the commit path
                            // (`checkpoint.rs`).
                            .pragma("wal_autocheckpoint", "0")
                            // Deleted rows are overwritten, not left in
                            // free pages (an erased person's, above all).
                            .pragma("secure_delete", "on")
                    });
                options
            }
            DatabaseUrl::Postgres(url) => {
                let mut options = ConnectOptions::new(url.clone());
                options.max_connections(POSTGRES_POOL_SIZE);
                if let Some(schema) = schema {
                    options.set_schema_search_path(schema);
                }
                options
            }
        };
        options
            .min_connections(1)
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(CONNECT_TIMEOUT)
            .sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(|source| StoreError::Unreachable {
                target: url.display(),
                source,
            })?;
        let write_turn = std::sync::Arc::default();
        let write_stats = std::sync::Arc::default();
        Ok(Store {
            db,
            keys,
            ledger_cache: std::sync::Arc::default(),
            disclosures: std::sync::Arc::default(),
            sqlite_reader: match url {
                DatabaseUrl::Sqlite(path) => Some(std::sync::Arc::new(
                    crate::sqlite_reader::SqliteReader::new(path.clone()),
                )),
                DatabaseUrl::Postgres(_) => None,
            },
            checkpoints: match url {
                DatabaseUrl::Sqlite(path) => Some(crate::checkpoint::start(
                    path.clone(),
                    std::sync::Arc::clone(&write_turn),
                    std::sync::Arc::clone(&write_stats),
                )),
                DatabaseUrl::Postgres(_) => None,
            },
            write_turn,
            requests: std::sync::Arc::default(),
            write_stats,
            clients: std::sync::Arc::default(),
            revoked: std::sync::Arc::default(),
            receipts: crate::receipt::ReceiptKeys::default(),
        })
    }

    /// How long this process's SQLite writes have taken so far (all zero
    /// on PostgreSQL).
    pub fn write_stats(&self) -> &crate::write_stats::WriteStats {
        &self.write_stats
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migration)
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// The engine underneath.
    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Closes every pooled connection (used at shutdown so SQLite
    /// checkpoints its write-ahead log).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.close_by_ref().await.map_err(StoreError::from)
    }

    /// A read-only transaction that sees one snapshot of the database.
    pub(crate) async fn read_txn(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = match self.backend() {
            Backend::Postgres => TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                sqlite_transaction_mode: None,
            },
            // A SQLite read transaction is a snapshot already (WAL).
            Backend::Sqlite => TransactionOptions::default(),
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`) so that a read-then-write never fails half
    /// way with "database is locked"; on PostgreSQL, callers lock the rows
    /// they read.
    ///
    /// SQLite writers of this process also queue for their turn first,
    /// first come first served, and hold it until the transaction ends
    /// (bind the [`WriteTurn`] *before* the transaction, so it is dropped
    /// after it). Without the queue they met at `BEGIN IMMEDIATE`, and
    /// SQLite's busy handler let the losers sleep 1, 2, 5 ... 100 ms while
    /// others took the lock: async requests at 32 connections had a p99 of
    /// 279 ms for a 50 ms median. A writer that waits longer than the busy
    /// timeout gets the error SQLite would have given.
    pub(crate) async fn write_txn(&self) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        let turn = self.write_turn().await?;
        let options = match self.backend() {
            Backend::Postgres => TransactionOptions::default(),
            Backend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            },
        };
        Ok((turn, self.db.begin_with_options(options).await?))
    }

    /// This process's turn to write to SQLite (see [`Store::write_txn`]);
    /// on PostgreSQL, a turn that waits for nothing.
    pub(crate) async fn write_turn(&self) -> Result<WriteTurn, StoreError> {
        if self.backend() == Backend::Postgres {
            return Ok(WriteTurn(None));
        }
        let turn = tokio::time::timeout(SQLITE_BUSY_TIMEOUT, self.write_turn.clone().lock_owned())
            .await
            .map_err(|_| {
                StoreError::Database(sea_orm::DbErr::Custom(format!(
                    "database is locked: no turn to write within {SQLITE_BUSY_TIMEOUT:?}"
                )))
            })?;
        Ok(WriteTurn(Some(turn)))
    }

    /// Writes a consistent copy of a SQLite database to `to` while it
    /// serves (`VACUUM INTO`: one read transaction, so the copy is the
    /// database at one instant, every ledger entry with its change). The
    /// file must not exist. PostgreSQL backups are `pg_dump`'s job (see
    /// `apiome backup`).
    pub async fn backup_sqlite(&self, to: &Path) -> Result<(), StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::corrupt("backup_sqlite on a PostgreSQL store"));
        }
        let target = to
            .to_str()
            .ok_or_else(|| StoreError::corrupt(format!("{} is not a UTF-8 path", to.display())))?;
        let quoted = target.replace('\'', "''");
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
            .await?;
        Ok(())
    }

    /// Runs a raw statement. For tests and diagnostics only.
    #[doc(hidden)]
    pub async fn execute_unprepared(&self, sql: &str) -> Result<(), StoreError> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Reads one text value from a raw query. For tests and diagnostics only.
    #[doc(hidden)]
    pub async fn query_text(&self, sql: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await?;
        match row {
            Some(row) => Ok(Some(row.try_get_by_index::<String>(0)?)),
            None => Ok(None),
        }
    }
}

/// Creates the SQLite file readable and writable by its owner only, so that
/// the database's first bytes never exist with wider permissions.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::CreateFile {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_urls() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@127.0.0.1:5432/test"),
            Ok(DatabaseUrl::Postgres(
                "postgres://u@127.0.0.1:5432/test".into()
            ))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/apiome/apiome.db?mode=rwc"),
            Ok(DatabaseUrl::Sqlite("/var/lib/apiome/apiome.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/x.db"),
            Ok(DatabaseUrl::Sqlite("data/x.db".into()))
        );
        assert!(DatabaseUrl::parse("mysql://root@localhost/test").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[tokio::test]
    async fn sqlite_writers_take_turns_first_come_first_served() {
        let db = crate::testing::sqlite().await;
        let store = db.store.clone();
        let (first_turn, first) = store.write_txn().await.unwrap();
        let (order, mut finished) = tokio::sync::mpsc::unbounded_channel();
        let mut waiting = Vec::new();
        for writer in 0..8 {
            let (store, order) = (store.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let (_turn, txn) = store.write_txn().await.unwrap();
                order.send(writer).unwrap();
                txn.commit().await.unwrap();
            }));
            // Each queues before the next one asks.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Nobody writes while the first holds its turn, however long it takes
        // (longer than SQLite's shortest busy sleeps).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(finished.try_recv().is_err());
        first.commit().await.unwrap();
        drop(first_turn);
        for writer in waiting {
            writer.await.unwrap();
        }
        drop(order);
        let mut seen = Vec::new();
        while let Some(writer) = finished.recv().await {
            seen.push(writer);
        }
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        db.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_foreign_keys_enforced() {
        let db = crate::testing::sqlite().await;
        let journal = db.store.query_text("PRAGMA journal_mode").await.unwrap();
        assert_eq!(journal.as_deref(), Some("wal"));
        let fk = db
            .store
            .query_text("SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys")
            .await
            .unwrap();
        assert_eq!(fk.as_deref(), Some("1"));
        let orphan = "INSERT INTO attribute (person_id, key, value, bucket, updated_at) \
                      VALUES ('nobody', 'email', '\"a@b.c\"', 'public', CURRENT_TIMESTAMP)";
        assert!(db.store.execute_unprepared(orphan).await.is_err());
        db.cleanup().await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_sqlite_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let db = crate::testing::sqlite().await;
        db.store
            .execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let DatabaseUrl::Sqlite(path) = &db.url else {
            unreachable!()
        };
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        db.cleanup().await;
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/apiome").unwrap();
        assert_eq!(url.display(), "postgres://app:***@db:5432/apiome");
        let err = DatabaseUrl::parse("mysql://root:hunter2@db/x").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}

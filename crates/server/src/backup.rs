//! `apiome backup` and `apiome restore`.
//!
//! A backup is the database at one instant — every ledger entry with the
//! change it records, so a restored server's log verifies — taken while the
//! server keeps serving: SQLite's `VACUUM INTO` (one read transaction) or
//! `pg_dump` (one repeatable-read snapshot). The keys are not in it: the data
//! keys, the ledger key and the OAuth keys live in `DATA_DIR/keys/` (or
//! `APIOME_MASTER_KEY`) and are backed up apart, so a stolen backup is
//! sealed values and public hashes only.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use store::{DatabaseUrl, Store};

/// A backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists; a backup never overwrites.
    #[error("{} exists; choose a new file (a backup never overwrites)", .0.display())]
    Exists(PathBuf),
    /// The source is missing.
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    /// Restoring over a database that exists needs `--force`.
    #[error("{} exists; stop every apiome serve and pass --force to replace it", .0.display())]
    WouldReplace(PathBuf),
    /// The file is not a SQLite database.
    #[error("{} is not a SQLite database", .0.display())]
    NotSqlite(PathBuf),
    /// `pg_dump` or `pg_restore` failed or is missing.
    #[error("{tool} failed: {message} (install the PostgreSQL client tools)")]
    Tool {
        /// The program.
        tool: &'static str,
        /// What it said.
        message: String,
    },
    /// File system.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// What was written or restored.
#[derive(Debug, Serialize)]
pub struct BackupReport {
    /// The backup file.
    pub file: PathBuf,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// A reminder that matters.
    pub keys: &'static str,
}

const KEYS_NOTE: &str = "not included: back up DATA_DIR/keys/ (or APIOME_MASTER_KEY) separately; without the data key no attribute value can be read";

fn size_of(path: &Path) -> Result<u64, BackupError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| BackupError::Io {
            path: path.to_owned(),
            source,
        })
}

/// The schema a test URL confines PostgreSQL to (`options=-c search_path=S`).
fn schema_of(url: &str) -> Option<String> {
    let decoded = url
        .replace("%20", " ")
        .replace("%3D", "=")
        .replace("%3d", "=");
    let at = decoded.find("search_path=")? + "search_path=".len();
    let rest = &decoded[at..];
    let end = rest.find(['&', ' ', ',']).unwrap_or(rest.len());
    Some(rest[..end].to_owned()).filter(|s| !s.is_empty())
}

/// The URL without query parameters (libpq tools accept it as is, but the
/// test-only `options` would be sent as a server option).
fn base_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn run(tool: &'static str, command: &mut Command) -> Result<(), BackupError> {
    let output = command.output().map_err(|e| BackupError::Tool {
        tool,
        message: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool {
            tool,
            message: String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or("no message")
                .to_owned(),
        })
    }
}

/// Writes a consistent copy of the database to `to` (which must not exist).
///
/// # Errors
/// `to` exists, the database refuses, or `pg_dump` fails.
pub async fn backup(
    store: &Store,
    url: &DatabaseUrl,
    to: &Path,
) -> Result<BackupReport, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let database = match url {
        DatabaseUrl::Sqlite(_) => {
            store.backup_sqlite(to).await?;
            "sqlite"
        }
        DatabaseUrl::Postgres(url) => {
            let mut command = Command::new("pg_dump");
            command
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(to)
                .arg(base_url(url));
            if let Some(schema) = schema_of(url) {
                command.arg(format!("--schema={schema}"));
            }
            tokio::task::spawn_blocking(move || run("pg_dump", &mut command))
                .await
                .map_err(|e| BackupError::Tool {
                    tool: "pg_dump",
                    message: e.to_string(),
                })??;
            "postgres"
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
            BackupError::Io {
                path: to.to_owned(),
                source,
            }
        })?;
    }
    Ok(BackupReport {
        file: to.to_owned(),
        database,
        bytes: size_of(to)?,
        keys: KEYS_NOTE,
    })
}

/// Puts a backup back, with every server stopped.
///
/// # Errors
/// A missing or foreign file, an existing SQLite database without `force`,
/// or `pg_restore` failing.
pub fn restore(url: &DatabaseUrl, from: &Path, force: bool) -> Result<BackupReport, BackupError> {
    if !from.exists() {
        return Err(BackupError::Missing(from.to_owned()));
    }
    let database = match url {
        DatabaseUrl::Sqlite(target) => {
            let mut magic = [0u8; 16];
            let header = std::fs::File::open(from)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .map_err(|source| BackupError::Io {
                    path: from.to_owned(),
                    source,
                });
            if header.is_err() || &magic != b"SQLite format 3\0" {
                return Err(BackupError::NotSqlite(from.to_owned()));
            }
            if target.exists() && !force {
                return Err(BackupError::WouldReplace(target.clone()));
            }
            // A server on the file would keep writing to the one replaced.
            let _lock = store::DatabaseLock::acquire(target)?;
            // Copy beside, then rename over: the old database stays whole
            // until the new one is complete; stale WAL files go with it.
            let staging = target.with_extension("db.restoring");
            std::fs::copy(from, &staging).map_err(|source| BackupError::Io {
                path: staging.clone(),
                source,
            })?;
            for suffix in ["-wal", "-shm"] {
                let mut side = target.clone().into_os_string();
                side.push(suffix);
                std::fs::remove_file(PathBuf::from(side)).ok();
            }
            std::fs::rename(&staging, target).map_err(|source| BackupError::Io {
                path: target.clone(),
                source,
            })?;
            "sqlite"
        }
        DatabaseUrl::Postgres(url) => {
            let mut command = Command::new("pg_restore");
            command
                .args([
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--dbname",
                ])
                .arg(base_url(url))
                .arg(from);
            run("pg_restore", &mut command)?;
            "postgres"
        }
    };
    Ok(BackupReport {
        file: from.to_owned(),
        database,
        bytes: size_of(from)?,
        keys: KEYS_NOTE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_schema_is_found_in_a_url() {
        assert_eq!(
            schema_of("postgres://p@h:5432/test?options=-c%20search_path%3Dt_ab12").as_deref(),
            Some("t_ab12")
        );
        assert_eq!(schema_of("postgres://p@h:5432/apiome"), None);
        assert_eq!(
            base_url("postgres://p@h/test?options=x"),
            "postgres://p@h/test"
        );
    }
}

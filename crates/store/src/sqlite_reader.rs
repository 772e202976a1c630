//! The reads on a company's hot path, on SQLite, through plain synchronous
//! connections.
//!
//! Through sqlx, one indexed read of a row costs ~100–200 µs of CPU however
//! cheap its SQL: the statement goes to the connection's worker thread and
//! every row comes back through a channel, with thread wake-ups both ways
//! (the profiles in `docs/benchmarks.md`). The same read on a connection
//! owned by the calling thread costs a few microseconds. So the reads every
//! company call makes — its client record, a token's revocation, a grant,
//! a person's attributes — and the leaf hashes of a proof are read here,
//! inline, on read-only connections linking the same libsqlite3 as sqlx.
//!
//! Read-only connections in WAL mode never wait for the writer, and each
//! statement outside a transaction reads the latest commit: a revocation
//! committed by any connection or process is seen by the next read, as on
//! the pool. Rows come back as the same entity models the pool returns, so
//! one conversion serves both paths, and tests compare the two.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use sea_orm::DbErr;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::StoreError;
use crate::entity::{attribute, grant, oauth_client};

/// Idle connections kept (one per concurrent read beyond that is opened
/// and then closed).
const MAX_IDLE: usize = 8;

const LEAF_RANGE: &str = "SELECT idx, leaf_hash FROM ledger_entry WHERE idx >= ?1 AND idx < ?2";
const CLIENT: &str = "SELECT client_id, kind, record, created_at, status, revision, \
     tokens_after FROM oauth_client WHERE client_id = ?1";
const CLIENT_STATE: &str =
    "SELECT status, revision, tokens_after FROM oauth_client WHERE client_id = ?1";
const REVOKED_ACCESS: &str = "SELECT 1 FROM oauth_revoked_access WHERE jti = ?1";
const GRANT: &str = "SELECT id, request_id, person_id, company_id, attributes, purpose, \
     duration, price, created_at, expires_at, revoked_at, expiry_recorded_at \
     FROM data_grant WHERE id = ?1";
const PERSON_POLICY: &str = "SELECT sharing_default, max_duration, policy_version, \
     suspended_at IS NOT NULL, person_key.sealed FROM person \
     LEFT JOIN person_key ON person_key.person_id = person.id WHERE person.id = ?1";
const PERSON_KEY: &str = "SELECT sealed FROM person_key WHERE person_id = ?1";
const RULE_BODIES: &str = "SELECT body FROM rule WHERE person_id = ?1 ORDER BY position";
const BLOCKED: &str = "SELECT company_id FROM blocked_company WHERE person_id = ?1";
const ATTRIBUTES: &str = "SELECT person_id, key, value, bucket, updated_at FROM attribute \
     WHERE person_id = ?1 ORDER BY key";

/// Read-only connections to one SQLite file.
#[derive(Debug)]
pub(crate) struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn database_error(what: &str, error: rusqlite::Error) -> StoreError {
    StoreError::Database(DbErr::Custom(format!("reading {what}: {error}")))
}

/// A timestamp with an offset, as other writers than sqlx leave it.
const WITH_OFFSET: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [ ][T]][hour]:[minute]:[second][optional [.[subsecond]]][optional [ ]][offset_hour sign:mandatory]:[offset_minute]"
);
/// A timestamp without one (SQLite's `CURRENT_TIMESTAMP`), read as UTC.
const WITHOUT_OFFSET: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day][first [ ][T]][hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// Reads a timestamp as sqlx does: RFC 3339 text (what sqlx writes), the
/// other text forms sqlx accepts, or Unix seconds.
pub(crate) fn parse_timestamp(value: rusqlite::types::ValueRef<'_>) -> Option<OffsetDateTime> {
    match value {
        rusqlite::types::ValueRef::Text(bytes) => {
            let text = std::str::from_utf8(bytes).ok()?;
            OffsetDateTime::parse(text, &Rfc3339)
                .or_else(|_| OffsetDateTime::parse(text, WITH_OFFSET))
                .or_else(|_| PrimitiveDateTime::parse(text, WITHOUT_OFFSET).map(|t| t.assume_utc()))
                .ok()
        }
        rusqlite::types::ValueRef::Integer(seconds) => {
            OffsetDateTime::from_unix_timestamp(seconds).ok()
        }
        _ => None,
    }
}

/// A timestamp column.
fn timestamp(row: &Row<'_>, column: usize) -> rusqlite::Result<OffsetDateTime> {
    let value = row.get_ref(column)?;
    parse_timestamp(value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            value.data_type(),
            format!("not a timestamp: {value:?}").into(),
        )
    })
}

fn optional_timestamp(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    match row.get_ref(column)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => timestamp(row, column).map(Some),
    }
}

impl SqliteReader {
    pub(crate) fn new(path: PathBuf) -> SqliteReader {
        SqliteReader {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(connection)
    }

    /// Runs `read` on an idle connection (or a new one), then keeps the
    /// connection for the next read.
    fn read<T>(
        &self,
        what: &str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => self.open().map_err(|e| database_error(what, e))?,
        };
        let result = read(&connection).map_err(|e| database_error(what, e));
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
        result
    }

    /// `(idx, leaf_hash)` of the entries in `[start, end)`.
    pub(crate) fn leaf_hashes(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        self.read("leaf hashes", |connection| {
            connection
                .prepare_cached(LEAF_RANGE)?
                .query_map([start, end], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
    }

    /// The client's row, if it is registered.
    pub(crate) fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<oauth_client::Model>, StoreError> {
        self.read("a client", |connection| {
            connection
                .prepare_cached(CLIENT)?
                .query_row([client_id], |row| {
                    Ok(oauth_client::Model {
                        client_id: row.get(0)?,
                        kind: row.get(1)?,
                        record: row.get(2)?,
                        created_at: timestamp(row, 3)?,
                        status: row.get(4)?,
                        revision: row.get(5)?,
                        tokens_after: row.get(6)?,
                    })
                })
                .optional()
        })
    }

    /// The client's status, revision and token cut-off, if it is registered.
    pub(crate) fn client_state(
        &self,
        client_id: &str,
    ) -> Result<Option<crate::oauth::ClientState>, StoreError> {
        let row: Option<(String, i64, i64)> = self.read("a client's state", |connection| {
            connection
                .prepare_cached(CLIENT_STATE)?
                .query_row([client_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
        })?;
        row.map(|(status, revision, tokens_after)| {
            crate::oauth::ClientState::from_columns(&status, revision, tokens_after)
        })
        .transpose()
    }

    /// Whether the access token `jti` is on the deny list.
    pub(crate) fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.read("revoked access tokens", |connection| {
            connection
                .prepare_cached(REVOKED_ACCESS)?
                .query_row([jti], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
        })
    }

    /// The grant's row, if it exists.
    pub(crate) fn grant(&self, grant_id: &str) -> Result<Option<grant::Model>, StoreError> {
        self.read("a grant", |connection| {
            connection
                .prepare_cached(GRANT)?
                .query_row([grant_id], |row| {
                    Ok(grant::Model {
                        id: row.get(0)?,
                        request_id: row.get(1)?,
                        person_id: row.get(2)?,
                        company_id: row.get(3)?,
                        attributes: row.get(4)?,
                        purpose: row.get(5)?,
                        duration: row.get(6)?,
                        price: row.get(7)?,
                        created_at: timestamp(row, 8)?,
                        expires_at: timestamp(row, 9)?,
                        revoked_at: optional_timestamp(row, 10)?,
                        expiry_recorded_at: optional_timestamp(row, 11)?,
                    })
                })
                .optional()
        })
    }

    /// The person's attribute rows, by key (values still sealed).
    /// The person's sealed key, if any, and their attribute rows, read
    /// in one transaction.
    pub(crate) fn attributes(
        &self,
        person_id: &str,
    ) -> Result<(Option<String>, Vec<attribute::Model>), StoreError> {
        self.read("attributes", |connection| {
            let txn = connection.unchecked_transaction()?;
            let key = txn
                .prepare_cached(PERSON_KEY)?
                .query_row([person_id], |row| row.get(0))
                .optional()?;
            let rows = attribute_rows(&txn, person_id)?;
            txn.commit()?;
            Ok((key, rows))
        })
    }

    /// The rows of a [`crate::PolicySnapshot`], read in one transaction,
    /// or `None` for an unknown person.
    pub(crate) fn snapshot(
        &self,
        person_id: &str,
    ) -> Result<Option<crate::snapshot::SnapshotRows>, StoreError> {
        self.read("a policy snapshot", |connection| {
            let txn = connection.unchecked_transaction()?;
            let person = txn
                .prepare_cached(PERSON_POLICY)?
                .query_row([person_id], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .optional()?;
            let Some((sharing_default, max_duration, policy_version, suspended, data_key)) = person
            else {
                return Ok(None);
            };
            let attributes = attribute_rows(&txn, person_id)?;
            let rules = txn
                .prepare_cached(RULE_BODIES)?
                .query_map([person_id], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let blocked = txn
                .prepare_cached(BLOCKED)?
                .query_map([person_id], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            txn.commit()?;
            Ok(Some(crate::snapshot::SnapshotRows {
                data_key,
                sharing_default,
                max_duration,
                policy_version,
                suspended,
                attributes,
                rules,
                blocked,
            }))
        })
    }
}

fn attribute_rows(
    connection: &Connection,
    person_id: &str,
) -> rusqlite::Result<Vec<attribute::Model>> {
    connection
        .prepare_cached(ATTRIBUTES)?
        .query_map([person_id], |row| {
            Ok(attribute::Model {
                person_id: row.get(0)?,
                key: row.get(1)?,
                value: row.get(2)?,
                bucket: row.get(3)?,
                updated_at: timestamp(row, 4)?,
            })
        })?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::ValueRef;
    use time::macros::datetime;

    #[test]
    fn timestamps_read_in_every_form_sqlx_reads() {
        let at = |text: &str| parse_timestamp(ValueRef::Text(text.as_bytes()));
        for (text, expected) in [
            (
                "2026-12-01T20:30:00.25Z",
                datetime!(2026-12-01 20:30:00.25 UTC),
            ),
            (
                "2026-12-01T21:30:00+01:00",
                datetime!(2026-12-01 20:30:00 UTC),
            ),
            (
                "2026-12-01 20:30:00.5 +00:00",
                datetime!(2026-12-01 20:30:00.5 UTC),
            ),
            ("2026-12-01 20:30:00", datetime!(2026-12-01 20:30:00 UTC)),
            ("2026-12-01T20:30:00", datetime!(2026-12-01 20:30:00 UTC)),
        ] {
            assert_eq!(at(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse_timestamp(ValueRef::Integer(1_796_157_000)),
            Some(datetime!(2026-12-01 20:30:00 UTC))
        );
        for bad in ["", "yesterday", "2026-13-01 00:00:00", "2026-12-01"] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp(ValueRef::Null), None);
        assert_eq!(parse_timestamp(ValueRef::Real(1.5)), None);
    }
}

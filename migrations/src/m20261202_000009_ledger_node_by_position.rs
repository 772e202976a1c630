//! `ledger_node` keyed by when each subtree is completed, so an append
//! writes its new nodes at the end of one B-tree.
//!
//! The table was keyed by `(level, idx)`. Sorted that way, the nodes one
//! group of appends completes (one per level, up to ~20 levels at a million
//! leaves) land on ~20 different pages of the key's B-tree, and every
//! commit rewrote all of them: a profile of `GET /v1/data` counted
//! ~105 page writes per commit (`docs/benchmarks.md`). On SQLite the table
//! was also two B-trees, the rowid table and the automatic index on the
//! key.
//!
//! `position = (last_leaf << 6) + level`, where `last_leaf = ((idx + 1) <<
//! level) - 1` is the leaf whose append completes the subtree. It grows
//! with every append, so new rows always go to the right edge; on SQLite it
//! is the rowid itself (`INTEGER PRIMARY KEY`), one B-tree. `level` and
//! `idx` stay as columns (what a reader of the table, or an auditor's
//! script, looks at), tied to `position` by a CHECK. Six bits hold any
//! level of a tree below 2^57 leaves, the bound the store enforces.
//!
//! The proof cache warms from the levels at and above 6; a partial index
//! on them keeps that a read of ~3 % of the rows, not a scan.
//!
//! The copy runs in one transaction (SQLite too), so a crash leaves the old
//! table or the new one, never neither.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `position` from `level` and `idx`, in SQL both backends read the same.
const POSITION: &str = "((((idx + 1) << level) - 1) * 64 + level)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let key = match manager.get_database_backend() {
            // Exactly `INTEGER PRIMARY KEY`: the rowid, not an index beside it.
            DbBackend::Sqlite => "position INTEGER PRIMARY KEY",
            _ => "position BIGINT PRIMARY KEY",
        };
        let blob = blob_type(manager);
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE ledger_node_by_position ( \
                 {key}, \
                 level INTEGER NOT NULL CHECK (level >= 1 AND level < 64), \
                 idx BIGINT NOT NULL CHECK (idx >= 0), \
                 hash {blob} NOT NULL, \
                 CHECK (position = {POSITION}) \
             )"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO ledger_node_by_position (position, level, idx, hash) \
             SELECT {POSITION}, level, idx, hash FROM ledger_node ORDER BY 1"
        ))
        .await?;
        db.execute_unprepared("DROP TABLE ledger_node").await?;
        db.execute_unprepared("ALTER TABLE ledger_node_by_position RENAME TO ledger_node")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_ledger_node_upper ON ledger_node (level, idx) WHERE level >= 6",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let blob = blob_type(manager);
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE ledger_node_by_level ( \
                 level INTEGER NOT NULL CHECK (level >= 1), \
                 idx BIGINT NOT NULL, \
                 hash {blob} NOT NULL, \
                 PRIMARY KEY (level, idx) \
             )"
        ))
        .await?;
        db.execute_unprepared(
            "INSERT INTO ledger_node_by_level (level, idx, hash) \
             SELECT level, idx, hash FROM ledger_node",
        )
        .await?;
        db.execute_unprepared("DROP TABLE ledger_node").await?;
        db.execute_unprepared("ALTER TABLE ledger_node_by_level RENAME TO ledger_node")
            .await?;
        Ok(())
    }
}

/// The byte-string type: PostgreSQL has no `BLOB`.
fn blob_type(manager: &SchemaManager) -> &'static str {
    match manager.get_database_backend() {
        DbBackend::Postgres => "BYTEA",
        _ => "BLOB",
    }
}

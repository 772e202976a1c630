//! `idempotency_key`: a company's `Idempotency-Key`s and the first answer
//! each got, so a retried `POST /v1/requests` or `POST /oauth/par` replays
//! that answer instead of acting twice.
//!
//! The primary key `(company_id, idem_key)` is the claim: the first of two
//! concurrent requests with one key inserts the row, the other's insert
//! finds it. `status`, `content_type`, `location` and `body` stay NULL
//! while the first request runs. Rows older than 24 hours are pruned (index
//! on `created_at`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let blob = match manager.get_database_backend() {
            DbBackend::Postgres => "BYTEA",
            _ => "BLOB",
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "CREATE TABLE idempotency_key ( \
                 company_id TEXT NOT NULL, \
                 idem_key TEXT NOT NULL, \
                 fingerprint TEXT NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 status INTEGER NULL, \
                 content_type TEXT NULL, \
                 location TEXT NULL, \
                 body {blob} NULL, \
                 PRIMARY KEY (company_id, idem_key) \
             )"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idempotency_key_created_at ON idempotency_key (created_at)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE idempotency_key")
            .await?;
        Ok(())
    }
}

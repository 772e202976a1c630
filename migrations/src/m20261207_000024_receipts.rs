//! Consent receipts (issue #21, point 4).
//!
//! - `consent_receipt`: one row per signed receipt, written in the
//!   transaction of the grant, renewal or revocation it records. `jws` is
//!   the compact JWS exactly as signed (its claims are read back from it,
//!   never kept twice); `sha256` is the hex hash that the grant's ledger
//!   entry carries, and `ledger_idx` that entry's index, filled by the
//!   append in the same transaction. Times are unix seconds.
//! - `company.contact`: how a person reaches the company about their data
//!   (an address or URL); the receipt names the company as controller with it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE TABLE consent_receipt ( \
                 id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 grant_id VARCHAR(36) NOT NULL, \
                 person_id VARCHAR(36) NOT NULL \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 company_id VARCHAR(256) NOT NULL, \
                 event VARCHAR(16) NOT NULL, \
                 jws TEXT NOT NULL, \
                 sha256 VARCHAR(64) NOT NULL UNIQUE, \
                 ledger_idx BIGINT NULL, \
                 created_at BIGINT NOT NULL \
             )",
            "CREATE INDEX consent_receipt_person ON consent_receipt (person_id, created_at, id)",
            "CREATE INDEX consent_receipt_grant ON consent_receipt (grant_id, created_at, id)",
            "ALTER TABLE company ADD COLUMN contact VARCHAR(254) NULL",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE company DROP COLUMN contact")
            .await?;
        db.execute_unprepared("DROP TABLE consent_receipt").await?;
        Ok(())
    }
}

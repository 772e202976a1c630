//! `webhook_secret`: each company's webhook signing secrets, random and
//! sealed at rest with the data key (as attribute values are), so a copy
//! of the database cannot forge a webhook call.
//!
//! A company has one current secret (`signs_until` NULL) and, for 24 hours
//! after a rotation, the one it replaced (`signs_until` set): both sign
//! every call meanwhile, so a receiver can switch without missing one.
//! Secrets live apart from `company_webhook`, so removing the URL does not
//! leave queued deliveries unsigned.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE webhook_secret ( \
                 id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 company_id VARCHAR(128) NOT NULL \
                     REFERENCES company (id) ON DELETE CASCADE, \
                 sealed TEXT NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 signs_until BIGINT NULL \
             )",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX webhook_secret_company ON webhook_secret (company_id, created_at)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE webhook_secret")
            .await?;
        Ok(())
    }
}

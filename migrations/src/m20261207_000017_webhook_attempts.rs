//! `webhook_attempt`: the delivery log. One row per call made for a
//! webhook delivery, with the status the receiver answered (none when the
//! connection failed) and how long the call took, so a company can see why
//! its endpoint misses events; kept as long as the delivery.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE webhook_attempt ( \
                 delivery_id VARCHAR(36) NOT NULL \
                     REFERENCES webhook_delivery (id) ON DELETE CASCADE, \
                 attempt INTEGER NOT NULL, \
                 at_unix_ms BIGINT NOT NULL, \
                 status INTEGER NULL, \
                 latency_ms INTEGER NOT NULL, \
                 error TEXT NULL, \
                 PRIMARY KEY (delivery_id, attempt) \
             )",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE webhook_attempt")
            .await?;
        Ok(())
    }
}

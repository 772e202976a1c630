//! `data_request.counter`: the price a person named for a request with an
//! offer ("I would share this for X", issue #21), as JSON
//! `{"price": {"amount_micros", "currency", "display"}, "attributes"}`.
//! A waiting request with a counter is countered (it waits for the
//! company); `status` stays `pending`, whose CHECK constraint SQLite could
//! only change by rebuilding the table and its foreign keys. Nothing is reserved
//! for it until the company accepts: then the offer is voided and the
//! counter reserved and paid, in the transaction that grants.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE data_request ADD COLUMN counter TEXT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE data_request DROP COLUMN counter")
            .await?;
        Ok(())
    }
}

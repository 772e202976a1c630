//! The sandbox (`apiome company create --sandbox`).
//!
//! - `company.sandbox`: true for a sandbox company, which reaches only
//!   synthetic people and offers only `XTS`; false for every company that
//!   existed before (all real).
//! - `person.sandbox_of`: the sandbox company a synthetic person was made
//!   for, NULL for every real person. A synthetic person's `handle` is
//!   `sandbox-<rule>~<digest of the company id>`: unique per company, and
//!   never a handle a real person can hold (real handles have no `-`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "ALTER TABLE company ADD COLUMN sandbox BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE person ADD COLUMN sandbox_of VARCHAR(128) NULL",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "ALTER TABLE person DROP COLUMN sandbox_of",
            "ALTER TABLE company DROP COLUMN sandbox",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}

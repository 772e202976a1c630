//! The operator's hold on clients and people.
//!
//! - `oauth_client.status`: `active`, `disabled` (until enabled),
//!   `deleted` (a company, for good) or `revoked` (an auditor, for good).
//!   Only an `active` client gets a token or has one honoured.
//! - `oauth_client.revision`: bumped by every change to the row (status,
//!   secret). Each process caches parsed client records; it reads this
//!   one integer by primary key on every use and reloads the record when
//!   it moved, so a change made by the CLI or another server is seen by
//!   the next request, everywhere.
//! - `oauth_client.tokens_after`: Unix seconds; an access token issued at
//!   or before it is dead. A disable sets it, so enabling again does not
//!   bring back tokens issued before the disable.
//! - `person.suspended_at`: Unix seconds, NULL when not suspended. Read in
//!   the same row as the person's policy, so a company's read sees it
//!   without another query.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "ALTER TABLE oauth_client ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'active'",
            "ALTER TABLE oauth_client ADD COLUMN revision BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE oauth_client ADD COLUMN tokens_after BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE person ADD COLUMN suspended_at BIGINT NULL",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "ALTER TABLE person DROP COLUMN suspended_at",
            "ALTER TABLE oauth_client DROP COLUMN tokens_after",
            "ALTER TABLE oauth_client DROP COLUMN revision",
            "ALTER TABLE oauth_client DROP COLUMN status",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}

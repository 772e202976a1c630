//! `server_secret`: secrets every server sharing the database must hold
//! alike, sealed at rest with the data key, so that a rotation on one host
//! reaches the others through the database instead of copied files. The
//! first is the OAuth access-token signing key set (`oauth_signing_keys`).
//!
//! `version` goes up by one on every change: a server polls it cheaply and
//! re-reads the row only when it moved, and a writer changes the row only
//! at the version it read (compare and set), so two rotations at once do
//! not lose a key.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE server_secret ( \
                     name VARCHAR(64) NOT NULL PRIMARY KEY, \
                     sealed TEXT NOT NULL, \
                     version BIGINT NOT NULL, \
                     updated_at BIGINT NOT NULL \
                 )",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE server_secret")
            .await?;
        Ok(())
    }
}

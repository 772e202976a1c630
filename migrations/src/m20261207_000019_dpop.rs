//! `oauth_dpop_jti`: the DPoP replay cache (RFC 9449 §11.1). One row per
//! proof accepted, keyed by the key's thumbprint and the proof's `jti`, so
//! that of two servers sharing one database only one accepts a proof;
//! kept until the proof's `iat` is too old for it to be accepted anyway,
//! then purged by `expires_at`.
//!
//! A client's `dpop_bound_access_tokens` needs no column: it is part of
//! the client record (`oauth_client.record`, JSON), read with it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE oauth_dpop_jti ( \
                 jkt VARCHAR(64) NOT NULL, \
                 jti VARCHAR(256) NOT NULL, \
                 expires_at BIGINT NOT NULL, \
                 PRIMARY KEY (jkt, jti) \
             )",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX oauth_dpop_jti_expires_at ON oauth_dpop_jti (expires_at)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE oauth_dpop_jti")
            .await?;
        Ok(())
    }
}

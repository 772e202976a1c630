//! `ciba_request.openid`: whether the backchannel request's `scope` held
//! `openid`, so that its tokens come with an ID token (OpenID CIBA Core
//! §10.1.1) — rows written before it asked for none.
//!
//! Refresh tokens need no column: whether a refresh family began with a
//! sign-in is part of its record (`oauth_refresh_token.record`, JSON).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE ciba_request ADD COLUMN openid BOOLEAN NOT NULL DEFAULT FALSE",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE ciba_request DROP COLUMN openid")
            .await?;
        Ok(())
    }
}

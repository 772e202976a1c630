//! `session.amr`: how the person signed in (RFC 8176 method references,
//! space-separated, e.g. `hwk user` for a passkey, `otp pwd` for a
//! password and a recovery code), for the `amr` and `acr` of OpenID
//! Connect ID tokens. Sessions made before this column say nothing
//! (`NULL`): their ID tokens carry no `amr`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Session::Table)
                    .add_column(string_null(Session::Amr))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Session::Table)
                    .drop_column(Session::Amr)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Amr,
}

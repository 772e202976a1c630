//! The OAuth 2 authorization server's state: clients, pushed and pending
//! authorization requests, codes, refresh-token families, used client
//! assertion ids, initial access tokens, revoked access tokens, the
//! pairwise subjects issued to each company and the CIBA poll state of
//! asynchronous requests.
//!
//! Every secret (code, refresh token, request URI, initial access token)
//! is stored as its SHA-256 hash only. Times that the `authz` crate
//! compares are Unix seconds (`BIGINT`), as its records carry them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Length of a stored hash or id column.
const KEY_LEN: u32 = 128;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthClient::Table)
                    .col(string_len(OauthClient::ClientId, KEY_LEN).primary_key())
                    .col(
                        string_len(OauthClient::Kind, 16)
                            .check(Expr::col(OauthClient::Kind).is_in(["company", "auditor"])),
                    )
                    .col(text(OauthClient::Record))
                    .col(timestamp_with_time_zone(OauthClient::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthPar::Table)
                    .col(string_len(OauthPar::RequestUriHash, KEY_LEN).primary_key())
                    .col(string_len(OauthPar::ClientId, KEY_LEN))
                    .col(text(OauthPar::Record))
                    .col(big_integer(OauthPar::ExpiresAt))
                    .col(big_integer_null(OauthPar::UsedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthPendingAuthorization::Table)
                    .col(string_len(OauthPendingAuthorization::Id, KEY_LEN).primary_key())
                    .col(string_len(OauthPendingAuthorization::ClientId, KEY_LEN))
                    .col(text(OauthPendingAuthorization::Record))
                    .col(big_integer(OauthPendingAuthorization::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthCode::Table)
                    .col(string_len(OauthCode::CodeHash, KEY_LEN).primary_key())
                    .col(string_len(OauthCode::ClientId, KEY_LEN))
                    .col(text(OauthCode::Record))
                    .col(big_integer(OauthCode::ExpiresAt))
                    .col(big_integer_null(OauthCode::UsedAt))
                    .col(string_len_null(OauthCode::FamilyId, 36))
                    .col(string_len_null(OauthCode::AccessJti, KEY_LEN))
                    .col(big_integer_null(OauthCode::AccessExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthRefresh::Table)
                    .col(string_len(OauthRefresh::TokenHash, KEY_LEN).primary_key())
                    .col(string_len(OauthRefresh::FamilyId, 36))
                    .col(string_len(OauthRefresh::ClientId, KEY_LEN))
                    .col(string_len(OauthRefresh::GrantId, 36))
                    .col(text(OauthRefresh::Record))
                    .col(string_len(OauthRefresh::Status, 16).check(
                        Expr::col(OauthRefresh::Status).is_in(["active", "rotated", "revoked"]),
                    ))
                    .col(big_integer(OauthRefresh::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oauth_refresh_family")
                    .table(OauthRefresh::Table)
                    .col(OauthRefresh::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oauth_refresh_grant")
                    .table(OauthRefresh::Table)
                    .col(OauthRefresh::GrantId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthJti::Table)
                    .col(string_len(OauthJti::ClientId, KEY_LEN))
                    .col(string_len(OauthJti::Jti, 256))
                    .col(big_integer(OauthJti::ExpiresAt))
                    .primary_key(Index::create().col(OauthJti::ClientId).col(OauthJti::Jti))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthRegistrationToken::Table)
                    .col(string_len(OauthRegistrationToken::TokenHash, KEY_LEN).primary_key())
                    .col(big_integer(OauthRegistrationToken::CreatedAt))
                    .col(big_integer(OauthRegistrationToken::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthRevokedAccess::Table)
                    .col(string_len(OauthRevokedAccess::Jti, KEY_LEN).primary_key())
                    .col(big_integer(OauthRevokedAccess::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthSubject::Table)
                    .col(string_len(OauthSubject::CompanyId, KEY_LEN))
                    .col(string_len(OauthSubject::Subject, 64))
                    .col(string_len(OauthSubject::PersonId, 36))
                    .primary_key(
                        Index::create()
                            .col(OauthSubject::CompanyId)
                            .col(OauthSubject::Subject),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oauth_subject_person")
                            .from(OauthSubject::Table, OauthSubject::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthCibaPoll::Table)
                    .col(string_len(OauthCibaPoll::RequestId, 36).primary_key())
                    .col(big_integer(OauthCibaPoll::LastPollAt))
                    .col(big_integer_null(OauthCibaPoll::TokensIssuedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oauth_ciba_request")
                            .from(OauthCibaPoll::Table, OauthCibaPoll::RequestId)
                            .to(DataRequest::Table, DataRequest::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OauthCibaPoll::Table.into_iden(),
            OauthSubject::Table.into_iden(),
            OauthRevokedAccess::Table.into_iden(),
            OauthRegistrationToken::Table.into_iden(),
            OauthJti::Table.into_iden(),
            OauthRefresh::Table.into_iden(),
            OauthCode::Table.into_iden(),
            OauthPendingAuthorization::Table.into_iden(),
            OauthPar::Table.into_iden(),
            OauthClient::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DataRequest {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OauthClient {
    Table,
    ClientId,
    Kind,
    Record,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthPar {
    Table,
    RequestUriHash,
    ClientId,
    Record,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OauthPendingAuthorization {
    Table,
    Id,
    ClientId,
    Record,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthCode {
    Table,
    CodeHash,
    ClientId,
    Record,
    ExpiresAt,
    UsedAt,
    FamilyId,
    AccessJti,
    AccessExpiresAt,
}

#[derive(DeriveIden)]
enum OauthRefresh {
    Table,
    TokenHash,
    FamilyId,
    ClientId,
    GrantId,
    Record,
    Status,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthJti {
    Table,
    ClientId,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthRegistrationToken {
    Table,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthRevokedAccess {
    Table,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthSubject {
    Table,
    CompanyId,
    Subject,
    PersonId,
}

#[derive(DeriveIden)]
enum OauthCibaPoll {
    Table,
    RequestId,
    LastPollAt,
    TokensIssuedAt,
}

//! Companies' requests for data (interactive or asynchronous), the policy's
//! decision on each, and the grants that approved requests become.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DataRequest::Table)
                    .col(string_len(DataRequest::Id, 36).primary_key())
                    .col(string_len(DataRequest::CompanyId, 128))
                    .col(string_len(DataRequest::PersonId, 36))
                    .col(
                        string_len(DataRequest::Channel, 16)
                            .check(Expr::col(DataRequest::Channel).is_in(["interactive", "async"])),
                    )
                    .col(text(DataRequest::Request))
                    .col(text(DataRequest::Decision))
                    .col(
                        string_len(DataRequest::Status, 16).check(
                            Expr::col(DataRequest::Status)
                                .is_in(["pending", "approved", "denied", "expired"]),
                        ),
                    )
                    .col(string_len_null(DataRequest::GrantId, 36))
                    .col(timestamp_with_time_zone(DataRequest::CreatedAt))
                    .col(timestamp_with_time_zone_null(DataRequest::DecidedAt))
                    .col(timestamp_with_time_zone(DataRequest::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_company")
                            .from(DataRequest::Table, DataRequest::CompanyId)
                            .to(Company::Table, Company::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_person")
                            .from(DataRequest::Table, DataRequest::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_request_person_status")
                    .table(DataRequest::Table)
                    .col(DataRequest::PersonId)
                    .col(DataRequest::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataGrant::Table)
                    .col(string_len(DataGrant::Id, 36).primary_key())
                    .col(string_len_uniq(DataGrant::RequestId, 36))
                    .col(string_len(DataGrant::PersonId, 36))
                    .col(string_len(DataGrant::CompanyId, 128))
                    .col(text(DataGrant::Attributes))
                    .col(string_len(DataGrant::Purpose, 32))
                    .col(string_len(DataGrant::Duration, 64))
                    .col(text_null(DataGrant::Price))
                    .col(timestamp_with_time_zone(DataGrant::CreatedAt))
                    .col(timestamp_with_time_zone(DataGrant::ExpiresAt))
                    .col(timestamp_with_time_zone_null(DataGrant::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_grant_request")
                            .from(DataGrant::Table, DataGrant::RequestId)
                            .to(DataRequest::Table, DataRequest::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_grant_person")
                            .from(DataGrant::Table, DataGrant::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_grant_company")
                            .from(DataGrant::Table, DataGrant::CompanyId)
                            .to(Company::Table, Company::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_grant_person")
                    .table(DataGrant::Table)
                    .col(DataGrant::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_grant_company_person")
                    .table(DataGrant::Table)
                    .col(DataGrant::CompanyId)
                    .col(DataGrant::PersonId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DataGrant::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DataRequest::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Company {
    Table,
    Id,
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
    CompanyId,
    PersonId,
    Channel,
    Request,
    Decision,
    Status,
    GrantId,
    CreatedAt,
    DecidedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum DataGrant {
    Table,
    Id,
    RequestId,
    PersonId,
    CompanyId,
    Attributes,
    Purpose,
    Duration,
    Price,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

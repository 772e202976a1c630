//! People, their attributes and buckets, their sharing preferences, rules and
//! blocked companies, and the companies they can name.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Company::Table)
                    .col(string_len(Company::Id, 128).primary_key())
                    .col(string_len(Company::Name, 200))
                    .col(timestamp_with_time_zone(Company::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Person::Table)
                    .col(string_len(Person::Id, 36).primary_key())
                    .col(string_len_uniq(Person::Handle, 64))
                    .col(string_len_uniq(Person::Pseudonym, 64))
                    .col(string_len(Person::SharingDefault, 32).check(
                        Expr::col(Person::SharingDefault).is_in([
                            "share_everything",
                            "ask_me",
                            "share_nothing",
                        ]),
                    ))
                    .col(string_len(Person::MaxDuration, 64))
                    .col(text(Person::Contact))
                    .col(timestamp_with_time_zone(Person::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attribute::Table)
                    .col(string_len(Attribute::PersonId, 36))
                    .col(string_len(Attribute::Key, 64))
                    .col(text(Attribute::Value))
                    .col(string_len(Attribute::Bucket, 16).check(
                        Expr::col(Attribute::Bucket).is_in(["private", "semi_private", "public"]),
                    ))
                    .col(timestamp_with_time_zone(Attribute::UpdatedAt))
                    .primary_key(Index::create().col(Attribute::PersonId).col(Attribute::Key))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attribute_person")
                            .from(Attribute::Table, Attribute::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Rule::Table)
                    .col(string_len(Rule::Id, 36).primary_key())
                    .col(string_len(Rule::PersonId, 36))
                    .col(integer(Rule::Position))
                    .col(text(Rule::Body))
                    .col(timestamp_with_time_zone(Rule::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rule_person")
                            .from(Rule::Table, Rule::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rule_person_position")
                    .table(Rule::Table)
                    .col(Rule::PersonId)
                    .col(Rule::Position)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BlockedCompany::Table)
                    .col(string_len(BlockedCompany::PersonId, 36))
                    .col(string_len(BlockedCompany::CompanyId, 128))
                    .col(timestamp_with_time_zone(BlockedCompany::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(BlockedCompany::PersonId)
                            .col(BlockedCompany::CompanyId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blocked_person")
                            .from(BlockedCompany::Table, BlockedCompany::PersonId)
                            .to(Person::Table, Person::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blocked_company")
                            .from(BlockedCompany::Table, BlockedCompany::CompanyId)
                            .to(Company::Table, Company::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BlockedCompany::Table.into_iden(),
            Rule::Table.into_iden(),
            Attribute::Table.into_iden(),
            Person::Table.into_iden(),
            Company::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Company {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
    Handle,
    Pseudonym,
    SharingDefault,
    MaxDuration,
    Contact,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Attribute {
    Table,
    PersonId,
    Key,
    Value,
    Bucket,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Rule {
    Table,
    Id,
    PersonId,
    Position,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BlockedCompany {
    Table,
    PersonId,
    CompanyId,
    CreatedAt,
}

//! `person.policy_version`: a counter every change to what a person shares
//! bumps (an attribute's value or bucket, the default, a rule, a block).
//!
//! A read under a grant decides what leaves from a snapshot of the policy,
//! then records its disclosure entry in a group transaction. That
//! transaction checks, for every read of the group in one statement, that
//! the grant is still live and the person's version is the one the read
//! decided under; a read whose policy changed in between decides again. So
//! a block, a move to private or a denying rule that commits before a
//! read's entry is never outrun by that read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .add_column(big_integer(Person::PolicyVersion).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .drop_column(Person::PolicyVersion)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Person {
    Table,
    PolicyVersion,
}

//! The person each ledger entry is about, beside the leaf: `ledger_entry.person`
//! holds the pseudonym the entry names (null for events that name none), with
//! an index on `(person, idx)` so a person's activity is listed newest first
//! without reading the whole log.
//!
//! The column is not part of the leaf and so not covered by the tree: it is
//! a lookup aid the server fills on append; what an auditor verifies is still
//! the leaf bytes. Entries written before this migration keep a null person.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerEntry::Table)
                    .add_column(string_len_null(LedgerEntry::Person, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ledger_entry_person")
                    .table(LedgerEntry::Table)
                    .col(LedgerEntry::Person)
                    .col(LedgerEntry::Idx)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_ledger_entry_person")
                    .table(LedgerEntry::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerEntry::Table)
                    .drop_column(LedgerEntry::Person)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LedgerEntry {
    Table,
    Idx,
    Person,
}

//! The transparency log: its leaves (`ledger_entry`), the hashes of its
//! perfect subtrees above the leaves (`ledger_node`), its size
//! (`ledger_head`, one row, the lock every append takes) and its signed
//! checkpoints (`ledger_checkpoint`).
//!
//! Level-0 hashes (the leaf hashes) live only in `ledger_entry.leaf_hash`;
//! `ledger_node` holds levels 1 and up, so no hash is stored twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LedgerEntry::Table)
                    .col(big_integer(LedgerEntry::Idx).primary_key())
                    .col(big_integer(LedgerEntry::TimeUnixMs))
                    .col(string_len(LedgerEntry::Kind, 32))
                    .col(blob(LedgerEntry::Leaf))
                    .col(blob(LedgerEntry::LeafHash))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerNode::Table)
                    .col(integer(LedgerNode::Level).check(Expr::col(LedgerNode::Level).gte(1)))
                    .col(big_integer(LedgerNode::Idx))
                    .col(blob(LedgerNode::Hash))
                    .primary_key(Index::create().col(LedgerNode::Level).col(LedgerNode::Idx))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerHead::Table)
                    .col(integer(LedgerHead::Id).primary_key())
                    .col(big_integer(LedgerHead::TreeSize))
                    .check(Expr::col(LedgerHead::Id).eq(1))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(LedgerHead::Table)
                    .columns([LedgerHead::Id, LedgerHead::TreeSize])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerCheckpoint::Table)
                    .col(big_integer(LedgerCheckpoint::TreeSize).primary_key())
                    .col(blob(LedgerCheckpoint::RootHash))
                    .col(text(LedgerCheckpoint::Note))
                    .col(timestamp_with_time_zone(LedgerCheckpoint::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LedgerCheckpoint::Table.into_iden(),
            LedgerHead::Table.into_iden(),
            LedgerNode::Table.into_iden(),
            LedgerEntry::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum LedgerEntry {
    Table,
    Idx,
    TimeUnixMs,
    Kind,
    Leaf,
    LeafHash,
}

#[derive(DeriveIden)]
enum LedgerNode {
    Table,
    Level,
    Idx,
    Hash,
}

#[derive(DeriveIden)]
enum LedgerHead {
    Table,
    Id,
    TreeSize,
}

#[derive(DeriveIden)]
enum LedgerCheckpoint {
    Table,
    TreeSize,
    RootHash,
    Note,
    CreatedAt,
}

//! Payouts (issue #21): a person withdraws what they earned.
//!
//! `payout` is one row per withdrawal, and the payout's transfer in the
//! books: `amount` moves from the person's earnings account to the outside
//! world's (`funding/<currency>`), pending until the operator confirms
//! (`posted`, with their bank `reference`) or fails it (`voided`, with a
//! `failure_reason` shown to the person; the money is back in the
//! earnings). `destination` is the IBAN or payment handle, sealed under
//! the data key like an attribute value (bound to the row's person and
//! id); nothing else holds it, and no ledger entry does.
//!
//! One pending payout per person and currency: a unique partial index is
//! the last line behind the store's check (SQLite and PostgreSQL both
//! have them), so two requests at once cannot both hold money.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Payout::Table)
                    .col(string_len(Payout::Id, 36).primary_key())
                    .col(string_len(Payout::PersonId, 36))
                    .col(string_len(Payout::Currency, 3))
                    .col(big_integer(Payout::Amount).check(Expr::col(Payout::Amount).gt(0)))
                    .col(
                        string_len(Payout::State, 16)
                            .check(Expr::col(Payout::State).is_in(["pending", "posted", "voided"])),
                    )
                    .col(text(Payout::Destination))
                    .col(string_len_null(Payout::Reference, 128))
                    .col(text_null(Payout::FailureReason))
                    .col(timestamp_with_time_zone(Payout::CreatedAt))
                    .col(timestamp_with_time_zone_null(Payout::SettledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_payout_person")
                    .table(Payout::Table)
                    .col(Payout::PersonId)
                    .col(Payout::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_payout_state")
                    .table(Payout::Table)
                    .col(Payout::State)
                    .col(Payout::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_payout_pending ON payout (person_id, currency) \
                 WHERE state = 'pending'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payout::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Payout {
    Table,
    Id,
    PersonId,
    Currency,
    Amount,
    State,
    Destination,
    Reference,
    FailureReason,
    CreatedAt,
    SettledAt,
}

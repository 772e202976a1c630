//! Money: the books' accounts (`money_account`) and transfers
//! (`money_transfer`), and the mark that a grant's expiry has been recorded
//! in the ledger (`data_grant.expiry_recorded_at`).
//!
//! Amounts are integer micro-units of the account's currency. The balances
//! are TigerBeetle's four running sums; a CHECK keeps every sum non-negative
//! and a company wallet from ever spending more than it was funded — the
//! store checks first and says how much is missing, the database is the
//! last line.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sums = [
            MoneyAccount::DebitsPosted,
            MoneyAccount::CreditsPosted,
            MoneyAccount::DebitsPending,
            MoneyAccount::CreditsPending,
        ];
        let mut account = Table::create();
        account
            .table(MoneyAccount::Table)
            .col(string_len(MoneyAccount::Id, 200).primary_key())
            .col(
                string_len(MoneyAccount::Kind, 16)
                    .check(Expr::col(MoneyAccount::Kind).is_in(["funding", "wallet", "earnings"])),
            )
            .col(string_len(MoneyAccount::Owner, 128))
            .col(string_len(MoneyAccount::Currency, 3));
        for sum in sums {
            account.col(big_integer(sum).default(0).check(Expr::col(sum).gte(0)));
        }
        // A wallet never goes below zero: spent and reserved never exceed funded.
        account.check(
            Expr::col(MoneyAccount::Kind)
                .ne("wallet")
                .or(Expr::col(MoneyAccount::DebitsPosted)
                    .add(Expr::col(MoneyAccount::DebitsPending))
                    .lte(Expr::col(MoneyAccount::CreditsPosted))),
        );
        manager.create_table(account.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_money_account_owner")
                    .table(MoneyAccount::Table)
                    .col(MoneyAccount::Kind)
                    .col(MoneyAccount::Owner)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MoneyTransfer::Table)
                    .col(string_len(MoneyTransfer::Id, 128).primary_key())
                    .col(string_len(MoneyTransfer::DebitAccount, 200))
                    .col(string_len(MoneyTransfer::CreditAccount, 200))
                    .col(
                        big_integer(MoneyTransfer::Amount)
                            .check(Expr::col(MoneyTransfer::Amount).gt(0)),
                    )
                    .col(string_len(MoneyTransfer::Currency, 3))
                    .col(boolean(MoneyTransfer::TwoPhase))
                    .col(string_len(MoneyTransfer::State, 16).check(
                        Expr::col(MoneyTransfer::State).is_in(["pending", "posted", "voided"]),
                    ))
                    .col(string_len(MoneyTransfer::CompanyId, 128))
                    .col(string_len_null(MoneyTransfer::PersonId, 36))
                    .col(string_len_null(MoneyTransfer::RequestId, 36))
                    .col(timestamp_with_time_zone(MoneyTransfer::CreatedAt))
                    .col(timestamp_with_time_zone_null(MoneyTransfer::SettledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MoneyTransfer::Table, MoneyTransfer::DebitAccount)
                            .to(MoneyAccount::Table, MoneyAccount::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MoneyTransfer::Table, MoneyTransfer::CreditAccount)
                            .to(MoneyAccount::Table, MoneyAccount::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transfer_person")
                    .table(MoneyTransfer::Table)
                    .col(MoneyTransfer::PersonId)
                    .col(MoneyTransfer::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transfer_request")
                    .table(MoneyTransfer::Table)
                    .col(MoneyTransfer::RequestId)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(DataGrant::Table)
                    .add_column(timestamp_with_time_zone_null(DataGrant::ExpiryRecordedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_grant_expiry")
                    .table(DataGrant::Table)
                    .col(DataGrant::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_request_status_expiry")
                    .table(DataRequest::Table)
                    .col(DataRequest::Status)
                    .col(DataRequest::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_request_status_expiry").to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name("ix_grant_expiry").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DataGrant::Table)
                    .drop_column(DataGrant::ExpiryRecordedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MoneyTransfer::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MoneyAccount::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum MoneyAccount {
    Table,
    Id,
    Kind,
    Owner,
    Currency,
    DebitsPosted,
    CreditsPosted,
    DebitsPending,
    CreditsPending,
}

#[derive(DeriveIden)]
enum MoneyTransfer {
    Table,
    Id,
    DebitAccount,
    CreditAccount,
    Amount,
    Currency,
    TwoPhase,
    State,
    CompanyId,
    PersonId,
    RequestId,
    CreatedAt,
    SettledAt,
}

#[derive(DeriveIden)]
enum DataGrant {
    Table,
    ExpiresAt,
    ExpiryRecordedAt,
}

#[derive(DeriveIden)]
enum DataRequest {
    Table,
    Status,
    ExpiresAt,
}

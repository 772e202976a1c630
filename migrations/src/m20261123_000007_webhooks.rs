//! Webhooks: where a company wants to hear about decisions and revocations
//! (`company_webhook`), and an outbox of deliveries (`webhook_delivery`)
//! written in the same transaction as the change it announces, so a crash
//! can delay a call but never lose one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CompanyWebhook::Table)
                    .col(string_len(CompanyWebhook::CompanyId, 128).primary_key())
                    .col(string_len(CompanyWebhook::Url, 2048))
                    .col(timestamp_with_time_zone(CompanyWebhook::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_company")
                            .from(CompanyWebhook::Table, CompanyWebhook::CompanyId)
                            .to(Company::Table, Company::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .col(string_len(WebhookDelivery::Id, 36).primary_key())
                    .col(string_len(WebhookDelivery::CompanyId, 128))
                    .col(string_len(WebhookDelivery::Url, 2048))
                    .col(string_len(WebhookDelivery::Event, 64))
                    .col(text(WebhookDelivery::Payload))
                    .col(integer(WebhookDelivery::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDelivery::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::DeliveredAt))
                    .col(string_len_null(WebhookDelivery::LastError, 512))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_due")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_company")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::CompanyId)
                    .col(WebhookDelivery::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDelivery::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CompanyWebhook::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CompanyWebhook {
    Table,
    CompanyId,
    Url,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    CompanyId,
    Url,
    Event,
    Payload,
    Attempts,
    CreatedAt,
    NextAttemptAt,
    DeliveredAt,
    LastError,
}

#[derive(DeriveIden)]
enum Company {
    Table,
    Id,
}

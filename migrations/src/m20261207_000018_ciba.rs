//! CIBA (OpenID Client-Initiated Backchannel Authentication Core 1.0):
//!
//! - `ciba_request`: one row per `POST /oauth/bc-authorize`. For a person
//!   who exists, `auth_req_id` is the asynchronous request's id (so the
//!   REST form `GET /v1/requests/{id}` and the poll name the same thing);
//!   for a handle or subject that names nobody, `request_id` is `NULL` and
//!   `asked` keeps the `apiome_data` entry, so the company is answered as
//!   for a person who refused (no enumeration). `notification_*` are set
//!   for ping-mode clients.
//! - `data_request.binding_message`: the short text the company asked the
//!   person's inbox to show, so the person can tie the request to what
//!   they are doing with the company.
//! - `webhook_delivery.bearer`: a CIBA ping rides the webhook outbox (same
//!   transaction as the answer, same lease and retries); when set, the
//!   call carries `Authorization: Bearer <client_notification_token>`
//!   instead of a Standard Webhooks signature.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE ciba_request ( \
                 auth_req_id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 company_id VARCHAR(64) NOT NULL, \
                 request_id VARCHAR(36) NULL \
                     REFERENCES data_request (id) ON DELETE CASCADE, \
                 asked TEXT NULL, \
                 notification_endpoint TEXT NULL, \
                 notification_token TEXT NULL, \
                 last_poll_at BIGINT NULL, \
                 expires_at BIGINT NOT NULL, \
                 created_at BIGINT NOT NULL \
             )",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX idx_ciba_request_request ON ciba_request (request_id)")
            .await?;
        db.execute_unprepared("ALTER TABLE data_request ADD COLUMN binding_message TEXT NULL")
            .await?;
        db.execute_unprepared("ALTER TABLE webhook_delivery ADD COLUMN bearer TEXT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE webhook_delivery DROP COLUMN bearer")
            .await?;
        db.execute_unprepared("ALTER TABLE data_request DROP COLUMN binding_message")
            .await?;
        db.execute_unprepared("DROP TABLE ciba_request").await?;
        Ok(())
    }
}

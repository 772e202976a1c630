//! Notifications to the person by email.
//!
//! - `notify_setting`: one row per person who gave an address: the
//!   address, when it was verified (NULL: not yet; such an address gets
//!   only its verification mail), the verification token's SHA-256 and
//!   expiry (single use: cleared when used), the kinds turned off
//!   (comma-separated), and whether they asked for a daily digest.
//! - `mail_outbox`: every mail to send, written in the transaction of the
//!   event that causes it. `message_id` is unique per row and is the
//!   mail's `Message-ID`, so a retry after a crash carries the same one.
//!   `held` rows wait for the person's digest; `digest_id` names the
//!   digest mail that carried them.
//! - `notice_mark`: what was noticed once (a grant's first use, a
//!   reminder before an expiry), keyed by the subject's id and the kind.
//!
//! Times are unix seconds (BIGINT), read and written the same way by the
//! pool and by the disclosure writer's own SQLite connection.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE TABLE notify_setting ( \
                 person_id VARCHAR(36) NOT NULL PRIMARY KEY \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 address VARCHAR(254) NOT NULL, \
                 verified_at BIGINT NULL, \
                 token_hash VARCHAR(64) NULL, \
                 token_expires_at BIGINT NULL, \
                 kinds_off VARCHAR(256) NOT NULL, \
                 digest BOOLEAN NOT NULL, \
                 last_digest_at BIGINT NULL, \
                 updated_at BIGINT NOT NULL \
             )",
            "CREATE TABLE mail_outbox ( \
                 id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 person_id VARCHAR(36) NOT NULL \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 kind VARCHAR(32) NOT NULL, \
                 to_address VARCHAR(254) NOT NULL, \
                 payload TEXT NOT NULL, \
                 message_id VARCHAR(128) NOT NULL UNIQUE, \
                 created_at BIGINT NOT NULL, \
                 held BOOLEAN NOT NULL, \
                 digest_id VARCHAR(36) NULL, \
                 attempts INTEGER NOT NULL, \
                 next_attempt_at BIGINT NULL, \
                 sent_at BIGINT NULL, \
                 last_error TEXT NULL \
             )",
            "CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)",
            "CREATE INDEX mail_outbox_held ON mail_outbox (held, person_id)",
            "CREATE TABLE notice_mark ( \
                 subject_id VARCHAR(64) NOT NULL, \
                 kind VARCHAR(32) NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 PRIMARY KEY (subject_id, kind) \
             )",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["notice_mark", "mail_outbox", "notify_setting"] {
            db.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}

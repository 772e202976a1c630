//! The contact relay (issue #20, point 2): `contact_message`, one row per
//! message a company sent a person through apiome, delivered or refused,
//! and `contact_stop`, the companies a person told (by a mail's one-click
//! unsubscribe) never to contact them again.
//!
//! A message's words (subject, text, link, why) are the company's, kept
//! here for the person's `/messages` page and never written to the ledger,
//! whose `message_delivered` / `message_refused` entries name only ids,
//! the channel, a count or a reason. The address a mail went to is not
//! kept here at all: it lives in the outbox row, which the company never
//! reads. The weekly cap counts `outcome = 'delivered'` rows of the person
//! in the last 7 days, hence the index. Times are unix seconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE TABLE contact_message ( \
                 id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 person_id VARCHAR(36) NOT NULL \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 company_id VARCHAR(256) NOT NULL, \
                 grant_id VARCHAR(36) NOT NULL, \
                 subject VARCHAR(200) NOT NULL, \
                 body TEXT NOT NULL, \
                 link VARCHAR(2048) NULL, \
                 why TEXT NOT NULL, \
                 outcome VARCHAR(32) NOT NULL, \
                 channel VARCHAR(16) NULL, \
                 next_allowed_at BIGINT NULL, \
                 created_at BIGINT NOT NULL \
             )",
            "CREATE INDEX contact_message_person \
                 ON contact_message (person_id, outcome, created_at)",
            "CREATE TABLE contact_stop ( \
                 person_id VARCHAR(36) NOT NULL \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 company_id VARCHAR(256) NOT NULL, \
                 created_at BIGINT NOT NULL, \
                 PRIMARY KEY (person_id, company_id) \
             )",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE contact_stop").await?;
        db.execute_unprepared("DROP TABLE contact_message").await?;
        Ok(())
    }
}

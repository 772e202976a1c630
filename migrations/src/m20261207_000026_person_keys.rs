//! Export and erasure (issue #21, point 5): `person_key`, one data key per
//! person, itself sealed under the server's data keys (the master keys),
//! and `person.erased_at`.
//!
//! A person's attribute values and payout destinations are sealed under
//! their own key (`v2.` values, see `store::sealed`). Erasing the person
//! deletes the row: every copy of their ciphertext — in the live file, a
//! freed page, a replica — is then noise, even to whoever holds the master
//! keys. The person row stays (grants, receipts, the books and the ledger
//! name its pseudonym) with `erased_at` set, in unix seconds, and its
//! handle replaced.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE TABLE person_key ( \
                 person_id VARCHAR(36) NOT NULL PRIMARY KEY \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 sealed TEXT NOT NULL, \
                 created_at BIGINT NOT NULL \
             )",
            "ALTER TABLE person ADD COLUMN erased_at BIGINT NULL",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE person_key").await?;
        db.execute_unprepared("ALTER TABLE person DROP COLUMN erased_at")
            .await?;
        Ok(())
    }
}

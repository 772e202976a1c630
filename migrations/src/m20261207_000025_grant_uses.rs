//! Downstream use (issue #21, point 3): `grant_use`, one row per use a
//! company reported of a grant's data, accepted or refused (a kind the
//! grant's purpose does not cover is refused and still recorded). The
//! recipient and the note are the company's own words: they stay here,
//! shown to the person, and never reach the ledger, whose `use_reported`
//! entry names only the grant, the company, the pseudonym, the kind and
//! whether it was accepted. Times are unix seconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE TABLE grant_use ( \
                 id VARCHAR(36) NOT NULL PRIMARY KEY, \
                 grant_id VARCHAR(36) NOT NULL, \
                 person_id VARCHAR(36) NOT NULL \
                     REFERENCES person (id) ON DELETE CASCADE, \
                 company_id VARCHAR(256) NOT NULL, \
                 kind VARCHAR(16) NOT NULL, \
                 recipient VARCHAR(256) NULL, \
                 note TEXT NOT NULL, \
                 accepted BOOLEAN NOT NULL, \
                 created_at BIGINT NOT NULL \
             )",
            "CREATE INDEX grant_use_person ON grant_use (person_id, created_at, id)",
            "CREATE INDEX grant_use_grant ON grant_use (grant_id, created_at, id)",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE grant_use")
            .await?;
        Ok(())
    }
}

//! Secrets every server sharing the database holds alike (the OAuth
//! signing key set), sealed under the data key and bound to their name, so
//! a copy of the database cannot sign a token, and a rotation on one host
//! reaches every other through the database.
//!
//! Each change bumps `version`; [`Store::server_secret_version`] is the
//! cheap poll, and [`Store::replace_server_secret`] changes a secret only
//! at the version its caller read (compare and set): of two rotations at
//! once, one wins and the other reads again and retries.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::entity::server_secret;
use crate::{DataKeys, Resealed, Store, StoreError, now};

/// The row binding's owner: no person, the servers.
const OWNER: &str = "apiome-servers";

/// A shared secret as read: its text and the version it was read at.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret {
    /// The secret's text.
    pub text: String,
    /// Its version (one more on every change).
    pub version: i64,
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSecret")
            .field("text", &"…")
            .field("version", &self.version)
            .finish()
    }
}

fn slot(name: &str) -> String {
    format!("server_secret/{name}")
}

fn open(keys: &DataKeys, row: &server_secret::Model) -> Result<String, StoreError> {
    let bytes = keys
        .open(OWNER, &slot(&row.name), &row.sealed)
        .map_err(|e| StoreError::corrupt(format!("server secret {}: {e}", row.name)))?;
    String::from_utf8(bytes).map_err(StoreError::corrupt)
}

impl Store {
    /// The secret named `name`, opened; `None` when there is none yet.
    ///
    /// # Errors
    /// The database fails, or the secret does not open under the data keys.
    pub async fn server_secret(&self, name: &str) -> Result<Option<ServerSecret>, StoreError> {
        let Some(row) = server_secret::Entity::find_by_id(name)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(ServerSecret {
            text: open(&self.keys, &row)?,
            version: row.version,
        }))
    }

    /// The version of the secret named `name`, without reading it.
    ///
    /// # Errors
    /// The database fails.
    pub async fn server_secret_version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(server_secret::Entity::find()
            .select_only()
            .column(server_secret::Column::Version)
            .filter(server_secret::Column::Name.eq(name))
            .into_tuple::<i64>()
            .one(&self.db)
            .await?)
    }

    /// Stores `text` as the secret named `name` if it is still at
    /// `expected` (`None`: there is none yet). `false` when another
    /// writer came first: read again and retry.
    ///
    /// # Errors
    /// The database fails, or no randomness for the seal.
    pub async fn replace_server_secret(
        &self,
        name: &str,
        expected: Option<i64>,
        text: &str,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .keys
            .seal(OWNER, &slot(name), text.as_bytes())
            .map_err(StoreError::corrupt)?;
        let at = now().unix_timestamp();
        let (_turn, txn) = self.write_txn().await?;
        let changed = match expected {
            None => {
                server_secret::Entity::insert(server_secret::ActiveModel {
                    name: Set(name.to_owned()),
                    sealed: Set(sealed),
                    version: Set(1),
                    updated_at: Set(at),
                })
                .on_conflict(
                    OnConflict::column(server_secret::Column::Name)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?
            }
            Some(version) => {
                server_secret::Entity::update_many()
                    .col_expr(server_secret::Column::Sealed, Expr::value(sealed))
                    .col_expr(server_secret::Column::Version, Expr::value(version + 1))
                    .col_expr(server_secret::Column::UpdatedAt, Expr::value(at))
                    .filter(server_secret::Column::Name.eq(name))
                    .filter(server_secret::Column::Version.eq(version))
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
        };
        txn.commit().await?;
        Ok(changed == 1)
    }

    /// Seals every shared secret under the current data key (for
    /// `apiome keys rotate-data`). The version does not move: the text is
    /// the same.
    ///
    /// # Errors
    /// The database fails, or a secret does not open.
    pub async fn reseal_server_secrets(&self) -> Result<Resealed, StoreError> {
        let mut done = Resealed::default();
        let rows = server_secret::Entity::find().all(&self.db).await?;
        let (_turn, txn) = self.write_txn().await?;
        for row in &rows {
            done.values += 1;
            if self.keys.is_current(&row.sealed) {
                continue;
            }
            let text = open(&self.keys, row)?;
            let sealed = self
                .keys
                .seal(OWNER, &slot(&row.name), text.as_bytes())
                .map_err(StoreError::corrupt)?;
            let changed = server_secret::Entity::update_many()
                .col_expr(server_secret::Column::Sealed, Expr::value(sealed))
                .filter(server_secret::Column::Name.eq(row.name.as_str()))
                .filter(server_secret::Column::Sealed.eq(row.sealed.as_str()))
                .exec(&txn)
                .await?;
            done.resealed += changed.rows_affected;
        }
        txn.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use crate::testing::{self, TestDb};

    async fn compare_and_set_loses_no_write(db: TestDb) {
        let store = db.store.clone();
        assert_eq!(store.server_secret("k").await.unwrap(), None);
        assert!(store.replace_server_secret("k", None, "one").await.unwrap());
        // A second first write loses: the row exists.
        assert!(
            !store
                .replace_server_secret("k", None, "other")
                .await
                .unwrap()
        );
        let read = store.server_secret("k").await.unwrap().unwrap();
        assert_eq!((read.text.as_str(), read.version), ("one", 1));
        assert_eq!(store.server_secret_version("k").await.unwrap(), Some(1));
        // Two writers at version 1, at once: exactly one wins.
        let (a, b) = tokio::join!(
            store.replace_server_secret("k", Some(1), "two-a"),
            store.replace_server_secret("k", Some(1), "two-b"),
        );
        assert!(a.unwrap() ^ b.unwrap());
        let read = store.server_secret("k").await.unwrap().unwrap();
        assert_eq!(read.version, 2);
        assert!(read.text.starts_with("two-"));
        // Sealed at rest: the plain text is nowhere in the row.
        let raw = crate::entity::server_secret::Entity::find_by_id("k")
            .one(&store.db)
            .await
            .unwrap()
            .unwrap();
        assert!(!raw.sealed.contains("two-"));
        assert!(crate::sealed::is_sealed(&raw.sealed));
        db.cleanup().await;
    }

    use sea_orm::EntityTrait as _;

    #[tokio::test]
    async fn compare_and_set_loses_no_write_sqlite() {
        compare_and_set_loses_no_write(testing::sqlite().await).await;
    }

    #[tokio::test]
    async fn compare_and_set_loses_no_write_postgres() {
        if let Some(db) = testing::postgres().await {
            compare_and_set_loses_no_write(db).await;
        }
    }
}

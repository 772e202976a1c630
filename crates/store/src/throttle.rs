//! Sign-in throttles, shared by every server process through the database.

use identity::Throttle;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};

use crate::entity::sign_in_throttle;
use crate::{Store, StoreError};

impl Store {
    /// The failure record under `key` (`handle:NAME`, `ip:ADDR`).
    pub async fn throttle(&self, key: &str) -> Result<Throttle, StoreError> {
        Ok(sign_in_throttle::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
            .map(|row| Throttle {
                failures: u32::try_from(row.failures).unwrap_or(0),
                last_failure_unix: row.last_failure_unix,
            })
            .unwrap_or_default())
    }

    /// Records one more failure under `key` at `now_unix`.
    pub async fn record_failure(&self, key: &str, now_unix: i64) -> Result<Throttle, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let current = sign_in_throttle::Entity::find_by_id(key.to_owned())
            .one(&txn)
            .await?
            .map(|row| Throttle {
                failures: u32::try_from(row.failures).unwrap_or(0),
                last_failure_unix: row.last_failure_unix,
            })
            .unwrap_or_default();
        let next = current.after_failure(now_unix);
        sign_in_throttle::Entity::insert(sign_in_throttle::ActiveModel {
            key: Set(key.to_owned()),
            failures: Set(i32::try_from(next.failures).unwrap_or(i32::MAX)),
            last_failure_unix: Set(next.last_failure_unix),
        })
        .on_conflict(
            OnConflict::column(sign_in_throttle::Column::Key)
                .update_columns([
                    sign_in_throttle::Column::Failures,
                    sign_in_throttle::Column::LastFailureUnix,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(next)
    }

    /// Forgets the failures under `key` (after a successful sign-in).
    pub async fn clear_throttle(&self, key: &str) -> Result<(), StoreError> {
        sign_in_throttle::Entity::delete_by_id(key.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store_test;

    store_test!(failures_accumulate_per_key_until_cleared, |store| {
        let t0 = 1_700_000_000;
        for i in 0..6 {
            store.record_failure("handle:ada", t0 + i).await.unwrap();
        }
        let t = store.throttle("handle:ada").await.unwrap();
        assert_eq!(t.failures, 6);
        assert!(t.wait_secs(t0 + 5) > 0);
        assert_eq!(store.throttle("handle:bob").await.unwrap().failures, 0);
        store.clear_throttle("handle:ada").await.unwrap();
        assert_eq!(store.throttle("handle:ada").await.unwrap().failures, 0);
    });
}

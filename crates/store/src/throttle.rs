//! Sign-in and sign-up throttles, shared by every server process through
//! the database.
//!
//! An attempt is taken *before* it is tried ([`Store::take_attempt`]): one
//! write transaction makes sure every key's row exists, locks the rows
//! (PostgreSQL: `SELECT ... FOR UPDATE`, in key order so two requests never
//! wait on each other crosswise; SQLite: the single writer), asks the rule
//! (from `identity`) and counts the attempt under every key, or under none.
//! So concurrent requests are counted one after another and no more pass
//! than the rule allows, whatever the engine and however many processes.
//!
//! | call | when |
//! |---|---|
//! | [`Store::take_attempt`] | before a password is hashed or a sign-up starts |
//! | [`Store::give_back_attempt`] | the attempt turned out not to be a failure (a success, or never tried) |
//! | [`Store::clear_throttle`] | an account signed in: its failures are forgiven |
//! | [`Store::forget_throttles`] | the sweeper: rows untouched for a day |

use identity::{Throttle, ThrottleKey};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::entity::sign_in_throttle;
use crate::{Backend, Store, StoreError};

/// Keys one attempt may be counted under at once.
pub const MAX_KEYS_PER_ATTEMPT: usize = 4;

fn to_throttle(row: sign_in_throttle::Model) -> Throttle {
    Throttle {
        failures: u32::try_from(row.failures).unwrap_or(0),
        last_failure_unix: row.last_failure_unix,
    }
}

impl Store {
    /// The counter under `key` (zero when there is none).
    pub async fn throttle(&self, key: &ThrottleKey) -> Result<Throttle, StoreError> {
        Ok(
            sign_in_throttle::Entity::find_by_id(key.as_str().to_owned())
                .one(&self.db)
                .await?
                .map(to_throttle)
                .unwrap_or_default(),
        )
    }

    /// Counts one attempt under every key, atomically: `rule`
    /// sees each key's counter and returns it with the attempt counted, or
    /// the seconds to wait. If every key allows it, all are counted and the
    /// answer is `Ok(())`; if any refuses, none is, and the answer is the
    /// longest wait.
    pub async fn take_attempt(
        &self,
        keys: &[&ThrottleKey],
        rule: impl Fn(&Throttle) -> Result<Throttle, i64>,
    ) -> Result<Result<(), i64>, StoreError> {
        if keys.len() > MAX_KEYS_PER_ATTEMPT {
            return Err(StoreError::corrupt(
                "too many throttle keys for one attempt",
            ));
        }
        let mut keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let (_turn, txn) = self.write_txn().await?;
        let mut next = Vec::with_capacity(keys.len());
        let mut wait = 0;
        for key in &keys {
            // The row must exist to be locked; a concurrent insert of the
            // same key makes this wait for it, then do nothing.
            sign_in_throttle::Entity::insert(sign_in_throttle::ActiveModel {
                key: Set((*key).to_owned()),
                failures: Set(0),
                last_failure_unix: Set(0),
            })
            .on_conflict(
                OnConflict::column(sign_in_throttle::Column::Key)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            let mut query = sign_in_throttle::Entity::find_by_id((*key).to_owned());
            if self.backend() == Backend::Postgres {
                query = query.lock_exclusive();
            }
            let current = query
                .one(&txn)
                .await?
                .map(to_throttle)
                .ok_or_else(|| StoreError::corrupt("a throttle row vanished while locked"))?;
            match rule(&current) {
                Ok(counted) => next.push((*key, counted)),
                Err(secs) => wait = wait.max(secs.max(1)),
            }
        }
        if wait > 0 {
            // Dropping the transaction rolls it back: nothing is counted.
            return Ok(Err(wait));
        }
        for (key, counted) in next {
            sign_in_throttle::Entity::update_many()
                .col_expr(
                    sign_in_throttle::Column::Failures,
                    Expr::value(i32::try_from(counted.failures).unwrap_or(i32::MAX)),
                )
                .col_expr(
                    sign_in_throttle::Column::LastFailureUnix,
                    Expr::value(counted.last_failure_unix),
                )
                .filter(sign_in_throttle::Column::Key.eq(key))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(Ok(()))
    }

    /// Takes back one attempt counted under `key` (never below zero): it
    /// succeeded, or was never tried.
    pub async fn give_back_attempt(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        sign_in_throttle::Entity::update_many()
            .col_expr(
                sign_in_throttle::Column::Failures,
                sea_orm::ExprTrait::sub(Expr::col(sign_in_throttle::Column::Failures), 1),
            )
            .filter(sign_in_throttle::Column::Key.eq(key.as_str()))
            .filter(sign_in_throttle::Column::Failures.gt(0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Forgets the attempts under `key` (after a successful sign-in).
    pub async fn clear_throttle(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        sign_in_throttle::Entity::delete_by_id(key.as_str().to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes the counters last counted before `before_unix` (the rules
    /// forget them anyway); returns how many.
    pub async fn forget_throttles(&self, before_unix: i64) -> Result<u64, StoreError> {
        let deleted = sign_in_throttle::Entity::delete_many()
            .filter(sign_in_throttle::Column::LastFailureUnix.lt(before_unix))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use identity::{FREE_FAILURES, SignUpLimit};

    use super::*;

    use crate::store_test;

    fn handle(name: &str) -> ThrottleKey {
        ThrottleKey::handle(name)
    }

    fn address(text: &str) -> ThrottleKey {
        ThrottleKey::address(text.parse().unwrap())
    }

    store_test!(forty_concurrent_attempts_count_exactly_five, |store| {
        let t0 = 1_700_000_000;
        let admitted = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                let admitted = admitted.clone();
                tokio::spawn(async move {
                    // Half from one address, half from another: the handle
                    // is what they share.
                    let from = address(if i % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" });
                    let keys = [&handle("ada"), &from];
                    if store
                        .take_attempt(&keys, |t| t.take(t0))
                        .await
                        .unwrap()
                        .is_ok()
                    {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), FREE_FAILURES);
        assert_eq!(
            store.throttle(&handle("ada")).await.unwrap().failures,
            FREE_FAILURES
        );
        let per_address = store
            .throttle(&address("192.0.2.1"))
            .await
            .unwrap()
            .failures
            + store
                .throttle(&address("192.0.2.2"))
                .await
                .unwrap()
                .failures;
        assert_eq!(per_address, FREE_FAILURES, "refused attempts count nowhere");
    });

    store_test!(a_refusal_under_one_key_counts_under_none, |store| {
        let t0 = 1_700_000_000;
        let crowded = address("198.51.100.7");
        for i in 0..FREE_FAILURES {
            let other = handle(&format!("user{i}"));
            let taken = store
                .take_attempt(&[&other, &crowded], |t| t.take(t0))
                .await
                .unwrap();
            assert_eq!(taken, Ok(()));
        }
        let fresh = handle("grace");
        let refused = store
            .take_attempt(&[&fresh, &crowded], |t| t.take(t0))
            .await
            .unwrap();
        assert_eq!(refused, Err(2));
        assert_eq!(store.throttle(&fresh).await.unwrap().failures, 0);
    });

    store_test!(given_back_cleared_and_forgotten, |store| {
        let t0 = 1_700_000_000;
        let key = handle("ada");
        for _ in 0..3 {
            let taken = store.take_attempt(&[&key], |t| t.take(t0)).await;
            assert_eq!(taken.unwrap(), Ok(()));
        }
        store.give_back_attempt(&key).await.unwrap();
        assert_eq!(store.throttle(&key).await.unwrap().failures, 2);
        store.clear_throttle(&key).await.unwrap();
        assert_eq!(store.throttle(&key).await.unwrap().failures, 0);
        store.give_back_attempt(&key).await.unwrap();
        assert_eq!(store.throttle(&key).await.unwrap().failures, 0);

        let limit = SignUpLimit { per_window: 2 };
        let old = ThrottleKey::sign_up_address("192.0.2.9".parse().unwrap());
        for _ in 0..2 {
            let taken = store.take_attempt(&[&old], |t| limit.take(t, t0)).await;
            assert_eq!(taken.unwrap(), Ok(()));
        }
        let refused = store.take_attempt(&[&old], |t| limit.take(t, t0 + 1)).await;
        assert!(refused.unwrap().is_err());
        let recent = handle("recent");
        let later = t0 + identity::FORGET_AFTER_SECS + 10;
        let taken = store.take_attempt(&[&recent], |t| t.take(later)).await;
        assert_eq!(taken.unwrap(), Ok(()));
        let forgotten = store
            .forget_throttles(later - identity::FORGET_AFTER_SECS)
            .await
            .unwrap();
        assert_eq!(forgotten, 1, "only the old sign-up counter");
        assert_eq!(store.throttle(&old).await.unwrap().failures, 0);
        assert_eq!(store.throttle(&recent).await.unwrap().failures, 1);
    });
}

//! The DPoP replay cache (RFC 9449 §11.1): each accepted proof's
//! `(jkt, jti)` is written once, by one `INSERT ... ON CONFLICT DO
//! NOTHING`, so of any number of requests carrying the same proof — on one
//! server or on several sharing PostgreSQL — exactly one is accepted.
//! Rows are kept until the proof is too old to be accepted anyway
//! (`authz::dpop::IAT_WINDOW_SECS` after its `iat`) and then purged with
//! the spent authorizations (`crate::authorization_purge`).

use authz::UnixTime;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entity::oauth_dpop_jti;
use crate::{Store, StoreError};

fn secs(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

impl Store {
    /// Records a DPoP proof's `jti` for the key `jkt` until `expires_at`;
    /// `false` when it was recorded before (a replay, or a lost race).
    pub async fn use_dpop_jti(
        &self,
        jkt: &str,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<bool, StoreError> {
        let inserted = oauth_dpop_jti::Entity::insert(oauth_dpop_jti::ActiveModel {
            jkt: Set(jkt.to_owned()),
            jti: Set(jti.to_owned()),
            expires_at: Set(secs(expires_at)),
        })
        .on_conflict(
            OnConflict::columns([oauth_dpop_jti::Column::Jkt, oauth_dpop_jti::Column::Jti])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(inserted == 1)
    }

    /// Deletes up to `limit` proofs that expired before `now`; returns how many.
    pub async fn purge_dpop_jtis(&self, now: UnixTime, limit: u64) -> Result<u64, StoreError> {
        let expired = Query::select()
            .columns([oauth_dpop_jti::Column::Jkt, oauth_dpop_jti::Column::Jti])
            .from(oauth_dpop_jti::Entity)
            .and_where(oauth_dpop_jti::Column::ExpiresAt.lt(secs(now)))
            .limit(limit)
            .to_owned();
        // (jkt, jti) IN (SELECT jkt, jti ...): a tuple subquery both engines take.
        let deleted = oauth_dpop_jti::Entity::delete_many()
            .filter(
                Expr::tuple([
                    Expr::col(oauth_dpop_jti::Column::Jkt),
                    Expr::col(oauth_dpop_jti::Column::Jti),
                ])
                .in_subquery(expired),
            )
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;
    use sea_orm::PaginatorTrait;

    store_test!(a_dpop_proof_is_accepted_once_per_key, |store| {
        let exp = UnixTime::from_secs(2_000);
        assert!(store.use_dpop_jti("key-a", "j1", exp).await.unwrap());
        assert!(
            !store.use_dpop_jti("key-a", "j1", exp).await.unwrap(),
            "replay"
        );
        assert!(
            store.use_dpop_jti("key-b", "j1", exp).await.unwrap(),
            "another key's jti"
        );
    });

    store_test!(of_many_racing_uses_of_one_proof_exactly_one_wins, |store| {
        let exp = UnixTime::from_secs(2_000);
        let mut tries = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let store = store.clone();
            tries.spawn(async move { store.use_dpop_jti("key-a", "raced", exp).await });
        }
        let won = tries
            .join_all()
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(|won| *won)
            .count();
        assert_eq!(won, 1);
    });

    store_test!(
        expired_proofs_are_purged_in_batches_and_live_ones_kept,
        |store| {
            for i in 0..5 {
                store
                    .use_dpop_jti("k", &format!("old-{i}"), UnixTime::from_secs(100))
                    .await
                    .unwrap();
            }
            store
                .use_dpop_jti("k", "live", UnixTime::from_secs(300))
                .await
                .unwrap();
            let now = UnixTime::from_secs(200);
            assert_eq!(store.purge_dpop_jtis(now, 3).await.unwrap(), 3);
            assert_eq!(store.purge_dpop_jtis(now, 3).await.unwrap(), 2);
            assert_eq!(store.purge_dpop_jtis(now, 3).await.unwrap(), 0);
            let left = oauth_dpop_jti::Entity::find()
                .count(&store.db)
                .await
                .unwrap();
            assert_eq!(left, 1);
            assert!(
                !store
                    .use_dpop_jti("k", "live", UnixTime::from_secs(300))
                    .await
                    .unwrap(),
                "a live proof is still a replay after a purge"
            );
        }
    );
}

//! Forgetting the OAuth rows a stranger or a company can make in bulk once
//! they can no longer be used: pushed authorization requests
//! (`POST /oauth/par`), authorization requests waiting on the consent
//! screen, and authorization codes. Without it each of these tables grows
//! by one row per request, for ever.
//!
//! | table | deleted once | why then |
//! |---|---|---|
//! | `oauth_par` | past `expires_at`, used or not | an expired `request_uri` is refused either way |
//! | `oauth_pending_authorization` | past `expires_at` | taking it then answers "expired", the same as "unknown" |
//! | `oauth_code`, never used | past `expires_at` | redeeming it then is `invalid_grant` either way |
//! | `oauth_code`, used | [`USED_CODE_RETENTION_SECS`] past `expires_at` | until then a replay is still recognised, and revokes what the first use issued (RFC 6749 §4.1.2) |
//! | `oauth_dpop_jti` | past `expires_at` | the proof's `iat` is then too old for it to be accepted |
//!
//! Each table is purged in batches of [`PURGE_BATCH`] rows (one statement
//! each), so a large backlog never holds a write lock for long.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::entity::{oauth_code, oauth_par, oauth_pending_authorization};
use crate::{Store, StoreError, now};

/// How long a used authorization code is kept after it expires, so that a
/// replay is told apart from an unknown code and revokes the tokens the
/// first use issued.
pub const USED_CODE_RETENTION_SECS: i64 = 24 * 60 * 60;
/// Rows deleted per statement.
pub const PURGE_BATCH: u64 = 1_000;

/// Rows one purge deleted, by table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Pushed authorization requests.
    pub pushed_requests: u64,
    /// Authorization requests left on the consent screen.
    pub pending_authorizations: u64,
    /// Authorization codes.
    pub codes: u64,
    /// DPoP proofs' `jti`s.
    pub dpop_proofs: u64,
}

impl Purged {
    /// Whether a table had a full batch (more may be waiting).
    pub fn is_full_batch(&self) -> bool {
        self.pushed_requests >= PURGE_BATCH
            || self.pending_authorizations >= PURGE_BATCH
            || self.codes >= PURGE_BATCH
            || self.dpop_proofs >= PURGE_BATCH
    }

    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.pushed_requests + self.pending_authorizations + self.codes + self.dpop_proofs
    }
}

impl Store {
    /// Deletes up to [`PURGE_BATCH`] rows of each table that can no longer
    /// be used (see the module's table). Call again while
    /// [`Purged::is_full_batch`].
    pub async fn purge_spent_authorizations(&self) -> Result<Purged, StoreError> {
        let now_secs = now().unix_timestamp();

        // DELETE ... WHERE key IN (SELECT key ... LIMIT n): both engines
        // take it, where `DELETE ... LIMIT` is SQLite's alone.
        let pars = Query::select()
            .column(oauth_par::Column::RequestUriHash)
            .from(oauth_par::Entity)
            .and_where(oauth_par::Column::ExpiresAt.lt(now_secs))
            .limit(PURGE_BATCH)
            .to_owned();
        let pushed_requests = oauth_par::Entity::delete_many()
            .filter(oauth_par::Column::RequestUriHash.in_subquery(pars))
            .exec(&self.db)
            .await?
            .rows_affected;

        let pending = Query::select()
            .column(oauth_pending_authorization::Column::Id)
            .from(oauth_pending_authorization::Entity)
            .and_where(oauth_pending_authorization::Column::ExpiresAt.lte(now_secs))
            .limit(PURGE_BATCH)
            .to_owned();
        let pending_authorizations = oauth_pending_authorization::Entity::delete_many()
            .filter(oauth_pending_authorization::Column::Id.in_subquery(pending))
            .exec(&self.db)
            .await?
            .rows_affected;

        let spent = Condition::any()
            .add(
                Condition::all()
                    .add(oauth_code::Column::UsedAt.is_null())
                    .add(oauth_code::Column::ExpiresAt.lt(now_secs)),
            )
            .add(
                Condition::all()
                    .add(oauth_code::Column::UsedAt.is_not_null())
                    .add(
                        oauth_code::Column::ExpiresAt
                            .lt(now_secs.saturating_sub(USED_CODE_RETENTION_SECS)),
                    ),
            );
        let codes = Query::select()
            .column(oauth_code::Column::CodeHash)
            .from(oauth_code::Entity)
            .cond_where(spent)
            .limit(PURGE_BATCH)
            .to_owned();
        let codes = oauth_code::Entity::delete_many()
            .filter(oauth_code::Column::CodeHash.in_subquery(codes))
            .exec(&self.db)
            .await?
            .rows_affected;
        let dpop_proofs = self
            .purge_dpop_jtis(
                authz::UnixTime::from_secs(u64::try_from(now_secs).unwrap_or(0)),
                PURGE_BATCH,
            )
            .await?;
        Ok(Purged {
            pushed_requests,
            pending_authorizations,
            codes,
            dpop_proofs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;
    use sea_orm::{ActiveModelTrait, PaginatorTrait, Set};

    async fn par(store: &Store, id: &str, expires_at: i64, used: bool) {
        oauth_par::ActiveModel {
            request_uri_hash: Set(id.to_owned()),
            client_id: Set("acme".to_owned()),
            record: Set("{}".to_owned()),
            expires_at: Set(expires_at),
            used_at: Set(used.then_some(expires_at - 10)),
        }
        .insert(&store.db)
        .await
        .unwrap();
    }

    async fn pending(store: &Store, id: &str, expires_at: i64) {
        oauth_pending_authorization::ActiveModel {
            id: Set(id.to_owned()),
            client_id: Set("acme".to_owned()),
            record: Set("{}".to_owned()),
            expires_at: Set(expires_at),
        }
        .insert(&store.db)
        .await
        .unwrap();
    }

    async fn code(store: &Store, id: &str, expires_at: i64, used: bool) {
        oauth_code::ActiveModel {
            code_hash: Set(id.to_owned()),
            client_id: Set("acme".to_owned()),
            record: Set("{}".to_owned()),
            expires_at: Set(expires_at),
            used_at: Set(used.then_some(expires_at - 30)),
            family_id: Set(None),
            access_jti: Set(None),
            access_expires_at: Set(None),
        }
        .insert(&store.db)
        .await
        .unwrap();
    }

    async fn keys<E: EntityTrait>(store: &Store) -> Vec<String>
    where
        E::Model: Key,
    {
        let mut keys: Vec<String> = E::find()
            .all(&store.db)
            .await
            .unwrap()
            .iter()
            .map(Key::key)
            .collect();
        keys.sort();
        keys
    }

    trait Key {
        fn key(&self) -> String;
    }
    impl Key for oauth_par::Model {
        fn key(&self) -> String {
            self.request_uri_hash.clone()
        }
    }
    impl Key for oauth_pending_authorization::Model {
        fn key(&self) -> String {
            self.id.clone()
        }
    }
    impl Key for oauth_code::Model {
        fn key(&self) -> String {
            self.code_hash.clone()
        }
    }

    store_test!(what_can_no_longer_be_used_is_purged, |store| {
        let t = now().unix_timestamp();
        par(store, "par-live", t + 60, false).await;
        par(store, "par-live-used", t + 60, true).await;
        par(store, "par-expired", t - 1, false).await;
        par(store, "par-expired-used", t - 1, true).await;
        pending(store, "pending-live", t + 600).await;
        pending(store, "pending-expired", t - 1).await;
        code(store, "code-live", t + 60, false).await;
        code(store, "code-live-used", t + 60, true).await;
        code(store, "code-expired", t - 1, false).await;
        // Used and expired, but a replay must still be recognised.
        code(store, "code-used-recent", t - 60, true).await;
        code(
            store,
            "code-used-old",
            t - USED_CODE_RETENTION_SECS - 1,
            true,
        )
        .await;

        let t_unix = authz::UnixTime::from_secs(u64::try_from(t).unwrap());
        store
            .use_dpop_jti("k", "proof-old", t_unix.minus_secs(1))
            .await
            .unwrap();
        store
            .use_dpop_jti("k", "proof-live", t_unix.plus_secs(60))
            .await
            .unwrap();

        let purged = store.purge_spent_authorizations().await.unwrap();
        assert_eq!(
            purged,
            Purged {
                pushed_requests: 2,
                pending_authorizations: 1,
                codes: 2,
                dpop_proofs: 1,
            }
        );
        assert!(!purged.is_full_batch());
        assert_eq!(
            keys::<oauth_par::Entity>(store).await,
            ["par-live", "par-live-used"]
        );
        assert_eq!(
            keys::<oauth_pending_authorization::Entity>(store).await,
            ["pending-live"]
        );
        assert_eq!(
            keys::<oauth_code::Entity>(store).await,
            ["code-live", "code-live-used", "code-used-recent"]
        );
        // Nothing more to do.
        assert_eq!(store.purge_spent_authorizations().await.unwrap().total(), 0);
    });

    store_test!(a_backlog_is_purged_in_bounded_batches, |store| {
        let t = now().unix_timestamp();
        let backlog = PURGE_BATCH + 5;
        let rows = (0..backlog).map(|i| oauth_par::ActiveModel {
            request_uri_hash: Set(format!("par-{i:05}")),
            client_id: Set("acme".to_owned()),
            record: Set("{}".to_owned()),
            expires_at: Set(t - 1),
            used_at: Set(None),
        });
        for chunk in rows.collect::<Vec<_>>().chunks(200) {
            oauth_par::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&store.db)
                .await
                .unwrap();
        }
        let first = store.purge_spent_authorizations().await.unwrap();
        assert_eq!(first.pushed_requests, PURGE_BATCH);
        assert!(first.is_full_batch());
        let second = store.purge_spent_authorizations().await.unwrap();
        assert_eq!(second.pushed_requests, 5);
        assert_eq!(oauth_par::Entity::find().count(&store.db).await.unwrap(), 0);
    });
}

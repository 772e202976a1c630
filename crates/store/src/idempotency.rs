//! Idempotency keys: each company's `Idempotency-Key`s, the request each
//! was first sent with (a fingerprint) and the answer it got, so that a
//! retry replays the answer instead of acting again.
//!
//! | step | statement |
//! |---|---|
//! | claim | one `INSERT … ON CONFLICT DO NOTHING` on `(company_id, idem_key)`: of two concurrent requests exactly one inserts |
//! | finish | the claimant writes status, content type, `Location` and body |
//! | release | the claimant deletes the row when its request did not act (a server error, a rate limit) so a retry may run |
//! | prune | the sweeper deletes rows older than the keys' lifetime |
//!
//! Whether to wait for a running claim, and for how long, is the broker's
//! decision (`broker::idempotency`).

use consent_policy::CompanyId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::entity::idempotency_key;
use crate::{Store, StoreError};

/// An answer kept for a key, replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The `Location`, if the answer had one.
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key was free (or older than its lifetime): this request owns it
    /// and must [`Store::finish_idempotency_key`] or
    /// [`Store::release_idempotency_key`].
    Claimed,
    /// A request with this key and fingerprint is still running.
    Running,
    /// A request with this key and fingerprint was answered: replay this.
    Answered(StoredAnswer),
    /// The key was used with another request (fingerprint).
    Mismatch,
}

impl Store {
    /// Claims `key` of `company` for a request with `fingerprint`, at
    /// `now_secs`; a row created before `expired_before_secs` counts as free.
    pub async fn claim_idempotency_key(
        &self,
        company: &CompanyId,
        key: &str,
        fingerprint: &str,
        now_secs: i64,
        expired_before_secs: i64,
    ) -> Result<KeyClaim, StoreError> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::delete_many()
            .filter(C::CompanyId.eq(company.as_str()))
            .filter(C::IdemKey.eq(key))
            .filter(C::CreatedAt.lt(expired_before_secs))
            .exec(&self.db)
            .await?;
        let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            company_id: Set(company.as_str().to_owned()),
            idem_key: Set(key.to_owned()),
            fingerprint: Set(fingerprint.to_owned()),
            created_at: Set(now_secs),
            status: Set(None),
            content_type: Set(None),
            location: Set(None),
            body: Set(None),
        })
        .on_conflict(
            OnConflict::columns([C::CompanyId, C::IdemKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if inserted == 1 {
            return Ok(KeyClaim::Claimed);
        }
        let Some(row) =
            idempotency_key::Entity::find_by_id((company.as_str().to_owned(), key.to_owned()))
                .one(&self.db)
                .await?
        else {
            // Released between our insert and this read: as if still running;
            // the caller claims again.
            return Ok(KeyClaim::Running);
        };
        if row.fingerprint != fingerprint {
            return Ok(KeyClaim::Mismatch);
        }
        Ok(match (row.status, row.content_type, row.body) {
            (Some(status), Some(content_type), Some(body)) => KeyClaim::Answered(StoredAnswer {
                status: u16::try_from(status)
                    .map_err(|_| StoreError::corrupt("idempotency_key.status out of range"))?,
                content_type,
                location: row.location,
                body,
            }),
            _ => KeyClaim::Running,
        })
    }

    /// Keeps the answer of the request that claimed `key`.
    pub async fn finish_idempotency_key(
        &self,
        company: &CompanyId,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::update_many()
            .col_expr(C::Status, i32::from(answer.status).into())
            .col_expr(C::ContentType, answer.content_type.clone().into())
            .col_expr(C::Location, answer.location.clone().into())
            .col_expr(C::Body, answer.body.clone().into())
            .filter(C::CompanyId.eq(company.as_str()))
            .filter(C::IdemKey.eq(key))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Frees `key` after a request that did not act, so a retry may run.
    pub async fn release_idempotency_key(
        &self,
        company: &CompanyId,
        key: &str,
    ) -> Result<(), StoreError> {
        use idempotency_key::Column as C;
        idempotency_key::Entity::delete_many()
            .filter(C::CompanyId.eq(company.as_str()))
            .filter(C::IdemKey.eq(key))
            .filter(C::Status.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Deletes every key created before `before_secs`; how many.
    pub async fn prune_idempotency_keys(&self, before_secs: i64) -> Result<u64, StoreError> {
        let done = idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(before_secs))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    fn answer(body: &[u8]) -> StoredAnswer {
        StoredAnswer {
            status: 201,
            content_type: "application/json".to_owned(),
            location: Some("/v1/requests/r1".to_owned()),
            body: body.to_vec(),
        }
    }

    store_test!(a_key_is_claimed_once_answered_and_pruned, |store| {
        let acme = CompanyId::parse("acme").unwrap();
        let other = CompanyId::parse("other").unwrap();
        let claim = |company, fingerprint, now| {
            store.claim_idempotency_key(company, "k1", fingerprint, now, now - 100)
        };
        assert_eq!(claim(&acme, "f1", 1_000).await.unwrap(), KeyClaim::Claimed);
        assert_eq!(claim(&acme, "f1", 1_001).await.unwrap(), KeyClaim::Running);
        assert_eq!(claim(&acme, "f2", 1_001).await.unwrap(), KeyClaim::Mismatch);
        // Keys are per company.
        assert_eq!(claim(&other, "f2", 1_001).await.unwrap(), KeyClaim::Claimed);
        let body = b"{\"request_id\":\"r1\"}\xff";
        store
            .finish_idempotency_key(&acme, "k1", &answer(body))
            .await
            .unwrap();
        assert_eq!(
            claim(&acme, "f1", 1_002).await.unwrap(),
            KeyClaim::Answered(answer(body))
        );
        // A finished key is not released by a late release.
        store.release_idempotency_key(&acme, "k1").await.unwrap();
        assert!(matches!(
            claim(&acme, "f1", 1_003).await.unwrap(),
            KeyClaim::Answered(_)
        ));
        // A released key is free again.
        store.release_idempotency_key(&other, "k1").await.unwrap();
        assert_eq!(claim(&other, "f3", 1_003).await.unwrap(), KeyClaim::Claimed);
        // Past its lifetime the key is free for any request.
        assert_eq!(claim(&acme, "f9", 1_200).await.unwrap(), KeyClaim::Claimed);
        assert_eq!(store.prune_idempotency_keys(1_100).await.unwrap(), 1);
        assert_eq!(store.prune_idempotency_keys(2_000).await.unwrap(), 1);
    });
}

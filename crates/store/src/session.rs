//! Sessions: a hashed token, an absolute expiry and an idle timeout.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use time::{Duration, OffsetDateTime};

use crate::entity::session;
use crate::{PersonId, Store, StoreError, now};

/// When and how a session signed in (OpenID Connect `auth_time` and `amr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// When: the session's creation.
    pub at: OffsetDateTime,
    /// RFC 8176 method references (`hwk`, `user`, `pwd`, `otp`, `mfa`); empty when unknown.
    pub amr: Vec<String>,
}

/// A session unused this long is over.
pub const SESSION_IDLE: Duration = Duration::hours(1);
/// A session is over this long after sign-in, used or not.
pub const SESSION_ABSOLUTE: Duration = Duration::hours(12);
/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

impl Store {
    /// Starts a session for the person, who signed in by `amr` (RFC 8176
    /// method references, space-separated: `hwk user`, `pwd`, `otp pwd`…).
    pub async fn create_session(
        &self,
        person: &PersonId,
        token_hash: &str,
        amr: &str,
    ) -> Result<OffsetDateTime, StoreError> {
        let now = now();
        let expires_at = now + SESSION_ABSOLUTE;
        session::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            person_id: Set(person.as_str().to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
            amr: Set(Some(amr.to_owned())),
        }
        .insert(&self.db)
        .await?;
        Ok(expires_at)
    }

    /// The person a live session belongs to; `None` for an unknown, expired
    /// or idle session (which is then deleted).
    pub async fn session_person(&self, token_hash: &str) -> Result<Option<PersonId>, StoreError> {
        let Some(row) = session::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let now = now();
        if now >= row.expires_at || now - row.last_seen_at >= SESSION_IDLE {
            session::Entity::delete_by_id(token_hash.to_owned())
                .exec(&self.db)
                .await?;
            return Ok(None);
        }
        if now - row.last_seen_at >= TOUCH_EVERY {
            session::Entity::update_many()
                .col_expr(session::Column::LastSeenAt, Expr::value(now))
                .filter(session::Column::TokenHash.eq(token_hash))
                .exec(&self.db)
                .await?;
        }
        Ok(Some(PersonId::new(row.person_id)))
    }

    /// Ends one session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        session::Entity::delete_by_id(token_hash.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// When the session with this token hash signed in (`None`: no such
    /// session).
    pub async fn session_signed_in_at(
        &self,
        token_hash: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(session::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.created_at))
    }

    /// How and when the session with this token hash signed in (`None`: no
    /// such session). Sessions older than the `amr` column have no methods.
    pub async fn session_sign_in(&self, token_hash: &str) -> Result<Option<SignIn>, StoreError> {
        Ok(session::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|row| SignIn {
                at: row.created_at,
                amr: row
                    .amr
                    .map(|m| {
                        m.split(' ')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }))
    }

    /// Ends every session of the person but the one whose token hash is
    /// `keep`; returns how many ended.
    pub async fn delete_other_sessions(
        &self,
        person: &PersonId,
        keep: &str,
    ) -> Result<u64, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::PersonId.eq(person.as_str()))
            .filter(session::Column::TokenHash.ne(keep))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Ends every session of the person ("sign out everywhere").
    pub async fn delete_sessions(&self, person: &PersonId) -> Result<u64, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::PersonId.eq(person.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};

    async fn age_session(store: &Store, token_hash: &str, last_seen: Duration, created: Duration) {
        let row = session::Entity::find_by_id(token_hash.to_owned())
            .one(&store.db)
            .await
            .unwrap()
            .unwrap();
        let mut row: session::ActiveModel = row.into();
        row.last_seen_at = Set(now() - last_seen);
        row.expires_at = Set(now() - created + SESSION_ABSOLUTE);
        row.update(&store.db).await.unwrap();
    }

    store_test!(a_live_session_names_its_person, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        store
            .create_session(&ada.id, "h1", "hwk user")
            .await
            .unwrap();
        assert_eq!(
            store.session_person("h1").await.unwrap(),
            Some(ada.id.clone())
        );
        assert_eq!(store.session_person("unknown").await.unwrap(), None);
        let sign_in = store.session_sign_in("h1").await.unwrap().unwrap();
        assert_eq!(sign_in.amr, vec!["hwk".to_owned(), "user".to_owned()]);
        assert!(now() - sign_in.at < Duration::minutes(1));
        store.delete_session("h1").await.unwrap();
        assert_eq!(store.session_person("h1").await.unwrap(), None);
        assert_eq!(store.session_sign_in("h1").await.unwrap(), None);
    });

    store_test!(ending_the_other_sessions_keeps_this_one_only, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let bob = store
            .create_person(&Handle::parse("bob").unwrap())
            .await
            .unwrap();
        for hash in ["a1", "a2", "a3"] {
            store.create_session(&ada.id, hash, "pwd").await.unwrap();
        }
        store.create_session(&bob.id, "b1", "pwd").await.unwrap();
        let signed_in = store.session_signed_in_at("a2").await.unwrap().unwrap();
        assert!(now() - signed_in < Duration::minutes(1));
        assert_eq!(store.session_signed_in_at("none").await.unwrap(), None);
        assert_eq!(store.delete_other_sessions(&ada.id, "a2").await.unwrap(), 2);
        assert_eq!(store.session_person("a2").await.unwrap(), Some(ada.id));
        assert_eq!(store.session_person("a1").await.unwrap(), None);
        assert_eq!(store.session_person("b1").await.unwrap(), Some(bob.id));
    });

    store_test!(an_idle_session_is_over, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        store.create_session(&ada.id, "idle", "pwd").await.unwrap();
        age_session(
            store,
            "idle",
            SESSION_IDLE + Duration::seconds(1),
            Duration::minutes(90),
        )
        .await;
        assert_eq!(store.session_person("idle").await.unwrap(), None);
        assert!(
            session::Entity::find_by_id("idle".to_owned())
                .one(&store.db)
                .await
                .unwrap()
                .is_none()
        );
    });

    store_test!(a_busy_session_still_ends_at_its_absolute_limit, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        store.create_session(&ada.id, "old", "pwd").await.unwrap();
        age_session(
            store,
            "old",
            Duration::seconds(5),
            SESSION_ABSOLUTE + Duration::seconds(1),
        )
        .await;
        assert_eq!(store.session_person("old").await.unwrap(), None);
    });

    store_test!(
        signing_out_everywhere_ends_only_that_persons_sessions,
        |store| {
            let ada = store
                .create_person(&Handle::parse("ada").unwrap())
                .await
                .unwrap();
            let bob = store
                .create_person(&Handle::parse("bob").unwrap())
                .await
                .unwrap();
            for h in ["a1", "a2"] {
                store.create_session(&ada.id, h, "pwd").await.unwrap();
            }
            store.create_session(&bob.id, "b1", "pwd").await.unwrap();
            assert_eq!(store.delete_sessions(&ada.id).await.unwrap(), 2);
            assert_eq!(store.session_person("a2").await.unwrap(), None);
            assert_eq!(store.session_person("b1").await.unwrap(), Some(bob.id));
        }
    );
}

//! Sessions: a hashed token, an absolute expiry and an idle timeout.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use time::{Duration, OffsetDateTime};

use crate::entity::session;
use crate::{PersonId, Store, StoreError, now};

/// A session unused this long is over.
pub const SESSION_IDLE: Duration = Duration::hours(1);
/// A session is over this long after sign-in, used or not.
pub const SESSION_ABSOLUTE: Duration = Duration::hours(12);
/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

impl Store {
    /// Starts a session for the person.
    pub async fn create_session(
        &self,
        person: &PersonId,
        token_hash: &str,
    ) -> Result<OffsetDateTime, StoreError> {
        let now = now();
        let expires_at = now + SESSION_ABSOLUTE;
        session::ActiveModel {
            token_hash: Set(token_hash.to_owned()),
            person_id: Set(person.as_str().to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
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
        store.create_session(&ada.id, "h1").await.unwrap();
        assert_eq!(
            store.session_person("h1").await.unwrap(),
            Some(ada.id.clone())
        );
        assert_eq!(store.session_person("unknown").await.unwrap(), None);
        store.delete_session("h1").await.unwrap();
        assert_eq!(store.session_person("h1").await.unwrap(), None);
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
            store.create_session(&ada.id, hash).await.unwrap();
        }
        store.create_session(&bob.id, "b1").await.unwrap();
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
        store.create_session(&ada.id, "idle").await.unwrap();
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
        store.create_session(&ada.id, "old").await.unwrap();
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
                store.create_session(&ada.id, h).await.unwrap();
            }
            store.create_session(&bob.id, "b1").await.unwrap();
            assert_eq!(store.delete_sessions(&ada.id).await.unwrap(), 2);
            assert_eq!(store.session_person("a2").await.unwrap(), None);
            assert_eq!(store.session_person("b1").await.unwrap(), Some(bob.id));
        }
    );
}

//! WebAuthn ceremonies in progress: stored server-side under a random id,
//! short-lived, and taken (deleted) by the one request that finishes them.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use time::Duration;

use crate::entity::webauthn_ceremony;
use crate::{PersonId, Store, StoreError, now};

/// How long a browser has to answer a challenge.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// A ceremony in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCeremony {
    /// What it is for (`sign_up`, `sign_in`, `second_factor`, `add_passkey`).
    pub purpose: String,
    /// The person, when known.
    pub person_id: Option<PersonId>,
    /// The handle being signed up, for `sign_up`.
    pub handle: Option<String>,
    /// The serialised state.
    pub state: String,
}

impl Store {
    /// Keeps a ceremony's state under `id` for [`CEREMONY_TTL`].
    pub async fn save_ceremony(
        &self,
        id: &str,
        ceremony: PendingCeremony,
    ) -> Result<(), StoreError> {
        // Expired ceremonies are swept here, so the table stays small.
        webauthn_ceremony::Entity::delete_many()
            .filter(webauthn_ceremony::Column::ExpiresAt.lt(now()))
            .exec(&self.db)
            .await?;
        webauthn_ceremony::ActiveModel {
            id: Set(id.to_owned()),
            purpose: Set(ceremony.purpose),
            person_id: Set(ceremony.person_id.map(|p| p.as_str().to_owned())),
            handle: Set(ceremony.handle),
            state: Set(ceremony.state),
            expires_at: Set(now() + CEREMONY_TTL),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Takes the ceremony `id` for `purpose`: it can be taken once, and not
    /// after it expired. `None` otherwise.
    pub async fn take_ceremony(
        &self,
        id: &str,
        purpose: &str,
    ) -> Result<Option<PendingCeremony>, StoreError> {
        let Some(row) = webauthn_ceremony::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns the ceremony: a concurrent replay
        // deletes nothing and gets nothing.
        let deleted = webauthn_ceremony::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        if deleted.rows_affected != 1 || row.purpose != purpose || row.expires_at <= now() {
            return Ok(None);
        }
        Ok(Some(PendingCeremony {
            purpose: row.purpose,
            person_id: row.person_id.map(PersonId::new),
            handle: row.handle,
            state: row.state,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    fn pending(purpose: &str) -> PendingCeremony {
        PendingCeremony {
            purpose: purpose.to_owned(),
            person_id: None,
            handle: Some("ada".to_owned()),
            state: "{}".to_owned(),
        }
    }

    store_test!(a_ceremony_is_taken_once, |store| {
        store.save_ceremony("c1", pending("sign_up")).await.unwrap();
        assert_eq!(
            store.take_ceremony("c1", "sign_up").await.unwrap(),
            Some(pending("sign_up"))
        );
        assert_eq!(store.take_ceremony("c1", "sign_up").await.unwrap(), None);
    });

    store_test!(a_ceremony_for_another_purpose_is_burnt, |store| {
        store.save_ceremony("c2", pending("sign_in")).await.unwrap();
        assert_eq!(store.take_ceremony("c2", "sign_up").await.unwrap(), None);
        assert_eq!(store.take_ceremony("c2", "sign_in").await.unwrap(), None);
    });

    store_test!(an_expired_ceremony_is_refused, |store| {
        store.save_ceremony("c3", pending("sign_up")).await.unwrap();
        let row = webauthn_ceremony::Entity::find_by_id("c3".to_owned())
            .one(&store.db)
            .await
            .unwrap()
            .unwrap();
        let mut row: webauthn_ceremony::ActiveModel = row.into();
        row.expires_at = Set(now() - Duration::seconds(1));
        row.update(&store.db).await.unwrap();
        assert_eq!(store.take_ceremony("c3", "sign_up").await.unwrap(), None);
    });

    store_test!(concurrent_takes_give_the_ceremony_to_one, |store| {
        store.save_ceremony("c4", pending("sign_up")).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.take_ceremony("c4", "sign_up").await.unwrap()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(winners, 1);
    });
}

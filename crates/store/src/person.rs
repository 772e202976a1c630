//! People: sign-up by handle, sharing preferences, and the policy profile
//! that the consent engine evaluates.

use consent_policy::{
    AttributeKey, Bucket, CompanyId, GrantDuration, Handle, PersonId, Profile, SharingDefault,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};

use crate::entity::{attribute, blocked_company, person, rule};
use crate::{Backend, Store, StoreError, new_id, now};

/// The longest grant a new person accepts until they say otherwise.
pub(crate) const DEFAULT_MAX_DURATION: &str = "P1Y";

/// The most people one call of [`Store::people`] returns.
pub const MAX_PEOPLE_LISTED: u64 = 1000;

/// A person as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// Internal id.
    pub id: PersonId,
    /// Public name.
    pub handle: Handle,
    /// The opaque name the ledger knows them by.
    pub pseudonym: String,
    /// What happens where no rule speaks.
    pub sharing_default: SharingDefault,
    /// The longest grant they accept.
    pub max_duration: GrantDuration,
    /// Contact preferences (channels, hours, frequency), as JSON.
    pub contact: serde_json::Value,
    /// Sign-up time.
    pub created_at: time::OffsetDateTime,
    /// Whether the operator suspended them (`apiome person suspend`).
    pub suspended: bool,
    /// For a synthetic person, the sandbox company they were made for
    /// (their `handle` is then a `sandbox-` name, see
    /// [`consent_policy::SandboxPerson`]); `None` for a real person.
    pub sandbox_of: Option<CompanyId>,
}

impl TryFrom<person::Model> for Person {
    type Error = StoreError;
    fn try_from(row: person::Model) -> Result<Self, StoreError> {
        let sandbox_of = row
            .sandbox_of
            .as_deref()
            .map(CompanyId::parse)
            .transpose()
            .map_err(|_| StoreError::corrupt("person.sandbox_of"))?;
        let handle = match sandbox_of {
            None => Handle::parse(&row.handle).map_err(StoreError::corrupt)?,
            Some(_) => crate::sandbox::synthetic_handle(&row.handle)?,
        };
        Ok(Person {
            handle,
            sandbox_of,
            sharing_default: crate::parse_column(&row.sharing_default, "person.sharing_default")?,
            max_duration: GrantDuration::parse(&row.max_duration)
                .map_err(|_| StoreError::corrupt("person.max_duration"))?,
            contact: serde_json::from_str(&row.contact)
                .map_err(|_| StoreError::corrupt("person.contact"))?,
            id: PersonId::new(row.id),
            pseudonym: row.pseudonym,
            created_at: row.created_at,
            suspended: row.suspended_at.is_some(),
        })
    }
}

/// A random 128-bit ledger pseudonym, unrelated to the handle or the id.
pub(crate) fn new_pseudonym() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::corrupt(format!("no randomness: {e}")))?;
    Ok(format!("p-{}", hex::encode(bytes)))
}

impl Store {
    /// Signs a person up under `handle`, with the "ask me" default.
    pub async fn create_person(&self, handle: &Handle) -> Result<Person, StoreError> {
        let row = person::ActiveModel {
            id: Set(new_id()),
            handle: Set(handle.as_str().to_owned()),
            pseudonym: Set(new_pseudonym()?),
            sharing_default: Set(SharingDefault::AskMe.to_string()),
            max_duration: Set(DEFAULT_MAX_DURATION.to_owned()),
            contact: Set("{}".to_owned()),
            created_at: Set(now()),
            policy_version: Set(0),
            suspended_at: Set(None),
            sandbox_of: Set(None),
            erased_at: Set(None),
        };
        match row.insert(&self.db).await {
            Ok(row) => Person::try_from(row),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(StoreError::HandleTaken(handle.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The person with this id (an erased person is not found).
    pub async fn person(&self, id: &PersonId) -> Result<Person, StoreError> {
        person::Entity::find_by_id(id.as_str().to_owned())
            .filter(person::Column::ErasedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or(StoreError::PersonNotFound)
            .and_then(Person::try_from)
    }

    /// People in the order they signed up, at most [`MAX_PEOPLE_LISTED`]
    /// from the first signed up after `after` (a person id; `None` starts
    /// at the beginning).
    pub async fn people(&self, after: Option<&PersonId>) -> Result<Vec<Person>, StoreError> {
        let mut query = person::Entity::find().filter(person::Column::ErasedAt.is_null());
        if let Some(after) = after {
            let after = self.person(after).await?;
            query = query.filter(
                Condition::any()
                    .add(person::Column::CreatedAt.gt(after.created_at))
                    .add(
                        Condition::all()
                            .add(person::Column::CreatedAt.eq(after.created_at))
                            .add(person::Column::Id.gt(after.id.as_str())),
                    ),
            );
        }
        query
            .order_by_asc(person::Column::CreatedAt)
            .order_by_asc(person::Column::Id)
            .limit(MAX_PEOPLE_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Person::try_from)
            .collect()
    }

    /// The person with this handle.
    pub async fn person_by_handle(&self, handle: &Handle) -> Result<Person, StoreError> {
        person::Entity::find()
            .filter(person::Column::Handle.eq(handle.as_str()))
            .filter(person::Column::ErasedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or(StoreError::PersonNotFound)
            .and_then(Person::try_from)
    }

    /// Replaces the person's sharing default, maximum grant duration and
    /// contact preferences.
    pub async fn set_preferences(
        &self,
        id: &PersonId,
        sharing_default: SharingDefault,
        max_duration: &GrantDuration,
        contact: &serde_json::Value,
    ) -> Result<Person, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, id).await?;
        let row = person::Entity::find_by_id(id.as_str().to_owned())
            .one(&txn)
            .await?
            .ok_or(StoreError::PersonNotFound)?;
        let mut row: person::ActiveModel = row.into();
        row.sharing_default = Set(sharing_default.to_string());
        row.max_duration = Set(max_duration.to_string());
        row.contact = Set(contact.to_string());
        let person = Person::try_from(row.update(&txn).await?)?;
        txn.commit().await?;
        Ok(person)
    }

    /// Checks the person exists and, on PostgreSQL, locks their row until
    /// `txn` ends, so that checks of per-person bounds and orders cannot
    /// race. (SQLite's `BEGIN IMMEDIATE` already serialises writers.)
    pub(crate) async fn lock_person(
        &self,
        txn: &DatabaseTransaction,
        id: &PersonId,
    ) -> Result<(), StoreError> {
        let mut query = person::Entity::find_by_id(id.as_str().to_owned())
            .filter(person::Column::ErasedAt.is_null());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        query.one(txn).await?.ok_or(StoreError::PersonNotFound)?;
        Ok(())
    }

    /// Locks the person's row until `txn` ends (as [`Store::lock_person`])
    /// and bumps their `policy_version`: every change to what the person
    /// shares goes through here, so a read that decided under the old
    /// policy learns at its commit that it must decide again.
    pub(crate) async fn change_policy(
        &self,
        txn: &DatabaseTransaction,
        id: &PersonId,
    ) -> Result<(), StoreError> {
        let bumped = person::Entity::update_many()
            .col_expr(
                person::Column::PolicyVersion,
                Expr::col(person::Column::PolicyVersion).add(1),
            )
            .filter(person::Column::Id.eq(id.as_str()))
            .filter(person::Column::ErasedAt.is_null())
            .exec(txn)
            .await?;
        if bumped.rows_affected == 0 {
            return Err(StoreError::PersonNotFound);
        }
        // On PostgreSQL, also take the ledger head's lock (after the
        // person's, the order every writer keeps): a disclosure group
        // holds it while it checks `policy_version` and appends, so a
        // group either commits before this change (its entries come
        // first) or reads the new version after it. A change that appends
        // no entry of its own (a move to private, a rule) would otherwise
        // slip between a group's check and its commit. SQLite's single
        // writer already orders them.
        if self.backend() == Backend::Postgres {
            crate::ledger::head_size(txn, Backend::Postgres, true).await?;
        }
        Ok(())
    }

    /// Everything the consent engine needs to decide for this person, read
    /// in one transaction so it is a consistent snapshot.
    pub async fn profile(&self, id: &PersonId) -> Result<Profile, StoreError> {
        let txn = self.read_txn().await?;
        let profile = profile_in(&txn, id).await?;
        txn.commit().await?;
        Ok(profile)
    }
}

/// [`Store::profile`] read in `txn` (inside a write transaction, after
/// the person's lock, it is the policy no one can change until commit).
pub(crate) async fn profile_in(
    txn: &DatabaseTransaction,
    id: &PersonId,
) -> Result<Profile, StoreError> {
    {
        let person = person::Entity::find_by_id(id.as_str().to_owned())
            .filter(person::Column::ErasedAt.is_null())
            .one(txn)
            .await?
            .ok_or(StoreError::PersonNotFound)
            .and_then(Person::try_from)?;
        let buckets = attribute::Entity::find()
            .filter(attribute::Column::PersonId.eq(id.as_str()))
            .all(txn)
            .await?
            .into_iter()
            .map(|row| {
                let key = AttributeKey::parse(&row.key).map_err(StoreError::corrupt)?;
                let bucket: Bucket = crate::parse_column(&row.bucket, "attribute.bucket")?;
                Ok((key, bucket))
            })
            .collect::<Result<_, StoreError>>()?;
        let rules = rule::Entity::find()
            .filter(rule::Column::PersonId.eq(id.as_str()))
            .order_by_asc(rule::Column::Position)
            .all(txn)
            .await?
            .into_iter()
            .map(|row| serde_json::from_str(&row.body).map_err(StoreError::corrupt))
            .collect::<Result<_, StoreError>>()?;
        let blocked = blocked_company::Entity::find()
            .filter(blocked_company::Column::PersonId.eq(id.as_str()))
            .all(txn)
            .await?
            .into_iter()
            .map(|row| CompanyId::parse(&row.company_id).map_err(StoreError::corrupt))
            .collect::<Result<_, StoreError>>()?;
        Ok(Profile {
            default: person.sharing_default,
            buckets,
            rules,
            blocked,
            max_duration: person.max_duration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    #[test]
    fn handles_are_normalised_and_checked() {
        assert_eq!(Handle::parse("Ada_99").unwrap().as_str(), "ada_99");
        for bad in [
            "",
            "ab",
            "9lives",
            "has space",
            "dash-ed",
            "é_accent",
            &"a".repeat(33),
        ] {
            assert!(Handle::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    store_test!(a_new_person_asks_by_default, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        assert_eq!(ada.sharing_default, SharingDefault::AskMe);
        assert_eq!(ada.max_duration.to_string(), "P1Y");
        assert!(ada.pseudonym.starts_with("p-") && ada.pseudonym.len() == 34);
        // Random, not derived from the handle: hex after the prefix.
        assert!(ada.pseudonym[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(store.person(&ada.id).await.unwrap(), ada);
        assert_eq!(
            store
                .person_by_handle(&Handle::parse("ADA").unwrap())
                .await
                .unwrap(),
            ada
        );
    });

    store_test!(
        people_are_listed_in_sign_up_order_page_after_page,
        |store| {
            let mut signed_up = Vec::new();
            for handle in ["ada", "grace", "edsger", "barbara"] {
                let person = store
                    .create_person(&Handle::parse(handle).unwrap())
                    .await
                    .unwrap();
                signed_up.push(person.id);
                // Apart in time: people signed up in the same instant are
                // ordered by id, not by who came first.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let ids = |people: Vec<Person>| people.into_iter().map(|p| p.id).collect::<Vec<_>>();
            assert_eq!(ids(store.people(None).await.unwrap()), signed_up);
            assert_eq!(
                ids(store.people(Some(&signed_up[1])).await.unwrap()),
                signed_up[2..]
            );
            assert!(store.people(Some(&signed_up[3])).await.unwrap().is_empty());
            let nobody = PersonId::new("00000000-0000-0000-0000-000000000000");
            assert!(matches!(
                store.people(Some(&nobody)).await,
                Err(StoreError::PersonNotFound)
            ));
        }
    );

    store_test!(a_handle_is_taken_once, |store| {
        let handle = Handle::parse("grace").unwrap();
        store.create_person(&handle).await.unwrap();
        let err = store.create_person(&handle).await.unwrap_err();
        assert!(matches!(err, StoreError::HandleTaken(h) if h == "grace"));
    });

    store_test!(preferences_are_saved_whole, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let contact = serde_json::json!({"channels": ["email"], "hours": "09-17", "per_week": 2});
        let max = GrantDuration::parse("P30D").unwrap();
        store
            .set_preferences(&ada.id, SharingDefault::ShareNothing, &max, &contact)
            .await
            .unwrap();
        let again = store.person(&ada.id).await.unwrap();
        assert_eq!(again.sharing_default, SharingDefault::ShareNothing);
        assert_eq!(again.max_duration, max);
        assert_eq!(again.contact, contact);
    });

    store_test!(unknown_people_are_not_found, |store| {
        let nobody = PersonId::new("00000000-0000-0000-0000-000000000000");
        assert!(matches!(
            store.person(&nobody).await,
            Err(StoreError::PersonNotFound)
        ));
        assert!(matches!(
            store.profile(&nobody).await,
            Err(StoreError::PersonNotFound)
        ));
        let max = GrantDuration::parse("P1D").unwrap();
        let err = store
            .set_preferences(&nobody, SharingDefault::AskMe, &max, &serde_json::json!({}))
            .await;
        assert!(matches!(err, Err(StoreError::PersonNotFound)));
    });
}

//! Synthetic people of sandbox companies (rows only; who may reach them is
//! decided in `broker::sandbox`).
//!
//! A synthetic person is an ordinary `person` row with `sandbox_of` set to
//! its company, its attributes sealed like anyone's, so requests, grants,
//! reads, money and the ledger treat it as they treat a real person. Its
//! stored handle is `sandbox-<rule>~<digest>`: the digest (of the company
//! id) keeps the handle unique per company within the column's 64
//! characters, and the `-` and `~` keep it out of reach of
//! [`Store::person_by_handle`], which only ever looks up real handles.

use consent_policy::{AttributeKey, Bucket, CompanyId, Handle, RequestStatus, SandboxPerson};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};
use sha2::{Digest, Sha256};

use crate::entity::{attribute, data_request, person};
use crate::person::{DEFAULT_MAX_DURATION, Person, new_pseudonym};
use crate::{Store, StoreError, StoredRequest, new_id, now};

/// The most pending requests to synthetic people one call of
/// [`Store::pending_sandbox_requests`] returns.
pub const MAX_PENDING_SANDBOX_LISTED: u64 = 500;

/// Hex digits of the company id's SHA-256 in a stored handle (96 bits).
const DIGEST_HEX: usize = 24;

fn stored_handle(company: &CompanyId, who: SandboxPerson) -> String {
    let digest = hex::encode(Sha256::digest(company.as_str().as_bytes()));
    format!("{who}~{}", &digest[..DIGEST_HEX])
}

/// The handle a synthetic person's row stands for (`sandbox-ask-5`).
pub(crate) fn synthetic_handle(stored: &str) -> Result<Handle, StoreError> {
    let (name, _) = stored
        .split_once('~')
        .ok_or_else(|| StoreError::corrupt("person.handle of a synthetic person"))?;
    match SandboxPerson::parse(name) {
        Ok(Some(who)) => Ok(who.handle()),
        _ => Err(StoreError::corrupt("person.handle of a synthetic person")),
    }
}

impl Store {
    /// Pending requests to synthetic people, oldest first, at most
    /// [`MAX_PENDING_SANDBOX_LISTED`] (only `sandbox-ask-N` people leave
    /// requests pending, for at most an hour, so there are few).
    pub async fn pending_sandbox_requests(&self) -> Result<Vec<StoredRequest>, StoreError> {
        let synthetic = Query::select()
            .column(person::Column::Id)
            .from(person::Entity)
            .and_where(person::Column::SandboxOf.is_not_null())
            .to_owned();
        data_request::Entity::find()
            .filter(data_request::Column::Status.eq(RequestStatus::Pending.as_str()))
            .filter(data_request::Column::PersonId.in_subquery(synthetic))
            .order_by_asc(data_request::Column::CreatedAt)
            .limit(MAX_PENDING_SANDBOX_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredRequest::try_from)
            .collect()
    }

    /// `company`'s synthetic person `who`, if it was made.
    pub async fn sandbox_person(
        &self,
        company: &CompanyId,
        who: SandboxPerson,
    ) -> Result<Option<Person>, StoreError> {
        person::Entity::find()
            .filter(person::Column::Handle.eq(stored_handle(company, who)))
            .filter(person::Column::SandboxOf.eq(company.as_str()))
            .one(&self.db)
            .await?
            .map(Person::try_from)
            .transpose()
    }

    /// Makes `company`'s synthetic person `who` with `attributes`, in one
    /// transaction; when another call made it first, that person.
    pub async fn create_sandbox_person(
        &self,
        company: &CompanyId,
        who: SandboxPerson,
        attributes: &[(AttributeKey, serde_json::Value, Bucket)],
    ) -> Result<Person, StoreError> {
        let id = new_id();
        let mut sealed = Vec::with_capacity(attributes.len());
        for (key, value, bucket) in attributes {
            let value = self
                .keys
                .seal(&id, key.as_str(), value.to_string().as_bytes())
                .map_err(StoreError::corrupt)?;
            sealed.push(attribute::ActiveModel {
                person_id: Set(id.clone()),
                key: Set(key.to_string()),
                value: Set(value),
                bucket: Set(bucket.to_string()),
                updated_at: Set(now()),
            });
        }
        let row = person::ActiveModel {
            id: Set(id),
            handle: Set(stored_handle(company, who)),
            pseudonym: Set(new_pseudonym()?),
            sharing_default: Set(who.sharing_default().to_string()),
            max_duration: Set(DEFAULT_MAX_DURATION.to_owned()),
            contact: Set("{}".to_owned()),
            created_at: Set(now()),
            policy_version: Set(0),
            suspended_at: Set(None),
            sandbox_of: Set(Some(company.as_str().to_owned())),
            erased_at: Set(None),
        };
        {
            let (_turn, txn) = self.write_txn().await?;
            match row.insert(&txn).await {
                Ok(row) => {
                    let made = Person::try_from(row)?;
                    if !sealed.is_empty() {
                        attribute::Entity::insert_many(sealed).exec(&txn).await?;
                    }
                    txn.commit().await?;
                    return Ok(made);
                }
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Made by a concurrent call (the transaction and its turn are over).
        self.sandbox_person(company, who)
            .await?
            .ok_or(StoreError::PersonNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_test;

    store_test!(
        a_synthetic_person_is_made_once_per_company_and_never_found_by_handle,
        |store| {
            let acme = CompanyId::parse("acme").unwrap();
            let other = CompanyId::parse("other").unwrap();
            let who = SandboxPerson::Ask { after_secs: 2 };
            assert_eq!(store.sandbox_person(&acme, who).await.unwrap(), None);
            let made = store
                .create_sandbox_person(&acme, who, &who.attributes(&acme))
                .await
                .unwrap();
            assert_eq!(made.handle.as_str(), "sandbox-ask-2");
            assert_eq!(made.sandbox_of.as_ref(), Some(&acme));
            assert_eq!(made.sharing_default, who.sharing_default());
            let again = store
                .create_sandbox_person(&acme, who, &who.attributes(&acme))
                .await
                .unwrap();
            assert_eq!(again.id, made.id, "made once");
            assert_eq!(
                store.sandbox_person(&acme, who).await.unwrap(),
                Some(made.clone())
            );
            assert_eq!(store.sandbox_person(&other, who).await.unwrap(), None);
            let theirs = store
                .create_sandbox_person(&other, who, &who.attributes(&other))
                .await
                .unwrap();
            assert_ne!(theirs.id, made.id);
            assert_eq!(
                store.attributes(&made.id).await.unwrap().len(),
                who.attributes(&acme).len()
            );
            // No real handle reaches them: the handle lookup takes only real
            // handles, and `sandbox_ask_2` is someone else.
            let lookalike = Handle::parse("sandbox_ask_2").unwrap();
            assert!(matches!(
                store.person_by_handle(&lookalike).await,
                Err(StoreError::PersonNotFound)
            ));
        }
    );
}

//! A person's attributes: one value per key, each in a bucket.

use consent_policy::{AttributeKey, Bucket, MAX_ATTRIBUTES_PER_PERSON};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use crate::entity::attribute;
use crate::{PersonId, Store, StoreError, now};

/// The largest value, measured as compact JSON.
pub const MAX_VALUE_BYTES: usize = 4096;

/// One attribute as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAttribute {
    /// What it is.
    pub key: AttributeKey,
    /// Its value.
    pub value: serde_json::Value,
    /// Who may see it.
    pub bucket: Bucket,
    /// Last change.
    pub updated_at: time::OffsetDateTime,
}

impl TryFrom<attribute::Model> for StoredAttribute {
    type Error = StoreError;
    fn try_from(row: attribute::Model) -> Result<Self, StoreError> {
        Ok(StoredAttribute {
            key: AttributeKey::parse(&row.key).map_err(StoreError::corrupt)?,
            value: serde_json::from_str(&row.value)
                .map_err(|_| StoreError::corrupt("attribute.value"))?,
            bucket: crate::parse_column(&row.bucket, "attribute.bucket")?,
            updated_at: row.updated_at,
        })
    }
}

impl Store {
    /// Sets (creates or replaces) one attribute's value and bucket.
    pub async fn put_attribute(
        &self,
        person: &PersonId,
        key: &AttributeKey,
        value: &serde_json::Value,
        bucket: Bucket,
    ) -> Result<StoredAttribute, StoreError> {
        let text = value.to_string();
        if text.len() > MAX_VALUE_BYTES {
            return Err(StoreError::ValueTooLarge {
                bytes: text.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        let txn = self.write_txn().await?;
        self.lock_person(&txn, person).await?;
        let exists = attribute::Entity::find_by_id((person.0.clone(), key.to_string()))
            .one(&txn)
            .await?
            .is_some();
        if !exists {
            let count = attribute::Entity::find()
                .filter(attribute::Column::PersonId.eq(person.as_str()))
                .count(&txn)
                .await?;
            if count >= MAX_ATTRIBUTES_PER_PERSON as u64 {
                return Err(StoreError::TooManyAttributes {
                    max: MAX_ATTRIBUTES_PER_PERSON,
                });
            }
        }
        let row = attribute::ActiveModel {
            person_id: Set(person.0.clone()),
            key: Set(key.to_string()),
            value: Set(text),
            bucket: Set(bucket.to_string()),
            updated_at: Set(now()),
        };
        attribute::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([attribute::Column::PersonId, attribute::Column::Key])
                    .update_columns([
                        attribute::Column::Value,
                        attribute::Column::Bucket,
                        attribute::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        let stored = attribute::Entity::find_by_id((person.0.clone(), key.to_string()))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("attribute vanished after upsert"))?;
        txn.commit().await?;
        StoredAttribute::try_from(stored)
    }

    /// All of a person's attributes, by key.
    pub async fn attributes(&self, person: &PersonId) -> Result<Vec<StoredAttribute>, StoreError> {
        attribute::Entity::find()
            .filter(attribute::Column::PersonId.eq(person.as_str()))
            .order_by_asc(attribute::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredAttribute::try_from)
            .collect()
    }

    /// One attribute of a person.
    pub async fn attribute(
        &self,
        person: &PersonId,
        key: &AttributeKey,
    ) -> Result<StoredAttribute, StoreError> {
        attribute::Entity::find_by_id((person.0.clone(), key.to_string()))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::AttributeNotFound(key.to_string()))
            .and_then(StoredAttribute::try_from)
    }

    /// Deletes one attribute.
    pub async fn delete_attribute(
        &self,
        person: &PersonId,
        key: &AttributeKey,
    ) -> Result<(), StoreError> {
        let result = attribute::Entity::delete_by_id((person.0.clone(), key.to_string()))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::AttributeNotFound(key.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};
    use serde_json::json;

    fn key(k: &str) -> AttributeKey {
        AttributeKey::parse(k).unwrap()
    }

    store_test!(attributes_read_back_exactly_across_buckets, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let values = [
            ("email", json!("ada@example.org"), Bucket::SemiPrivate),
            ("birth_date", json!("1815-12-10"), Bucket::Private),
            ("display_name", json!("Ada"), Bucket::Public),
            ("interests", json!(["maths", "poetry"]), Bucket::Public),
            (
                "x-favourite-engine",
                json!({"name": "analytical", "year": 1837}),
                Bucket::SemiPrivate,
            ),
        ];
        for (k, v, b) in &values {
            store.put_attribute(&ada.id, &key(k), v, *b).await.unwrap();
        }
        let stored = store.attributes(&ada.id).await.unwrap();
        assert_eq!(stored.len(), values.len());
        for (k, v, b) in &values {
            let got = stored.iter().find(|a| a.key == key(k)).unwrap();
            assert_eq!((&got.value, got.bucket), (v, *b), "{k}");
        }
        // sorted by key
        let keys: Vec<_> = stored.iter().map(|a| a.key.to_string()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    });

    store_test!(putting_again_replaces_value_and_bucket, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        store
            .put_attribute(&ada.id, &key("email"), &json!("a@x.org"), Bucket::Private)
            .await
            .unwrap();
        let moved = store
            .put_attribute(&ada.id, &key("email"), &json!("b@x.org"), Bucket::Public)
            .await
            .unwrap();
        assert_eq!(
            (moved.value, moved.bucket),
            (json!("b@x.org"), Bucket::Public)
        );
        assert_eq!(store.attributes(&ada.id).await.unwrap().len(), 1);
    });

    store_test!(one_persons_attributes_are_not_anothers, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let bob = store
            .create_person(&Handle::parse("bob").unwrap())
            .await
            .unwrap();
        store
            .put_attribute(&ada.id, &key("email"), &json!("ada@x.org"), Bucket::Public)
            .await
            .unwrap();
        assert!(store.attributes(&bob.id).await.unwrap().is_empty());
        assert!(matches!(
            store.attribute(&bob.id, &key("email")).await,
            Err(StoreError::AttributeNotFound(_))
        ));
        assert!(matches!(
            store.delete_attribute(&bob.id, &key("email")).await,
            Err(StoreError::AttributeNotFound(_))
        ));
        assert_eq!(store.attributes(&ada.id).await.unwrap().len(), 1);
    });

    store_test!(deleting_removes_the_attribute, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        store
            .put_attribute(
                &ada.id,
                &key("phone"),
                &json!("+44 20 7946 0000"),
                Bucket::SemiPrivate,
            )
            .await
            .unwrap();
        store
            .delete_attribute(&ada.id, &key("phone"))
            .await
            .unwrap();
        assert!(store.attributes(&ada.id).await.unwrap().is_empty());
    });

    store_test!(oversized_values_are_refused_and_nothing_changes, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let big = json!("x".repeat(MAX_VALUE_BYTES));
        let err = store
            .put_attribute(&ada.id, &key("x-notes"), &big, Bucket::Private)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::ValueTooLarge {
                max: MAX_VALUE_BYTES,
                ..
            }
        ));
        assert!(store.attributes(&ada.id).await.unwrap().is_empty());
    });

    store_test!(attributes_are_bounded_per_person, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        for i in 0..MAX_ATTRIBUTES_PER_PERSON {
            store
                .put_attribute(
                    &ada.id,
                    &key(&format!("x-a{i}")),
                    &json!(i),
                    Bucket::Private,
                )
                .await
                .unwrap();
        }
        let err = store
            .put_attribute(&ada.id, &key("x-one-more"), &json!(1), Bucket::Private)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::TooManyAttributes { .. }));
        // replacing an existing one is still allowed at the bound
        store
            .put_attribute(&ada.id, &key("x-a0"), &json!("new"), Bucket::Public)
            .await
            .unwrap();
    });

    store_test!(attributes_of_unknown_people_are_refused, |store| {
        let nobody = PersonId("nobody".into());
        let err = store
            .put_attribute(&nobody, &key("email"), &json!("a@b.c"), Bucket::Public)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::PersonNotFound), "{err:?}");
    });

    store_test!(the_database_refuses_a_bucket_outside_the_three, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let sql = format!(
            "INSERT INTO attribute (person_id, key, value, bucket, updated_at) \
             VALUES ('{}', 'email', '\"a@b.c\"', 'secret', CURRENT_TIMESTAMP)",
            ada.id
        );
        assert!(store.execute_unprepared(&sql).await.is_err());
    });
}

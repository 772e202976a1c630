//! A person's attributes: one value per key, each in a bucket.

use consent_policy::{AttributeKey, Bucket, MAX_ATTRIBUTES_PER_PERSON};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entity::attribute;
use crate::sealed::{self, DataKeys, PersonKey};
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

impl StoredAttribute {
    /// A row, its value opened with the person's key (or, written before
    /// person keys, the server's `keys`).
    pub(crate) fn open(
        keys: &DataKeys,
        person_key: Option<&PersonKey>,
        row: attribute::Model,
    ) -> Result<Self, StoreError> {
        Ok(StoredAttribute {
            value: open_value(keys, person_key, &row.person_id, &row.key, &row.value)?,
            key: AttributeKey::parse(&row.key).map_err(StoreError::corrupt)?,
            bucket: crate::parse_column(&row.bucket, "attribute.bucket")?,
            updated_at: row.updated_at,
        })
    }
}

/// The JSON value of a stored cell: opened when sealed; a row written
/// before values were sealed (plain JSON) or before person keys (`v1.`)
/// stays so until `apiome keys rotate-data` reseals it.
fn open_value(
    keys: &DataKeys,
    person_key: Option<&PersonKey>,
    person_id: &str,
    key: &str,
    stored: &str,
) -> Result<serde_json::Value, StoreError> {
    let json = crate::person_key::open_cell(keys, person_key, person_id, key, stored)?;
    serde_json::from_slice(&json).map_err(|_| StoreError::corrupt("attribute.value"))
}

/// What [`Store::reseal_attributes`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values looked at.
    pub values: u64,
    /// Values sealed again (under their person's key, or for the first time).
    pub resealed: u64,
    /// Person keys sealed again under the current server key.
    pub person_keys: u64,
}

/// Rows resealed per transaction.
const RESEAL_BATCH: u64 = 500;

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
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let person_key = self.ensure_person_key(&txn, person.as_str()).await?;
        let sealed = person_key
            .seal(person.as_str(), key.as_str(), text.as_bytes())
            .map_err(StoreError::corrupt)?;
        let exists = attribute::Entity::find_by_id((person.as_str().to_owned(), key.to_string()))
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
            person_id: Set(person.as_str().to_owned()),
            key: Set(key.to_string()),
            value: Set(sealed),
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
        let stored = attribute::Entity::find_by_id((person.as_str().to_owned(), key.to_string()))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("attribute vanished after upsert"))?;
        txn.commit().await?;
        StoredAttribute::open(&self.keys, Some(&person_key), stored)
    }

    /// All of a person's attributes, by key.
    pub async fn attributes(&self, person: &PersonId) -> Result<Vec<StoredAttribute>, StoreError> {
        let (sealed_key, rows) = match &self.sqlite_reader {
            Some(reader) => reader.attributes(person.as_str())?,
            None => {
                let txn = self.read_txn().await?;
                let sealed_key = Self::sealed_person_key(&txn, person.as_str()).await?;
                let rows = attribute::Entity::find()
                    .filter(attribute::Column::PersonId.eq(person.as_str()))
                    .order_by_asc(attribute::Column::Key)
                    .all(&txn)
                    .await?;
                txn.commit().await?;
                (sealed_key, rows)
            }
        };
        let person_key = self.open_person_key(person.as_str(), sealed_key.as_deref())?;
        rows.into_iter()
            .map(|row| StoredAttribute::open(&self.keys, person_key.as_ref(), row))
            .collect()
    }

    /// One attribute of a person.
    pub async fn attribute(
        &self,
        person: &PersonId,
        key: &AttributeKey,
    ) -> Result<StoredAttribute, StoreError> {
        let txn = self.read_txn().await?;
        let row = attribute::Entity::find_by_id((person.as_str().to_owned(), key.to_string()))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::AttributeNotFound(key.to_string()))?;
        let person_key = self.person_key_in(&txn, person.as_str()).await?;
        txn.commit().await?;
        StoredAttribute::open(&self.keys, person_key.as_ref(), row)
    }

    /// Deletes one attribute.
    pub async fn delete_attribute(
        &self,
        person: &PersonId,
        key: &AttributeKey,
    ) -> Result<(), StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        self.change_policy(&txn, person).await?;
        let result = attribute::Entity::delete_by_id((person.as_str().to_owned(), key.to_string()))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::AttributeNotFound(key.to_string()));
        }
        txn.commit().await?;
        Ok(())
    }

    /// Seals every person key under the current data key, then every
    /// attribute value (and every payout destination) not yet under its
    /// person's key: values under a server key (`v1.`, before person keys)
    /// and plain values from before sealing. Runs in batches, each its own
    /// transaction; a row changed meanwhile is left to its writer (who
    /// sealed it under the person's key). Safe to rerun after a crash: what
    /// is done is skipped.
    pub async fn reseal_attributes(&self) -> Result<Resealed, StoreError> {
        let mut done = Resealed::default();
        self.reseal_person_keys(&mut done).await?;
        let mut after: Option<(String, String)> = None;
        loop {
            let mut query = attribute::Entity::find()
                .order_by_asc(attribute::Column::PersonId)
                .order_by_asc(attribute::Column::Key)
                .limit(RESEAL_BATCH);
            if let Some((person, key)) = &after {
                query = query.filter(
                    Condition::any()
                        .add(attribute::Column::PersonId.gt(person.as_str()))
                        .add(
                            Condition::all()
                                .add(attribute::Column::PersonId.eq(person.as_str()))
                                .add(attribute::Column::Key.gt(key.as_str())),
                        ),
                );
            }
            let rows = query.all(&self.db).await?;
            let Some(last) = rows.last() else {
                // Payout destinations are sealed under the same keys.
                self.reseal_payouts(&mut done).await?;
                return Ok(done);
            };
            after = Some((last.person_id.clone(), last.key.clone()));
            let (_turn, txn) = self.write_txn().await?;
            for row in rows {
                done.values += 1;
                if sealed::is_person_sealed(&row.value) {
                    continue;
                }
                let person_key = self.ensure_person_key(&txn, &row.person_id).await?;
                let value = open_value(
                    &self.keys,
                    Some(&person_key),
                    &row.person_id,
                    &row.key,
                    &row.value,
                )?;
                let sealed = person_key
                    .seal(&row.person_id, &row.key, value.to_string().as_bytes())
                    .map_err(StoreError::corrupt)?;
                let changed = attribute::Entity::update_many()
                    .col_expr(attribute::Column::Value, Expr::value(sealed))
                    .filter(attribute::Column::PersonId.eq(row.person_id.as_str()))
                    .filter(attribute::Column::Key.eq(row.key.as_str()))
                    .filter(attribute::Column::Value.eq(row.value.as_str()))
                    .exec(&txn)
                    .await?;
                done.resealed += changed.rows_affected;
            }
            txn.commit().await?;
        }
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
        let nobody = PersonId::new("nobody");
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

    /// The stored cell, as a database dump would show it.
    async fn raw_value(store: &Store, person: &PersonId, key: &str) -> String {
        attribute::Entity::find_by_id((person.as_str().to_owned(), key.to_owned()))
            .one(&store.db)
            .await
            .unwrap()
            .unwrap()
            .value
    }

    store_test!(first_values_written_at_once_share_one_person_key, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let keys: Vec<String> = (0..8).map(|i| format!("x-k{i}")).collect();
        let mut writes = tokio::task::JoinSet::new();
        for k in &keys {
            let (store, id, k) = (store.clone(), ada.id.clone(), k.clone());
            writes.spawn(async move {
                store
                    .put_attribute(&id, &key(&k), &json!(k), Bucket::Public)
                    .await
            });
        }
        for written in writes.join_all().await {
            written.unwrap();
        }
        let read = store.attributes(&ada.id).await.unwrap();
        assert_eq!(
            read.len(),
            keys.len(),
            "every value opens under the one key"
        );
        let count = store
            .query_text(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM person_key WHERE person_id = '{}'",
                ada.id
            ))
            .await
            .unwrap();
        assert_eq!(count.as_deref(), Some("1"));
    });

    store_test!(values_are_sealed_at_rest_and_bound_to_their_row, |store| {
        let ada = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let bob = store
            .create_person(&Handle::parse("bob").unwrap())
            .await
            .unwrap();
        store
            .put_attribute(
                &ada.id,
                &key("email"),
                &json!("ada.lovelace@example.org"),
                Bucket::Private,
            )
            .await
            .unwrap();
        store
            .put_attribute(
                &bob.id,
                &key("email"),
                &json!("bob@example.org"),
                Bucket::Public,
            )
            .await
            .unwrap();
        let cell = raw_value(store, &ada.id, "email").await;
        assert!(sealed::is_person_sealed(&cell), "{cell}");
        assert!(!cell.contains("lovelace"), "{cell}");

        // Ada's sealed email copied onto Bob's row does not open as Bob's.
        let sql = format!(
            "UPDATE attribute SET value = '{cell}' WHERE person_id = '{}' AND key = 'email'",
            bob.id
        );
        store.execute_unprepared(&sql).await.unwrap();
        let err = store.attribute(&bob.id, &key("email")).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        assert!(store.attributes(&bob.id).await.is_err());
        assert_eq!(
            store.attribute(&ada.id, &key("email")).await.unwrap().value,
            json!("ada.lovelace@example.org")
        );
    });

    store_test!(
        rotation_reseals_everything_and_the_old_key_can_go,
        |store| {
            let old_key = DataKeys::generate().unwrap();
            let before = store.with_data_keys(DataKeys::new(&[old_key]).unwrap());
            let store = &before;
            let ada = store
                .create_person(&Handle::parse("ada").unwrap())
                .await
                .unwrap();
            for (k, v) in [
                ("email", json!("ada@example.org")),
                ("phone", json!("+44 20 7946 0000")),
            ] {
                store
                    .put_attribute(&ada.id, &key(k), &v, Bucket::SemiPrivate)
                    .await
                    .unwrap();
            }
            // A row from before sealing existed: plain JSON.
            let sql = format!(
                "INSERT INTO attribute (person_id, key, value, bucket, updated_at) \
             VALUES ('{}', 'display_name', '\"Ada\"', 'public', CURRENT_TIMESTAMP)",
                ada.id
            );
            store.execute_unprepared(&sql).await.unwrap();

            let new_key = DataKeys::generate().unwrap();
            let both = store.with_data_keys(DataKeys::new(&[new_key, old_key]).unwrap());
            assert_eq!(both.attributes(&ada.id).await.unwrap().len(), 3);
            let done = both.reseal_attributes().await.unwrap();
            assert_eq!(
                done,
                Resealed {
                    values: 3,
                    // the plain row; the other two were under Ada's key already
                    resealed: 1,
                    person_keys: 1,
                }
            );
            assert_eq!(
                both.reseal_attributes().await.unwrap(),
                Resealed {
                    values: 3,
                    resealed: 0,
                    person_keys: 0,
                },
                "a rerun has nothing to do"
            );
            let only_new = store.with_data_keys(DataKeys::new(&[new_key]).unwrap());
            let values: Vec<_> = only_new
                .attributes(&ada.id)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.value)
                .collect();
            assert_eq!(
                values,
                vec![
                    json!("Ada"),
                    json!("ada@example.org"),
                    json!("+44 20 7946 0000")
                ]
            );
            assert!(sealed::is_person_sealed(
                &raw_value(store, &ada.id, "display_name").await
            ));
            // And the old key alone no longer opens anything.
            assert!(store.attributes(&ada.id).await.is_err());
        }
    );
}

//! A person records, changes, moves or deletes an attribute.
//!
//! Every change goes through the store's policy-changing transaction (the
//! person's `policy_version` moves on), so a read deciding at the same
//! moment decides again (see [`crate::data`]). Moving an attribute to
//! private withholds it from every company's next read, live grants
//! included.

use consent_policy::{AttributeKey, Bucket};
use store::{PersonId, Store, StoreError, StoredAttribute};

use crate::BrokerError;

/// Sets the value of `key` in `bucket`. The value must have the key's
/// shape (an email looks like an email, a birth date is a date).
pub async fn set_in(
    store: &Store,
    person: &PersonId,
    key: &AttributeKey,
    value: &serde_json::Value,
    bucket: Bucket,
) -> Result<StoredAttribute, BrokerError> {
    key.shape()
        .check(value)
        .map_err(|e| BrokerError::InvalidValue(e.to_string()))?;
    Ok(store.put_attribute(person, key, value, bucket).await?)
}

/// Sets the value of `key`, keeping its bucket (or, for a new attribute,
/// the key's default bucket).
pub async fn set(
    store: &Store,
    person: &PersonId,
    key: &AttributeKey,
    value: &serde_json::Value,
) -> Result<StoredAttribute, BrokerError> {
    let bucket = match store.attribute(person, key).await {
        Ok(existing) => existing.bucket,
        Err(StoreError::AttributeNotFound(_)) => key.default_bucket(),
        Err(e) => return Err(e.into()),
    };
    set_in(store, person, key, value, bucket).await
}

/// Moves `key` to `bucket`, its value unchanged.
pub async fn move_to(
    store: &Store,
    person: &PersonId,
    key: &AttributeKey,
    bucket: Bucket,
) -> Result<StoredAttribute, BrokerError> {
    let existing = store.attribute(person, key).await?;
    Ok(store
        .put_attribute(person, key, &existing.value, bucket)
        .await?)
}

/// Deletes `key`: from the next read on, companies get nothing for it.
pub async fn delete(
    store: &Store,
    person: &PersonId,
    key: &AttributeKey,
) -> Result<(), BrokerError> {
    Ok(store.delete_attribute(person, key).await?)
}

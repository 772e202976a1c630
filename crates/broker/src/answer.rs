//! A person answers a pending request: approve all of it, approve only
//! some attributes, or decline.
//!
//! An answer decides again: what it may grant is what the policy left to
//! the person when the request arrived *and* what their policy does not
//! take back now ([`consent_policy::grantable_now`]): an attribute moved
//! to private, or denied by a rule, since the request arrived is never
//! granted, even by "approve all". (A change that lands between this
//! decision and the grant's commit is still caught on every read, which
//! decides again: see [`crate::data`].)

use consent_policy::{AttributeKey, grantable_now};
use store::{Grant, PersonId, Store, StoreError, StoredRequest};

use crate::BrokerError;

/// Grants everything the person may grant now.
pub async fn approve_all(
    store: &Store,
    person: &PersonId,
    request_id: &str,
) -> Result<Grant, BrokerError> {
    let open = open_now(store, person, request_id).await?;
    grant(store, person, request_id, &open).await
}

/// Grants exactly `chosen`, each of which must be grantable now.
pub async fn approve_only(
    store: &Store,
    person: &PersonId,
    request_id: &str,
    chosen: &[AttributeKey],
) -> Result<Grant, BrokerError> {
    let open = open_now(store, person, request_id).await?;
    if let Some(bad) = chosen.iter().find(|k| !open.contains(k)) {
        return Err(StoreError::NotGrantable(bad.to_string()).into());
    }
    let granted: Vec<AttributeKey> = open.into_iter().filter(|k| chosen.contains(k)).collect();
    grant(store, person, request_id, &granted).await
}

/// Declines the request; its offer goes back to the company.
pub async fn decline(
    store: &Store,
    person: &PersonId,
    request_id: &str,
) -> Result<StoredRequest, BrokerError> {
    Ok(store.decline_request(person, request_id).await?)
}

/// What the person may grant from their request now.
async fn open_now(
    store: &Store,
    person: &PersonId,
    request_id: &str,
) -> Result<Vec<AttributeKey>, BrokerError> {
    let request = store.request(request_id).await?;
    if &request.person_id != person {
        // Someone else's request is no request of yours.
        return Err(StoreError::RequestNotFound(request_id.to_owned()).into());
    }
    let snapshot = store.policy_snapshot(person).await?;
    Ok(grantable_now(
        &request.decision,
        &snapshot.profile,
        &request.company_id,
        &request.request,
    ))
}

async fn grant(
    store: &Store,
    person: &PersonId,
    request_id: &str,
    granted: &[AttributeKey],
) -> Result<Grant, BrokerError> {
    if granted.is_empty() {
        return Err(StoreError::NothingToGrant.into());
    }
    Ok(store
        .approve_request(person, request_id, Some(granted))
        .await?)
}

//! Counter-offers: a person answers a request that came with an offer
//! with their own price ("I would share this for X"), and the company
//! accepts it or lets it lapse with the request.
//!
//! The person's counter is checked like an approval (only attributes the
//! policy leaves to them now). Accepting decides again: the counter's
//! attributes that the person's policy still allows when the company
//! accepts — a block or a move to private in between takes them out —
//! and then, in one transaction, voids the offer, reserves and pays the
//! counter, and grants.

use consent_policy::{AttributeKey, CompanyId, Money, grantable_now};
use store::{Grant, PersonId, Store, StoreError, StoredRequest};

use crate::BrokerError;

/// The person counters their request `request_id` with `price`, for the
/// attributes `chosen` (all they may grant now when `None`).
pub async fn counter(
    store: &Store,
    person: &PersonId,
    request_id: &str,
    price: Money,
    chosen: Option<&[AttributeKey]>,
) -> Result<StoredRequest, BrokerError> {
    let request = store.request(request_id).await?;
    if &request.person_id != person {
        return Err(StoreError::RequestNotFound(request_id.to_owned()).into());
    }
    let open = open_now(store, &request).await?;
    let wanted: Vec<AttributeKey> = match chosen {
        Some(chosen) => {
            if let Some(bad) = chosen.iter().find(|k| !open.contains(k)) {
                return Err(StoreError::NotGrantable(bad.to_string()).into());
            }
            open.into_iter().filter(|k| chosen.contains(k)).collect()
        }
        None => open,
    };
    if wanted.is_empty() {
        return Err(StoreError::NothingToGrant.into());
    }
    Ok(store
        .counter_request(person, request_id, price, Some(&wanted))
        .await?)
}

/// The company accepts the counter-offer on its request `request_id`.
pub async fn accept(
    store: &Store,
    company: &CompanyId,
    request_id: &str,
) -> Result<Grant, BrokerError> {
    let request = store.request(request_id).await?;
    if &request.company_id != company {
        return Err(StoreError::RequestNotFound(request_id.to_owned()).into());
    }
    let open = open_now(store, &request).await?;
    Ok(store.accept_counter(company, request_id, &open).await?)
}

/// What the person's policy lets this request grant now.
async fn open_now(
    store: &Store,
    request: &StoredRequest,
) -> Result<Vec<AttributeKey>, BrokerError> {
    let snapshot = store.policy_snapshot(&request.person_id).await?;
    Ok(grantable_now(
        &request.decision,
        &snapshot.profile,
        &request.company_id,
        &request.request,
    ))
}

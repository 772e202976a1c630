//! A company asks a person for data asynchronously (`POST /v1/requests`;
//! the person answers later in their inbox, or a rule answers now).
//!
//! The decision is made inside the transaction that records the request,
//! under the person's lock, from the policy read there
//! (`Store::record_request_deciding`): a request that arrives as the person
//! blocks the company, or moves an attribute to private, is decided on the
//! policy that is in force when it is recorded, never on an older one.
//! (Deciding from a snapshot and retrying on a change starved under a
//! person who writes rules while companies ask: the scale-out test.)

use consent_policy::{Channel, CompanyId, DataRequest, Handle, RequestError, decide};
use store::{Decider, Store, StoreError, StoredRequest};

use crate::BrokerError;

/// Whom a company asks: by the handle the person gave it, or by the
/// pairwise subject it already knows them by.
#[derive(Clone, Debug)]
pub enum Person<'a> {
    /// The person's public handle.
    Handle(&'a Handle),
    /// The company's pairwise subject for the person.
    Subject(&'a str),
}

/// Why an ask was refused before anything was recorded.
#[derive(Debug)]
pub enum AskRefused {
    /// No such person (or no such subject for this company).
    NoSuchPerson,
    /// The `authorization_details` entry is not an acceptable request.
    BadRequest(RequestError),
}

/// Records `company`'s request `details` (one `authorization_details`
/// entry) to `person`, with the policy's decision.
pub async fn ask(
    store: &Store,
    company: &CompanyId,
    person: Person<'_>,
    details: serde_json::Value,
) -> Result<Result<StoredRequest, AskRefused>, BrokerError> {
    let found = match person {
        Person::Handle(handle) => match store.person_by_handle(handle).await {
            Ok(person) => person,
            Err(StoreError::PersonNotFound) => return Ok(Err(AskRefused::NoSuchPerson)),
            Err(e) => return Err(e.into()),
        },
        Person::Subject(subject) => match store.person_for_subject(company, subject).await? {
            Some(id) => store.person(&id).await?,
            None => return Ok(Err(AskRefused::NoSuchPerson)),
        },
    };
    let request = match DataRequest::from_json_value(details, &found.max_duration) {
        Ok(request) => request,
        Err(e) => return Ok(Err(AskRefused::BadRequest(e))),
    };
    let (asker, asked) = (company.clone(), request.clone());
    let suspended = found.suspended;
    let decide_now: Decider = Box::new(move |profile| {
        if suspended {
            // A suspended person is answered as if they had blocked the
            // company: denied, as any person may deny, so the company
            // cannot tell a suspension from a refusal.
            let mut blocked = profile.clone();
            blocked.blocked.insert(asker.clone());
            return decide(&blocked, &asker, &asked);
        }
        decide(profile, &asker, &asked)
    });
    let stored = store
        .record_request_deciding(&found.id, company, &request, Channel::Async, decide_now)
        .await?;
    Ok(Ok(stored))
}

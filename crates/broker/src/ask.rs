//! A company asks a person for data asynchronously (`POST /v1/requests`;
//! the person answers later in their inbox, or a rule answers now).
//!
//! The decision is made from one snapshot of the person's policy and
//! recorded only if that policy is still the one in force when the request
//! is written (checked under the person's lock, in the recording
//! transaction); otherwise it is decided again. So a request that arrives
//! as the person blocks the company, or moves an attribute to private, is
//! never granted on the old policy.

use consent_policy::{Channel, CompanyId, DataRequest, Handle, RequestError, decide};
use store::{Store, StoreError, StoredRequest};

use crate::BrokerError;

/// How many times a request is decided again when the person's policy
/// changed under it, before it gives up ([`BrokerError::PolicyChurn`]).
const MAX_DECISIONS: usize = 4;

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
    for _ in 0..MAX_DECISIONS {
        let snapshot = store.policy_snapshot(&found.id).await?;
        let decision = decide(&snapshot.profile, company, &request);
        match store
            .record_request_under(
                &found.id,
                company,
                &request,
                &decision,
                Channel::Async,
                snapshot.policy_version,
            )
            .await
        {
            Ok(stored) => return Ok(Ok(stored)),
            Err(StoreError::PolicyChanged) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(BrokerError::PolicyChurn)
}

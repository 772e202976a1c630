//! The sandbox's use cases: whom a sandbox company reaches, what money it
//! offers, and the synthetic person who answers "ask" by approving on
//! their own (see [`consent_policy::SandboxPerson`] for the rules).
//!
//! Where the walls are:
//!
//! - [`crate::ask`] resolves a sandbox company's `sandbox-*` names to its
//!   synthetic people ([`synthetic_person`], made on first use), and
//!   answers any other name, or a real company's `sandbox-*` name, as it
//!   answers a name that is nobody's (`AskRefused::NoSuchPerson`): no
//!   company learns anything from the other side.
//! - [`check_offer`] keeps `XTS` to sandbox companies and real money to
//!   real ones, at every door an offer comes through (`POST /v1/requests`,
//!   `POST /oauth/bc-authorize`, `POST /oauth/par`); [`crate::fund`] does
//!   the same for wallets.
//! - The interactive flow (`/oauth/authorize`) of a sandbox company is
//!   refused to every signed-in person (all of them are real): see
//!   [`crate::authorize`].
//!
//! "Ask, then approve after N seconds" is settled lazily, when the company
//! reads the request (`GET /v1/requests/{id}`) or polls for its tokens
//! (CIBA): [`settle`] approves it then, in the ordinary approval
//! transaction, so nothing is lost across a restart. The server's sweeper
//! also calls [`settle_due`] every second, so that a company that waits
//! for its webhook or CIBA ping gets it without reading first; whichever
//! comes first approves, the other finds the request decided.
//!
//! The ledger records sandbox activity like any other: the entries hold
//! names and amounts (in `XTS`), never values, and a second path that
//! skipped the ledger would be a second way for a use case to commit
//! without its entry, the one thing the ledger exists to rule out. An
//! auditor tells sandbox entries by their currency.

use consent_policy::{CompanyId, CompanyKind, DataRequest, RequestError, SandboxPerson};
use store::{Person, RequestStatus, Store, StoreError, StoredRequest};

use crate::BrokerError;

/// Whether `company` is real or a sandbox.
///
/// # Errors
/// An unknown company, or the store failing.
pub async fn company_kind(store: &Store, company: &CompanyId) -> Result<CompanyKind, BrokerError> {
    Ok(store.company(company).await?.kind)
}

/// Checks that `request`'s offer is in money `company` may offer (`XTS`
/// for a sandbox, anything else for a real company).
///
/// # Errors
/// The refusal (on `offer.currency`) in the inner result; the store
/// failing in the outer.
pub async fn check_offer(
    store: &Store,
    company: &CompanyId,
    request: &DataRequest,
) -> Result<Result<(), RequestError>, BrokerError> {
    Ok(company_kind(store, company).await?.check_offer(request))
}

/// `company`'s synthetic person `who`, made (with their attributes) on
/// first use.
pub(crate) async fn synthetic_person(
    store: &Store,
    company: &CompanyId,
    who: SandboxPerson,
) -> Result<Person, BrokerError> {
    if let Some(person) = store.sandbox_person(company, who).await? {
        return Ok(person);
    }
    Ok(store
        .create_sandbox_person(company, who, &who.attributes(company))
        .await?)
}

/// Approves `request` if it is pending for a synthetic `sandbox-ask-N`
/// person and its N seconds have passed at `now` (and it has not expired);
/// returns the request as it stands after. Any other request is returned
/// as it is.
///
/// # Errors
/// The store failing.
pub async fn settle(
    store: &Store,
    request: StoredRequest,
    now: time::OffsetDateTime,
) -> Result<StoredRequest, BrokerError> {
    if request.status != RequestStatus::Pending || request.expires_at <= now {
        return Ok(request);
    }
    let person = store.person(&request.person_id).await?;
    if person.sandbox_of.as_ref() != Some(&request.company_id) {
        return Ok(request);
    }
    let Ok(Some(who)) = SandboxPerson::parse(person.handle.as_str()) else {
        return Ok(request);
    };
    let Some(after_secs) = who.approves_after_secs() else {
        return Ok(request);
    };
    if request.created_at + time::Duration::seconds(i64::from(after_secs)) > now {
        return Ok(request);
    }
    match crate::answer::approve_all(store, &person.id, &request.id).await {
        Ok(_) => {}
        // Another read settled it first; read what it did.
        Err(BrokerError::Store(StoreError::RequestNotPending(_))) => {}
        // Nothing was left to the person (all allowed or denied at once):
        // the rule's "yes" has nothing to say yes to.
        Err(BrokerError::Store(StoreError::NothingToGrant)) => {
            match crate::answer::decline(store, &person.id, &request.id).await {
                Ok(_) | Err(BrokerError::Store(StoreError::RequestNotPending(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    Ok(store.request(&request.id).await?)
}

/// [`settle`] for every pending request to a synthetic person (the
/// sweeper's tick); how many were decided.
///
/// # Errors
/// The store failing.
pub async fn settle_due(store: &Store, now: time::OffsetDateTime) -> Result<u64, BrokerError> {
    let mut decided = 0;
    for request in store.pending_sandbox_requests().await? {
        if settle(store, request, now).await?.status != RequestStatus::Pending {
            decided += 1;
        }
    }
    Ok(decided)
}

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
//!
//! A CIBA backchannel request (`POST /oauth/bc-authorize`) is this same use
//! case with a [`Backchannel`] ([`ask_backchannel`] calls [`ask`]): the
//! inbox, mail, webhooks and ledger see an asynchronous request like any
//! other. Only the answer to a hint that names nobody differs: the company
//! still gets an `auth_req_id`, whose poll answers `access_denied` as a
//! refusal does, so the backchannel cannot be used to find out who has an
//! account (CIBA Core §13 lets a server answer `unknown_user_id`; we do not).
//! The REST form ([`ask_rest`]) answers the same way: a request to nobody
//! reads, from its `201` on, exactly as one the policy refused at once.
//!
//! A sandbox company reaches only its synthetic people, and a real company
//! none of them: the other side's names are nobody's, answered by the same
//! [`AskRefused::NoSuchPerson`] (see [`crate::sandbox`]).

use consent_policy::{
    Channel, CompanyId, CompanyKind, DataRequest, Handle, RequestError, SandboxPerson, decide,
};
use store::{Backchannel, Decider, Store, StoreError, StoredRequest};

use crate::BrokerError;

/// Whom a company asks: by the handle the person gave it, or by the
/// pairwise subject it already knows them by.
#[derive(Clone, Debug)]
pub enum Person<'a> {
    /// The person's public handle.
    Handle(&'a Handle),
    /// The company's pairwise subject for the person.
    Subject(&'a str),
    /// A CIBA `login_hint`: the pairwise subject this company knows the
    /// person by if it is one, else their handle. (A subject can be
    /// handle-shaped: handles are matched without case, subjects are not.)
    /// A `sandbox-*` hint names a synthetic person.
    Hint(&'a str),
    /// A synthetic person (`sandbox-allow`): a sandbox company's own, for a
    /// real company nobody.
    Sandbox(SandboxPerson),
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
/// entry) to `person`, with the policy's decision; a `backchannel` request
/// keeps its CIBA row, binding message and expiry in the same transaction.
pub async fn ask(
    store: &Store,
    company: &CompanyId,
    person: Person<'_>,
    details: serde_json::Value,
    backchannel: Option<Backchannel>,
) -> Result<Result<StoredRequest, AskRefused>, BrokerError> {
    let kind = crate::sandbox::company_kind(store, company).await?;
    // The offer's currency is the company's business, not the person's:
    // refused before anyone is looked up, so that the refusal is the same
    // for a person and for nobody (else a real company's `XTS` offer would
    // tell who has an account).
    if let Err(e) = offer_currency(kind, &details) {
        return Ok(Err(AskRefused::BadRequest(e)));
    }
    let Some(found) = find(store, company, kind, person).await? else {
        return Ok(Err(AskRefused::NoSuchPerson));
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
        .record_request_deciding(
            &found.id,
            company,
            &request,
            Channel::Async,
            decide_now,
            backchannel,
        )
        .await?;
    Ok(Ok(stored))
}

/// [`CompanyKind::check_offer`] on `details` read under the longest grant
/// anyone accepts; an entry that cannot be read is refused later, with
/// its own error.
fn offer_currency(kind: CompanyKind, details: &serde_json::Value) -> Result<(), RequestError> {
    let Some(ceiling) = consent_policy::GrantDuration::from_secs(consent_policy::MAX_GRANT_SECS)
    else {
        return Ok(());
    };
    match DataRequest::from_json_value(details.clone(), &ceiling) {
        Ok(request) => kind.check_offer(&request),
        Err(_) => Ok(()),
    }
}

/// The person `company` names, if there is one on its side of the
/// sandbox's wall.
async fn find(
    store: &Store,
    company: &CompanyId,
    kind: CompanyKind,
    person: Person<'_>,
) -> Result<Option<store::Person>, BrokerError> {
    let found = match (kind, person) {
        (CompanyKind::Sandbox, Person::Sandbox(who)) => {
            Some(crate::sandbox::synthetic_person(store, company, who).await?)
        }
        (CompanyKind::Real, Person::Sandbox(_)) | (CompanyKind::Sandbox, Person::Handle(_)) => None,
        (CompanyKind::Real, Person::Handle(handle)) => by_handle(store, handle).await?,
        (_, Person::Subject(subject)) => by_subject(store, company, subject).await?,
        (_, Person::Hint(hint)) => match by_subject(store, company, hint).await? {
            Some(found) => Some(found),
            None => match (kind, SandboxPerson::parse(hint), Handle::parse(hint)) {
                (CompanyKind::Sandbox, Ok(Some(who)), _) => {
                    Some(crate::sandbox::synthetic_person(store, company, who).await?)
                }
                (CompanyKind::Real, _, Ok(handle)) => by_handle(store, &handle).await?,
                _ => None,
            },
        },
    };
    // The wall, whichever way the person was named: a sandbox company's
    // people are its synthetic ones, a real company's the real ones.
    let mine = |p: &store::Person| match kind {
        CompanyKind::Sandbox => p.sandbox_of.as_ref() == Some(company),
        CompanyKind::Real => p.sandbox_of.is_none(),
    };
    Ok(found.filter(mine))
}

async fn by_handle(store: &Store, handle: &Handle) -> Result<Option<store::Person>, BrokerError> {
    match store.person_by_handle(handle).await {
        Ok(person) => Ok(Some(person)),
        Err(StoreError::PersonNotFound) => Ok(None),
        Err(e) => Err(BrokerError::from(e)),
    }
}

async fn by_subject(
    store: &Store,
    company: &CompanyId,
    subject: &str,
) -> Result<Option<store::Person>, BrokerError> {
    match store.person_for_subject(company, subject).await? {
        Some(id) => Ok(Some(store.person(&id).await?)),
        None => Ok(None),
    }
}

/// What `POST /v1/requests` recorded.
#[derive(Clone, Debug)]
pub enum Asked {
    /// A request to a person, decided by their policy.
    Recorded(StoredRequest),
    /// A request no person receives (the handle or subject names nobody,
    /// or the duration is longer than the person accepts), kept so that
    /// it reads as a refusal: its id, and what was asked.
    RefusedAtOnce(store::NobodyRequest),
}

/// `POST /v1/requests`: [`ask`], except that a request no person can
/// receive is recorded as refused at once, with the `request.created`
/// webhook a refusal sends, rather than answered `404` — otherwise the
/// endpoint would tell a company who has an account (and a `422` for a
/// duration would tell it a person's setting, hence who exists).
///
/// # Errors
/// A request that is not acceptable for anyone (`RequestError`), or the
/// store's error.
pub async fn ask_rest(
    store: &Store,
    company: &CompanyId,
    person: Person<'_>,
    details: serde_json::Value,
) -> Result<Result<Asked, RequestError>, BrokerError> {
    let asked = match ask(store, company, person, details.clone(), None).await? {
        Ok(stored) => return Ok(Ok(Asked::Recorded(stored))),
        Err(AskRefused::BadRequest(RequestError::DurationTooLong { .. }))
        | Err(AskRefused::NoSuchPerson) => match within_ceiling(details)? {
            Ok(asked) => asked,
            Err(e) => return Ok(Err(e)),
        },
        Err(AskRefused::BadRequest(e)) => return Ok(Err(e)),
    };
    let kept = Backchannel {
        expires_in: store::REQUEST_TTL,
        binding_message: None,
        ping: None,
        openid: false,
    };
    let id = store.record_ciba_for_nobody(company, &asked, &kept).await?;
    let nobody = store
        .ciba_for_nobody(company, &id)
        .await?
        .ok_or_else(|| BrokerError::Corrupt("a refused request vanished".into()))?;
    Ok(Ok(Asked::RefusedAtOnce(nobody)))
}

/// `details` checked against the longest grant anyone accepts.
fn within_ceiling(
    details: serde_json::Value,
) -> Result<Result<DataRequest, RequestError>, BrokerError> {
    let ceiling = consent_policy::GrantDuration::from_secs(consent_policy::MAX_GRANT_SECS)
        .ok_or_else(|| BrokerError::Corrupt("the longest grant is no duration".into()))?;
    Ok(DataRequest::from_json_value(details, &ceiling))
}

/// What a backchannel request gets back (CIBA Core §7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackchannelAsked {
    /// The id to poll with (and to be pinged about).
    pub auth_req_id: String,
    /// Seconds the person has to answer.
    pub expires_in: u64,
}

/// A CIBA backchannel request: [`ask`] with `backchannel`. A hint that
/// names nobody, and a duration longer than the person accepts, get an
/// `auth_req_id` that answers as a refusal (no enumeration: the second
/// would tell a person from nobody by their setting).
///
/// `details` must already be an acceptable entry for some person (the
/// caller checked it against the protocol's ceiling).
pub async fn ask_backchannel(
    store: &Store,
    company: &CompanyId,
    person: Person<'_>,
    details: serde_json::Value,
    backchannel: Backchannel,
) -> Result<Result<BackchannelAsked, RequestError>, BrokerError> {
    let expires_in = u64::try_from(backchannel.expires_in.whole_seconds()).unwrap_or(0);
    let asked = match ask(
        store,
        company,
        person,
        details.clone(),
        Some(backchannel.clone()),
    )
    .await?
    {
        Ok(stored) => {
            return Ok(Ok(BackchannelAsked {
                auth_req_id: stored.id,
                expires_in,
            }));
        }
        Err(AskRefused::BadRequest(RequestError::DurationTooLong { .. }))
        | Err(AskRefused::NoSuchPerson) => match within_ceiling(details)? {
            Ok(asked) => asked,
            Err(e) => return Ok(Err(e)),
        },
        Err(AskRefused::BadRequest(e)) => return Ok(Err(e)),
    };
    let auth_req_id = store
        .record_ciba_for_nobody(company, &asked, &backchannel)
        .await?;
    Ok(Ok(BackchannelAsked {
        auth_req_id,
        expires_in,
    }))
}

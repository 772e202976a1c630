//! The authorization endpoint's use cases: a person opens a company's
//! authorization request ([`open`]) and answers it on the consent screen
//! ([`answer`]).
//!
//! Where money moves, and why there:
//!
//! | step | who sends it | money |
//! |---|---|---|
//! | the company pushes its request (PAR, client-authenticated) | the company | none: the offer is only checked against the wallet when the person opens it |
//! | the person's browser opens `GET /oauth/authorize?request_uri=…` | anyone who can navigate the person | none: an offer always shows the screen, never a remembered answer |
//! | the person approves (`POST /oauth/authorize/{id}`, session + CSRF token) | the person, on our page | reserved and posted, once (the screen is single-use, the `request_uri` too) |
//!
//! An offer is the company's word, so it reaches this module only from a
//! request the company authenticated: the front channel refuses an offer
//! (`AuthorizationRequest::parse`), and a pushed request is single-use and
//! lives 60 s. A person can therefore neither choose an amount nor make a
//! company pay twice for one request, and a cross-site page that sends the
//! person's browser to the endpoint can at most show them a screen: the
//! payment needs the POST carrying the CSRF token. Only an offer-free
//! request may be answered from a remembered consent, without the screen.
//!
//! OpenID Connect's `prompt` and `max_age` are decided here too, before
//! anything else: a person with no session, or one signed in too long ago
//! (`max_age`, or before the request for `prompt=login`), is sent to sign
//! in ([`Opened::SignInFirst`]) with the request kept server-side for
//! [`resume`] — or, with `prompt=none`, the company gets `login_required`
//! at once. `prompt=consent` always shows the screen; `prompt=none` never
//! does (`consent_required` instead). An OpenID Connect code remembers
//! the sign-in (`auth_time`, `amr`) and the `nonce` for its ID token.
//!
//! No refusal here tells the amount the company's wallet lacks: the answer
//! travels through the person's browser. The company reads its own wallet
//! at `GET /v1/wallet`.

use authz::oidc::{consent_required, login_required};
use authz::{
    AuthorizationCode, AuthorizationRequest, CodeRecord, OAuthError, OpenIdSignIn, OsRandom,
    UnixTime,
};
use consent_policy::{AttributeKey, CompanyId, Decision, decide};
use store::{Channel, PersonId, RequestStatus, SignIn, Store, StoreError};

use crate::BrokerError;

/// What opening an authorization request led to.
#[derive(Debug)]
pub enum Opened {
    /// A live grant covered an offer-free request: granted without the
    /// screen; send the company this code.
    Remembered(AuthorizationCode),
    /// The person must answer: show the screen for the pending answer `id`.
    Screen {
        /// The single-use id the screen's form posts to.
        id: String,
        /// The policy's decision, per attribute, to show.
        decision: Decision,
        /// The company's display name.
        company_name: String,
    },
    /// Refused before the person was asked: send the company this error.
    Refused(OAuthError),
    /// The person must sign in (again) first; the request waits under
    /// `resume` ([`resume`]) for as long as a screen would.
    SignInFirst {
        /// The single-use id to come back with.
        resume: String,
        /// The client's `login_hint`, to fill in the handle.
        login_hint: Option<String>,
    },
}

/// Who opens a request: the signed-in person and the hash of their
/// session token (whose sign-in `prompt`, `max_age` and the ID token look at).
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    /// Who.
    pub person: &'a PersonId,
    /// SHA-256 of the session token.
    pub session_hash: &'a str,
}

/// What the person's answer led to.
#[derive(Debug)]
pub enum Answered {
    /// Granted: send the company this code.
    Granted(AuthorizationCode),
    /// Declined, or the offer could not be paid: send the company this error.
    Refused(OAuthError),
}

/// The person's answer on the consent screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Grant these attributes (those the policy denies are left out by the store).
    ApproveOnly(Vec<AttributeKey>),
    /// Grant nothing.
    Decline,
}

/// The error the company gets when its wallet cannot cover its offer. It
/// names no amount: it reaches the company through the person's browser.
#[must_use]
pub fn cannot_pay() -> OAuthError {
    OAuthError::new(
        authz::ErrorCode::InvalidRequest,
        "the wallet cannot cover the offer; the company can see its wallet through the API, fund it and try again",
    )
}

/// The person `person` opens `request` (already checked by
/// `AuthorizationRequest::parse`, or redeemed from a pushed request): refuse
/// it, answer it from a remembered consent, or keep it for the screen for
/// `screen_ttl`.
///
/// # Errors
/// The store's.
pub async fn open(
    store: &Store,
    visitor: Option<Visitor<'_>>,
    mut request: AuthorizationRequest,
    screen_ttl: std::time::Duration,
) -> Result<Opened, BrokerError> {
    request.oidc.fix_auth_after(unix_now());
    let sign_in = match visitor {
        Some(v) => store.session_sign_in(v.session_hash).await?,
        None => None,
    }
    .filter(|s| request.oidc.sign_in_recent_enough(unix(s.at)));
    let (Some(visitor), Some(sign_in)) = (visitor, sign_in) else {
        if request.oidc.prompt_none {
            return Ok(Opened::Refused(login_required()));
        }
        let resume = identity::new_session_token();
        store
            .save_pending_authorization(&resume, &request, screen_ttl)
            .await?;
        return Ok(Opened::SignInFirst {
            resume,
            login_hint: request.oidc.login_hint,
        });
    };
    let person = visitor.person;
    let company = request.client_id.to_company_id();
    match crate::sandbox::company_kind(store, &company).await? {
        // Whoever signed in is real; a sandbox company reaches only its
        // synthetic people, who never sign in (crate::sandbox).
        consent_policy::CompanyKind::Sandbox => {
            return Ok(Opened::Refused(OAuthError::new(
                authz::ErrorCode::AccessDenied,
                "a sandbox company reaches only synthetic people; use POST /v1/requests or CIBA",
            )));
        }
        kind @ consent_policy::CompanyKind::Real => {
            if let Err(e) = kind.check_offer(&request.data_request) {
                return Ok(Opened::Refused(authz::request::details_error(&e)));
            }
        }
    }
    let profile = store.profile(person).await?;
    if request.data_request.duration().as_secs() > profile.max_duration.as_secs() {
        return Ok(Opened::Refused(OAuthError::new(
            authz::ErrorCode::InvalidAuthorizationDetails,
            "the duration is longer than this person accepts",
        )));
    }
    if !wallet_covers(store, &company, &request).await? {
        return Ok(Opened::Refused(cannot_pay()));
    }
    let decision = decide(&profile, &company, &request.data_request);
    // Only a request that moves no money may skip the screen: a bare GET
    // (a link, a third-party page's navigation) can trigger this branch.
    if request.data_request.offer().is_none()
        && !request.oidc.prompt_consent
        && let Some(grant) = store
            .record_remembered_request(person, &company, &request.data_request, &decision)
            .await?
    {
        let code = issue_code(store, &request, person, &grant.id, Some(&sign_in)).await?;
        return Ok(Opened::Remembered(code));
    }
    if request.oidc.prompt_none {
        return Ok(Opened::Refused(consent_required()));
    }
    let id = identity::new_session_token();
    store
        .save_pending_authorization(&id, &request, screen_ttl)
        .await?;
    let company_name = store
        .company(&company)
        .await
        .map_or_else(|_| company.to_string(), |c| c.name);
    Ok(Opened::Screen {
        id,
        decision,
        company_name,
    })
}

/// Opens again the request kept under `resume` by [`Opened::SignInFirst`],
/// now that the person has signed in (single-use: taken as it is read).
///
/// # Errors
/// [`BrokerError::ConsentExpired`] when it expired or was already resumed;
/// the store's.
pub async fn resume(
    store: &Store,
    visitor: Visitor<'_>,
    resume: &str,
    screen_ttl: std::time::Duration,
) -> Result<(AuthorizationRequest, Opened), BrokerError> {
    let request = store
        .take_pending_authorization(resume)
        .await?
        .ok_or(BrokerError::ConsentExpired)?;
    let opened = open(store, Some(visitor), request.clone(), screen_ttl).await?;
    Ok((request, opened))
}

fn unix(at: time::OffsetDateTime) -> UnixTime {
    UnixTime::from_secs(u64::try_from(at.unix_timestamp()).unwrap_or(0))
}

fn unix_now() -> UnixTime {
    unix(time::OffsetDateTime::now_utc())
}

/// Whether the company's wallet can hold the request's offer now (a request
/// without an offer always passes). The reservation itself is made, under
/// the wallet's lock, when the person approves.
async fn wallet_covers(
    store: &Store,
    company: &CompanyId,
    request: &AuthorizationRequest,
) -> Result<bool, StoreError> {
    let Some(offer) = request
        .data_request
        .offer()
        .filter(|o| o.amount_micros() > 0)
    else {
        return Ok(true);
    };
    let available = store
        .wallet(company)
        .await?
        .iter()
        .find(|b| b.currency == offer.currency())
        .map_or(0, |b| b.available);
    Ok(available >= offer.amount_micros())
}

/// The person `person` answers the screen `id` (single-use): the request
/// is recorded, its offer reserved, and approved (the offer paid) or
/// declined (the reservation voided).
///
/// # Errors
/// [`BrokerError::ConsentExpired`] when the screen expired or was answered;
/// the store's.
pub async fn answer(
    store: &Store,
    visitor: Visitor<'_>,
    id: &str,
    answer: Answer,
) -> Result<(AuthorizationRequest, Answered), BrokerError> {
    let person = visitor.person;
    let request = store
        .take_pending_authorization(id)
        .await?
        .ok_or(BrokerError::ConsentExpired)?;
    let company = request.client_id.to_company_id();
    let profile = store.profile(person).await?;
    let decision = decide(&profile, &company, &request.data_request);
    let recorded = match store
        .record_request(
            person,
            &company,
            &request.data_request,
            &decision,
            Channel::Interactive,
        )
        .await
    {
        Err(StoreError::InsufficientFunds { .. }) => {
            return Ok((request, Answered::Refused(cannot_pay())));
        }
        other => other?,
    };
    let chosen = match answer {
        Answer::ApproveOnly(chosen) if !chosen.is_empty() => chosen,
        Answer::ApproveOnly(_) | Answer::Decline => {
            if recorded.status == RequestStatus::Pending {
                store.decline_request(person, &recorded.id).await?;
            }
            let error = OAuthError::new(authz::ErrorCode::AccessDenied, "the person declined");
            return Ok((request, Answered::Refused(error)));
        }
    };
    let grant = store
        .approve_request(person, &recorded.id, Some(&chosen))
        .await?;
    let sign_in = store.session_sign_in(visitor.session_hash).await?;
    let code = issue_code(store, &request, person, &grant.id, sign_in.as_ref()).await?;
    Ok((request, Answered::Granted(code)))
}

/// A single-use code for `grant_id`, kept for the token endpoint; for an
/// OpenID Connect request it remembers the `nonce` and `sign_in`.
async fn issue_code(
    store: &Store,
    request: &AuthorizationRequest,
    person: &PersonId,
    grant_id: &str,
    sign_in: Option<&SignIn>,
) -> Result<AuthorizationCode, BrokerError> {
    let now = unix_now();
    let (code, mut record) =
        CodeRecord::issue(request, person.as_str(), grant_id, &mut OsRandom, now)
            .map_err(|_| BrokerError::NoRandomness)?;
    if request.oidc.openid {
        record.openid = Some(OpenIdSignIn {
            nonce: request.oidc.nonce.clone(),
            // A session always exists here; were it gone, "now" is the
            // latest the person can have signed in.
            auth_time: sign_in.map_or(now, |s| unix(s.at)),
            amr: sign_in.map(|s| s.amr.clone()).unwrap_or_default(),
        });
    }
    store.save_code(&record).await?;
    Ok(code)
}

//! The consent screen of the OAuth authorization endpoint: the company, the
//! purpose in plain words, the duration, the offer, and each attribute with
//! its bucket and the rule or default that applies. Attributes the policy
//! denies are shown as withheld and cannot be ticked; the person can untick
//! any other; approving records the request and its grant and sends the
//! company a single-use code.
//!
//! The screen is shown the first time a company asks, even when the policy
//! allows everything: the person sees who is asking and why. When the same
//! company asks again for what a live grant already covers (same purpose,
//! no attribute beyond it, ending no later) and the policy still denies
//! nothing asked, the answer is remembered: the request is recorded and
//! granted without the screen and the company gets its code at once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use authz::{AuthorizationRequest, CodeRecord, OAuthError, OsRandom, Params, RequestUri};
use consent_policy::{AttributeKey, Money, Outcome, decide};
use store::Channel;

use crate::pages::{PageError, PageSession, SignedInForm, html};
use crate::problem::Problem;
use crate::startup::AppState;

/// How long a consent screen stays answerable.
const CONSENT_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// One attribute asked for, as the consent screen and the inbox show it:
/// its bucket, the reason for the policy's outcome, and whether it can be
/// ticked (never when the policy denies it).
pub(super) struct Item {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) bucket: String,
    pub(super) reason: String,
    pub(super) grantable: bool,
}

impl Item {
    /// The attribute of one line of a decision.
    pub(super) fn of(d: &consent_policy::AttributeDecision) -> Item {
        Item {
            key: d.key.to_string(),
            label: d.key.label().to_owned(),
            bucket: d.bucket.to_string().replace('_', "-"),
            reason: d.reason.explain(),
            grantable: d.outcome != Outcome::Deny,
        }
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    id: String,
    csrf_token: String,
    company: String,
    purpose: String,
    duration: String,
    offer: String,
    items: Vec<Item>,
    any_grantable: bool,
}

fn now_unix() -> authz::UnixTime {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp();
    authz::UnixTime::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// An error that must not go back to the client (unknown client, bad
/// redirect URI): shown to the person instead.
fn local(error: &OAuthError) -> PageError {
    PageError::Failed(Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-authorization-request",
        "This sign-in link is not valid",
        format!("{}: {}", error.code, error.description),
    ))
}

/// How much the company's wallet lacks to cover the request's offer, if
/// anything: the person is never asked to accept money that cannot be paid.
async fn shortfall(
    state: &AppState,
    company: &consent_policy::CompanyId,
    request: &consent_policy::DataRequest,
) -> Result<Option<Money>, PageError> {
    let Some(offer) = request.offer().filter(|o| o.amount_micros > 0) else {
        return Ok(None);
    };
    let available = state
        .store
        .wallet(company)
        .await?
        .iter()
        .find(|b| b.currency == offer.currency)
        .map_or(0, |b| b.available);
    Ok((available < offer.amount_micros)
        .then(|| Money::new(offer.amount_micros - available, offer.currency)))
}

/// The error the company gets back when its wallet cannot cover its offer.
fn cannot_pay(missing: &Money) -> OAuthError {
    OAuthError::new(
        authz::ErrorCode::InvalidRequest,
        format!("the wallet cannot cover the offer: {missing} missing; fund it and try again"),
    )
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// The authorization endpoint (RFC 6749 §4.1.1, with PKCE S256, RAR and
/// PAR): checks the request and shows the person the consent screen.
#[get("/oauth/authorize")]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: PageSession,
) -> Result<HttpResponse, PageError> {
    let issuer = state.oauth.issuer.clone();
    let params = Params::from_form(req.query_string()).map_err(|e| local(&e))?;
    let client_id = authz::request::requested_client_id(&params).map_err(|e| local(&e))?;
    let client = state.store.client(&client_id).await?.ok_or_else(|| {
        local(&OAuthError::new(
            authz::ErrorCode::InvalidClient,
            "unknown client",
        ))
    })?;
    let request = match RequestUri::from_params(&params).map_err(|e| local(&e))? {
        Some(uri) => state
            .store
            .redeem_par(&uri.hash(), &client_id, now_unix())
            .await?
            .map_err(|e| local(&e))?,
        None => match AuthorizationRequest::parse(&params, &client.record) {
            Ok(request) => request,
            Err(error) => {
                return match error.redirect_url(&issuer) {
                    Some(url) => Ok(redirect(&url)),
                    None => Err(local(&error.error)),
                };
            }
        },
    };
    let company = client_id.to_company_id();
    let profile = state.store.profile(&who.person).await?;
    if request.data_request.duration().as_secs() > profile.max_duration.as_secs() {
        let error = OAuthError::new(
            authz::ErrorCode::InvalidAuthorizationDetails,
            "the duration is longer than this person accepts",
        );
        return Ok(redirect(&request.error_redirect(&error, &issuer)));
    }
    if let Some(missing) = shortfall(&state, &company, &request.data_request).await? {
        return Ok(redirect(
            &request.error_redirect(&cannot_pay(&missing), &issuer),
        ));
    }
    let decision = decide(&profile, &company, &request.data_request);
    // Remembered consent: a live grant of this person to this company
    // already covers the request, and the policy still denies nothing
    // asked; see `Store::record_remembered_request`.
    match state
        .store
        .record_remembered_request(&who.person, &company, &request.data_request, &decision)
        .await
    {
        Ok(Some(grant)) => return send_code(&state, &request, &who.person, &grant.id).await,
        Ok(None) => {}
        Err(store::StoreError::InsufficientFunds { missing, .. }) => {
            return Ok(redirect(
                &request.error_redirect(&cannot_pay(&missing), &issuer),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let id = identity::new_session_token();
    state
        .store
        .save_pending_authorization(&id, &request, CONSENT_TTL)
        .await?;
    let items: Vec<Item> = decision.attributes().iter().map(Item::of).collect();
    let company_name = state
        .store
        .company(&company)
        .await
        .map(|c| c.name)
        .unwrap_or_else(|_| company.to_string());
    let page = ConsentPage {
        csrf_token: who.csrf_token(),
        any_grantable: items.iter().any(|i| i.grantable),
        company: company_name,
        purpose: request.data_request.purpose().plain_words().to_owned(),
        duration: request.data_request.duration().in_words(),
        offer: request
            .data_request
            .offer()
            .map_or_else(|| "no payment".to_owned(), |m| m.to_string()),
        items,
        id,
    };
    html(StatusCode::OK, &page)
}

/// The person's answer on the consent screen: approve the ticked
/// attributes (a grant and a single-use code for the company) or decline.
#[post("/oauth/authorize/{id}")]
pub async fn answer(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let issuer = state.oauth.issuer.clone();
    let request = state
        .store
        .take_pending_authorization(&id)
        .await?
        .ok_or_else(|| {
            PageError::Failed(Problem::new(
                StatusCode::BAD_REQUEST,
                "consent-expired",
                "This consent screen has expired or was answered",
                "go back to the company's site and start again",
            ))
        })?;
    let person = &form.who.person;
    let company = request.client_id.to_company_id();
    let profile = state.store.profile(person).await?;
    let decision = decide(&profile, &company, &request.data_request);
    let recorded = match state
        .store
        .record_request(
            person,
            &company,
            &request.data_request,
            &decision,
            Channel::Interactive,
        )
        .await
    {
        Err(store::StoreError::InsufficientFunds { missing, .. }) => {
            return Ok(redirect(
                &request.error_redirect(&cannot_pay(&missing), &issuer),
            ));
        }
        other => other?,
    };
    let approve = form.fields.get("decision") == Some("approve");
    let chosen: Vec<AttributeKey> = form
        .fields
        .all("attribute")
        .into_iter()
        .filter_map(|k| AttributeKey::parse(k).ok())
        .collect();
    if !approve || chosen.is_empty() {
        if recorded.status == store::RequestStatus::Pending {
            state.store.decline_request(person, &recorded.id).await?;
        }
        let error = OAuthError::new(authz::ErrorCode::AccessDenied, "the person declined");
        return Ok(redirect(&request.error_redirect(&error, &issuer)));
    }
    let grant = state
        .store
        .approve_request(person, &recorded.id, Some(&chosen))
        .await?;
    send_code(&state, &request, person, &grant.id).await
}

/// Sends the company back with a single-use code for `grant_id`.
async fn send_code(
    state: &AppState,
    request: &AuthorizationRequest,
    person: &store::PersonId,
    grant_id: &str,
) -> Result<HttpResponse, PageError> {
    let (code, record) = CodeRecord::issue(
        request,
        person.as_str(),
        grant_id,
        &mut OsRandom,
        now_unix(),
    )
    .map_err(|_| PageError::Failed(Problem::internal()))?;
    state.store.save_code(&record).await?;
    Ok(redirect(
        &request.success_redirect(&code, &state.oauth.issuer),
    ))
}

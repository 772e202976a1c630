//! The person's side of requests and grants: the inbox of requests waiting
//! for them (approve all, approve some, decline) and the grants they gave
//! (see, revoke). A revocation holds from the company's very next read.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use consent_policy::{AttributeKey, Decision};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::problem::Problem;
use crate::routes::page::{self, Page, PageQuery};
use crate::startup::AppState;

/// A request as its person sees it: who, what, why, how long, how much,
/// and what the policy said about each attribute and why.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "company_name": "Acme",
    "status": "pending",
    "counter": null,
    "request": {
        "type": "apiome_data",
        "attributes": ["display_name", "email"],
        "purpose": "marketing",
        "duration": "P30D",
        "offer": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"}
    },
    "purpose_in_words": "send you advertising and offers",
    "decision": {
        "attributes": [
            {
                "key": "display_name",
                "bucket": "public",
                "outcome": "allow",
                "reason": {"kind": "default", "default": "ask_me", "bucket": "public"}
            },
            {
                "key": "email",
                "bucket": "semi_private",
                "outcome": "ask",
                "reason": {"kind": "default", "default": "ask_me", "bucket": "semi_private"}
            }
        ]
    },
    "grant_id": null,
    "binding_message": "Order 4711",
    "created_at": "2026-12-07T10:00:00Z",
    "expires_at": "2026-12-14T10:00:00Z"
}))]
pub struct InboxRequest {
    /// Its id.
    pub id: String,
    /// The company's id.
    pub company_id: String,
    /// The company's name.
    pub company_name: String,
    /// `pending`, `countered` (the person named a price; waiting for the
    /// company), `approved`, `denied` or `expired`.
    #[schema(example = "pending")]
    pub status: String,
    /// The price the person named, if they countered.
    pub counter: Option<crate::problem::Amount>,
    /// What was asked, as the RFC 9396 `apiome_data` entry.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// The purpose in plain words.
    pub purpose_in_words: String,
    /// Per attribute: outcome (`allow`, `ask`, `deny`) and reason.
    #[schema(value_type = Object)]
    pub decision: Decision,
    /// The grant it became, if approved.
    pub grant_id: Option<String>,
    /// What the company asked to show beside the request (CIBA's
    /// `binding_message`), so the person can tie it to what they are doing
    /// with the company; the company's words, not apiome's.
    #[schema(example = "Order 4711")]
    pub binding_message: Option<String>,
    /// When it arrived.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// When it expires if undecided.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

async fn company_name(state: &AppState, id: &consent_policy::CompanyId) -> String {
    state
        .store
        .company(id)
        .await
        .map(|c| c.name)
        .unwrap_or_else(|_| id.to_string())
}

pub(crate) fn view(r: store::StoredRequest, company_name: String) -> Result<InboxRequest, Problem> {
    Ok(InboxRequest {
        company_name,
        company_id: r.company_id.to_string(),
        status: serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        request: serde_json::to_value(&r.request).map_err(|_| Problem::internal())?,
        counter: r
            .counter
            .as_ref()
            .map(|c| crate::problem::Amount::from(&c.price)),
        purpose_in_words: r.request.purpose().plain_words().to_owned(),
        decision: r.decision,
        grant_id: r.grant_id,
        binding_message: r.binding_message,
        created_at: r.created_at,
        expires_at: r.expires_at,
        id: r.id,
    })
}

/// Which requests to list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct InboxQuery {
    /// `pending` (the default) or `all`.
    #[param(value_type = Option<String>, pattern = "^(?:pending|all)$")]
    pub status: Option<String>,
}

/// The person's requests
///
/// Requests companies made to the signed-in person, newest first: pending ones
/// by default, every one with `status=all`. Each says what is asked, for what
/// purpose, for how long and what is offered.
#[utoipa::path(
    operation_id = "inbox_list",
    tag = "people", params(InboxQuery, PageQuery), responses(
        (status = 200, description = "The requests, newest first", body = Page<InboxRequest>),
        (status = 422, description = "`status`, `limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/requests")]
pub async fn list_requests(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<InboxQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = paging.check()?;
    let requests = match query.status.as_deref() {
        None | Some("pending") => broker::inbox::pending(&state.store, &who.person).await?,
        Some("all") => broker::inbox::all(&state.store, &who.person).await?,
        Some(other) => {
            return Err(Problem::invalid(
                "status",
                format!("{other:?}: use pending or all"),
            ));
        }
    };
    let out = requests
        .into_iter()
        .map(|r| view(r.request, r.company_name))
        .collect::<Result<Vec<_>, _>>()?;
    let page = paging.page(out, |r| {
        page::newest_first(page::millis(r.created_at), &r.id)
    });
    Ok(page::respond(&request, &state.public_url, &page))
}

/// An approval, of everything the policy left open or of a subset.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"attributes": ["display_name"]}))]
pub struct Approval {
    /// The attributes to grant; all that may be granted when left out.
    #[schema(value_type = Option<Vec<super::schema::AttributeKeyName>>)]
    pub attributes: Option<Vec<AttributeKey>>,
}

/// Approve a pending request
///
/// Approves a pending request, of everything the policy left open or of a
/// subset: a grant is created and any offer is paid into the person's earnings.
/// Attributes the policy withheld can never be granted, nor can those the
/// person has since moved to private or denied by a rule.
#[utoipa::path(
    operation_id = "inbox_approve",
    tag = "people",
    params(("id" = String, Path)),
    request_body = Approval,
    responses(
        (status = 201, description = "The grant made", body = GrantView),
        (status = 404, description = "No request of that id for this person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An attribute that cannot be granted", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/requests/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
    body: Option<web::Json<Approval>>,
) -> Result<HttpResponse, Problem> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let grant = match body.attributes {
        Some(chosen) => broker::answer::approve_only(&state.store, &who.person, &id, &chosen).await,
        None => broker::answer::approve_all(&state.store, &who.person, &id).await,
    }?;
    let name = company_name(&state, &grant.company_id).await;
    Ok(HttpResponse::Created().json(grant_view(grant, name)))
}

/// Decline a pending request
///
/// Declines a pending request. The company learns it was declined on `GET
/// /v1/requests/{id}` and by webhook.
#[utoipa::path(
    operation_id = "inbox_decline",
    tag = "people",
    params(("id" = String, Path)),
    responses((status = 200, description = "The declined request", body = InboxRequest), (status = 409, description = "Decided already or expired", body = Problem, content_type = "application/problem+json"))
)]
#[post("/v1/me/requests/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let request = broker::answer::decline(&state.store, &who.person, &id).await?;
    let name = company_name(&state, &request.company_id).await;
    Ok(HttpResponse::Ok().json(view(request, name)?))
}

/// "I would share this for X".
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "price": {"amount_micros": 80000, "currency": "EUR"},
    "attributes": ["email"]
}))]
pub struct CounterOffer {
    /// The price: more than the offer, in its currency.
    #[schema(value_type = super::schema::MoneyBody)]
    pub price: consent_policy::Money,
    /// The attributes it is for; all that may be granted when left out.
    #[schema(value_type = Option<Vec<super::schema::AttributeKeyName>>)]
    pub attributes: Option<Vec<AttributeKey>>,
}

/// Name a price for a request
///
/// Answers a waiting request that came with an offer with the person's own
/// price, for all the attributes they may grant or a subset. The company
/// sees `countered` with the price on `GET /v1/requests/{id}` and by the
/// `request.countered` webhook, and accepts (`POST
/// /v1/requests/{id}/accept-counter`) or lets it lapse with the request.
#[utoipa::path(
    operation_id = "inbox_counter",
    tag = "people",
    params(("id" = String, Path)),
    request_body = CounterOffer,
    responses(
        (status = 200, description = "The countered request", body = InboxRequest),
        (status = 400, description = "A price that is not an amount (negative, fractional, beyond the books)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No request of that id for this person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already, expired, or a request without an offer (`not-counterable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A price not above the offer or in another currency, or an attribute that cannot be granted; `field` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/requests/{id}/counter")]
pub async fn counter(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
    body: web::Json<CounterOffer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let request = broker::counter::counter(
        &state.store,
        &who.person,
        &id,
        body.price,
        body.attributes.as_deref(),
    )
    .await?;
    let name = company_name(&state, &request.company_id).await;
    Ok(HttpResponse::Ok().json(view(request, name)?))
}

/// A grant as its person sees it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "5d1c3a7e-8f2b-4c6d-9e0a-1b2c3d4e5f60",
    "request_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "company_name": "Acme",
    "attributes": ["display_name", "email"],
    "purpose": "marketing",
    "duration": "P30D",
    "price": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"},
    "status": "live",
    "created_at": "2026-12-07T10:02:11Z",
    "expires_at": "2027-01-06T10:02:11Z",
    "revoked_at": null
}))]
pub struct GrantView {
    /// Its id.
    pub id: String,
    /// The request it answered.
    pub request_id: String,
    /// The company's id.
    pub company_id: String,
    /// The company's name.
    pub company_name: String,
    /// Exactly the attributes the company may read.
    pub attributes: Vec<String>,
    /// For what.
    pub purpose: String,
    /// For how long (ISO 8601).
    pub duration: String,
    /// The price paid, if any.
    pub price: Option<crate::problem::Amount>,
    /// `live`, `revoked` or `expired`.
    #[schema(example = "live")]
    pub status: &'static str,
    /// Granted at.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// Ends at.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
    /// Revoked at.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
}

pub(crate) fn grant_view(g: store::Grant, company_name: String) -> GrantView {
    let status = if g.revoked_at.is_some() {
        "revoked"
    } else if g.is_live(time::OffsetDateTime::now_utc()) {
        "live"
    } else {
        "expired"
    };
    GrantView {
        company_name,
        company_id: g.company_id.to_string(),
        attributes: g.attributes.iter().map(ToString::to_string).collect(),
        purpose: g.purpose.to_string(),
        duration: g.duration.to_string(),
        price: g.price.as_ref().map(crate::problem::Amount::from),
        status,
        created_at: g.created_at,
        expires_at: g.expires_at,
        revoked_at: g.revoked_at,
        request_id: g.request_id,
        id: g.id,
    }
}

/// The grants the person gave
///
/// Every grant the signed-in person gave, newest first: live, revoked and
/// expired, with the company, attributes, purpose, expiry and price.
#[utoipa::path(
    operation_id = "grants_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "The grants, newest first", body = Page<GrantView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/grants")]
pub async fn list_grants(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let out: Vec<GrantView> = broker::grants::list(&state.store, &who.person)
        .await?
        .into_iter()
        .map(|g| grant_view(g.grant, g.company_name))
        .collect();
    let page = paging.page(out, |g| {
        page::newest_first(page::millis(g.created_at), &g.id)
    });
    Ok(page::respond(&request, &state.public_url, &page))
}

/// Revoke a grant
///
/// Revokes a grant: the company's next read under it is refused, its refresh
/// tokens stop working, and it is told by a `grant.revoked` webhook.
#[utoipa::path(
    operation_id = "grants_revoke",
    tag = "people",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The revoked grant", body = GrantView),
        (status = 404, description = "No grant of that id for this person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Revoked or expired already", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/me/grants/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let grant = broker::grants::revoke(&state.store, &who.person, &id).await?;
    let name = company_name(&state, &grant.company_id).await;
    Ok(HttpResponse::Ok().json(grant_view(grant, name)))
}

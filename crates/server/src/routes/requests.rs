//! Asynchronous requests: a company asks for a person who is not at the
//! consent screen, naming them by public handle or by the pairwise subject
//! it already holds. The policy answers at once per attribute; what it
//! leaves open waits in the person's inbox. The company polls the token
//! endpoint (`urn:openid:params:grant-type:ciba`, `auth_req_id` = the
//! request id) for tokens. The company sees "withheld", never which rule,
//! bucket or block withheld it.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use broker::ask::Asked;
use consent_policy::{CompanyId, Outcome, RequestError, SandboxPerson};
use serde::{Deserialize, Serialize};
use store::{ClientKind, Handle, RequestStatus, StoreError, StoredRequest};
use utoipa::ToSchema;

use crate::oauth_server::{BearerRejection, bearer_claims};
use crate::problem::Problem;
use crate::startup::AppState;

/// Whom a request is for.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PersonRef {
    /// By their public handle.
    Handle {
        /// The handle. A sandbox company names its synthetic people: `sandbox-allow`,
        /// `sandbox-ask`, `sandbox-ask-N` (approves after N s, 1 to 3600),
        /// `sandbox-decline`.
        #[schema(
            example = "ada",
            pattern = "^([A-Za-z][A-Za-z0-9_]{2,31}|sandbox-(allow|decline|ask(-[1-9][0-9]{0,3})?))$"
        )]
        handle: String,
    },
    /// By the pairwise subject this company was given for them.
    Subject {
        /// The subject.
        subject: String,
    },
}

/// A new asynchronous request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "person": {"handle": "ada"},
    "authorization_details": [
        {
            "type": "apiome_data",
            "attributes": ["display_name", "email"],
            "purpose": "marketing",
            "duration": "P30D",
            "offer": {"amount_micros": 50000, "currency": "EUR"}
        }
    ]
}))]
pub struct NewRequest {
    /// Whom.
    pub person: PersonRef,
    /// Exactly one RFC 9396 entry of type `apiome_data`.
    #[schema(value_type = Vec<super::schema::DataDetail>, min_items = 1, max_items = 1)]
    pub authorization_details: Vec<serde_json::Value>,
}

/// Where a request stands, as the company sees it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "request_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
    "status": "pending",
    "counter": null,
    "attributes": {"display_name": "allowed", "email": "pending"},
    "grant_id": null
}))]
pub struct RequestBody {
    /// The request's id; the `auth_req_id` to poll the token endpoint with.
    pub request_id: String,
    /// `pending`, `countered` (the person named a price: accept it with
    /// `POST /v1/requests/{id}/accept-counter` before the request expires),
    /// `approved`, `denied` or `expired`.
    #[schema(example = "pending")]
    pub status: String,
    /// The person's price, while countered (and after).
    pub counter: Option<crate::problem::Amount>,
    /// Per attribute asked for: `allowed`, `pending` or `withheld`; while
    /// countered, `pending` for those the counter is for.
    #[schema(value_type = Object, example = json!({"display_name": "allowed", "email": "pending", "birth_date": "withheld"}))]
    pub attributes: BTreeMap<String, String>,
    /// The grant, once approved.
    pub grant_id: Option<String>,
}

/// The calling company, from a client-credentials access token.
pub(crate) async fn calling_company(
    state: &AppState,
    req: &HttpRequest,
) -> Result<CompanyId, BearerRejection> {
    let claims = bearer_claims(&state.store, &state.oauth, req).await?;
    if claims.grant_id.is_some() || claims.sub != claims.client_id {
        return Err(BearerRejection::forbidden(
            "use a token from the client_credentials grant",
        ));
    }
    let client_id = authz::ClientId::parse(&claims.client_id)
        .map_err(|_| BearerRejection::invalid("the token names no client of this server"))?;
    let client = state
        .store
        .client(&client_id)
        .await?
        .ok_or_else(|| BearerRejection::invalid("the token's client is not registered"))?;
    if client.kind != ClientKind::Company {
        return Err(BearerRejection::forbidden("only companies make requests"));
    }
    Ok(client_id.to_company_id())
}

fn view(request: &StoredRequest, granted: Option<&[consent_policy::AttributeKey]>) -> RequestBody {
    let now = time::OffsetDateTime::now_utc();
    let status = match request.status {
        RequestStatus::Pending | RequestStatus::Countered if request.expires_at <= now => {
            RequestStatus::Expired
        }
        other => other,
    };
    let countered = request.counter.as_ref().map(|c| c.attributes.as_slice());
    let attributes = request
        .decision
        .attributes()
        .iter()
        .map(|d| {
            let word = match status {
                RequestStatus::Pending => match d.outcome {
                    Outcome::Allow => "allowed",
                    Outcome::Ask => "pending",
                    Outcome::Deny => "withheld",
                },
                RequestStatus::Approved if granted.is_some_and(|g| g.contains(&d.key)) => "allowed",
                RequestStatus::Countered if countered.is_some_and(|c| c.contains(&d.key)) => {
                    "pending"
                }
                _ => "withheld",
            };
            (d.key.to_string(), word.to_owned())
        })
        .collect();
    RequestBody {
        request_id: request.id.clone(),
        status: match status {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Expired => "expired",
            RequestStatus::Countered => "countered",
        }
        .to_owned(),
        counter: request
            .counter
            .as_ref()
            .map(|c| crate::problem::Amount::from(&c.price)),
        attributes,
        grant_id: request.grant_id.clone(),
    }
}

/// How a request the policy refused when it arrived reads.
fn refused_at_once(nobody: &store::NobodyRequest) -> RequestBody {
    RequestBody {
        request_id: nobody.auth_req_id.clone(),
        status: "denied".to_owned(),
        counter: None,
        attributes: nobody
            .asked
            .attributes()
            .iter()
            .map(|key| (key.to_string(), "withheld".to_owned()))
            .collect(),
        grant_id: None,
    }
}

async fn render(state: &AppState, request: &StoredRequest) -> Result<RequestBody, Problem> {
    let granted = match (&request.grant_id, request.status) {
        (Some(id), RequestStatus::Approved) => Some(state.store.grant(id).await?.attributes),
        _ => None,
    };
    Ok(view(request, granted.as_deref()))
}

/// An amount the books cannot hold is a `400` like any unreadable number;
/// the rest of a request that was read but is not acceptable is a `422`.
fn request_problem(error: &RequestError) -> Problem {
    let field = format!("authorization_details.{}", error.field());
    match error {
        RequestError::NegativeOffer | RequestError::OfferOverflow => Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-amount",
            "Invalid amount",
            error.to_string(),
        )
        .with_field(field),
        _ => Problem::invalid(&field, error.to_string()),
    }
}

/// Ask a person for data asynchronously
///
/// The answer says at once what the person's policy allows (`allowed`), what
/// waits for them (`pending`) and what will not be given (`withheld`). A
/// request to an unknown or blocking person, or for longer than the person
/// accepts, is answered exactly as a refusal (`201`, `denied`), so the
/// answer never tells who has an account. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "requests_create",
    tag = "companies",
    request_body = NewRequest,
    responses(
        (status = 201, description = "The request and the policy's answer", body = RequestBody),
        (status = 400, description = "A body that could not be read, or an offer amount outside 0..=9223372036854775807 micro-units (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or an invalid access token, or (DPoP) a bad, reused or missing proof (`WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a company's client-credentials token", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "The wallet cannot cover the offer; `missing` says by how much", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed `authorization_details`, unknown attribute or purpose, a duration beyond ten years, or an `Idempotency-Key` used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this `Idempotency-Key` is still running", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the company's request rate; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes a retry safe: the same key and body within 24 h replays the first answer (`Idempotent-Replayed: true`) and asks nothing again; the same key with another body is 422; a request still running under the key is waited for, 409 after 10 s")),
    security(("bearer" = []), ("dpop" = []))
)]
#[post("/v1/requests")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let command = ask(state.clone(), company.clone(), body.clone());
    Ok(crate::idempotency::once(&state.store, &req, &company, &body, command).await)
}

/// `POST /v1/requests` once the company is known (and its
/// `Idempotency-Key` claimed).
async fn ask(
    state: web::Data<AppState>,
    company: CompanyId,
    body: web::Bytes,
) -> Result<HttpResponse, BearerRejection> {
    if body.len() > crate::startup::MAX_JSON_BYTES {
        return Err(too_large().into());
    }
    let body: NewRequest =
        serde_json::from_slice(&body).map_err(|e| Problem::malformed(e.to_string()))?;
    if let Err(wait) = state.rate_limit.check(company.as_str()) {
        return Ok(rate_limited(wait));
    }
    let whom = Whom::parse(body.person)?;
    let entry = one_entry(body.authorization_details)?;
    let body = match broker::ask::ask_rest(&state.store, &company, whom.person(), entry)
        .await
        .map_err(Problem::from)?
    {
        Ok(Asked::Recorded(stored)) => render(&state, &stored).await?,
        Ok(Asked::RefusedAtOnce(nobody)) => refused_at_once(&nobody),
        Err(e) => return Err(request_problem(&e).into()),
    };
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/requests/{}", body.request_id),
        ))
        .json(body))
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!(
            "a request body is at most {} bytes",
            crate::startup::MAX_JSON_BYTES
        ),
    )
}

/// `429` for a company over its rate, with `Retry-After`.
fn rate_limited(wait: std::time::Duration) -> HttpResponse {
    let secs = crate::rate_limit::retry_after_secs(wait);
    let problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("this company is over its request rate; retry after {secs} s"),
    );
    let mut response = actix_web::ResponseError::error_response(&problem);
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(secs),
    );
    response
}

/// Whom a request is for, read.
enum Whom {
    Handle(Handle),
    Subject(String),
    Sandbox(SandboxPerson),
}

impl Whom {
    fn parse(person: PersonRef) -> Result<Whom, Problem> {
        let invalid = |e: &dyn std::fmt::Display| Problem::invalid("person.handle", e.to_string());
        match person {
            PersonRef::Handle { handle } => match SandboxPerson::parse(&handle) {
                Ok(Some(who)) => Ok(Whom::Sandbox(who)),
                Ok(None) => Handle::parse(&handle)
                    .map(Whom::Handle)
                    .map_err(|e| invalid(&e)),
                Err(e) => Err(invalid(&e)),
            },
            PersonRef::Subject { subject } => Ok(Whom::Subject(subject)),
        }
    }

    fn person(&self) -> broker::ask::Person<'_> {
        match self {
            Whom::Handle(handle) => broker::ask::Person::Handle(handle),
            Whom::Subject(subject) => broker::ask::Person::Subject(subject),
            Whom::Sandbox(who) => broker::ask::Person::Sandbox(*who),
        }
    }
}

/// The one `authorization_details` entry a request must hold.
fn one_entry(details: Vec<serde_json::Value>) -> Result<serde_json::Value, Problem> {
    let [entry] = <[serde_json::Value; 1]>::try_from(details).map_err(|_| {
        Problem::invalid(
            "authorization_details",
            "`authorization_details` must hold exactly one entry of type `apiome_data`",
        )
    })?;
    Ok(entry)
}

/// Where one of the company's requests stands
///
/// The status of one of the calling company's requests (`pending`, `approved`,
/// `denied`, `expired`), each attribute's outcome and, once approved, the
/// grant's id.
#[utoipa::path(
    operation_id = "requests_get",
    tag = "companies",
    params(("id" = String, Path, description = "The request id"), ("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    responses(
        (status = 200, description = "The request", body = RequestBody),
        (status = 401, description = "No or an invalid access token, or (DPoP) a bad, reused or missing proof (`WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("dpop" = []))
)]
#[get("/v1/requests/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<RequestBody>, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let missing = || Problem::not_found("no such request").with_field("id");
    let request = match state.store.request(&id).await {
        Ok(request) if request.company_id == company => request,
        Ok(_) => return Err(missing().into()),
        Err(StoreError::RequestNotFound(_)) => {
            // A backchannel request whose hint named nobody reads as one
            // the policy refused at once (no enumeration).
            let Some(nobody) = state.store.ciba_for_nobody(&company, &id).await? else {
                return Err(missing().into());
            };
            return Ok(web::Json(refused_at_once(&nobody)));
        }
        Err(e) => return Err(e.into()),
    };
    let request = broker::sandbox::settle(&state.store, request, time::OffsetDateTime::now_utc())
        .await
        .map_err(Problem::from)?;
    Ok(web::Json(render(&state, &request).await?))
}

/// Accept the person's counter-offer
///
/// Accepts the price the person named for one of the calling company's
/// requests (status `countered`): in one transaction the offer's
/// reservation goes back to the wallet, the counter is reserved and paid
/// to the person, and the attributes it was for (those the person's policy
/// still allows) are granted. Then fetch tokens as for an approval (CIBA
/// poll with the request id as `auth_req_id`).
#[utoipa::path(
    operation_id = "requests_accept_counter",
    tag = "companies",
    params(("id" = String, Path, description = "The request id"), ("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    responses(
        (status = 201, description = "Accepted: the request, approved, with its grant", body = RequestBody),
        (status = 401, description = "No or an invalid access token, or (DPoP) a bad, reused or missing proof", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "The wallet cannot cover the counter; `missing` says by how much (nothing changed)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this company", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No counter-offer waiting (none made, accepted already, or lapsed)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The person's policy no longer allows any of the attributes (nothing changed)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("dpop" = []))
)]
#[post("/v1/requests/{id}/accept-counter")]
pub async fn accept_counter(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    match broker::counter::accept(&state.store, &company, &id).await {
        Ok(_) => {}
        Err(broker::BrokerError::Store(StoreError::RequestNotFound(_)))
            if state.store.ciba_for_nobody(&company, &id).await?.is_some() =>
        {
            // A request to nobody reads as a refusal: nothing to accept,
            // as for any request without a counter (no enumeration).
            return Err(Problem::from(StoreError::NotCountered(id.to_string())).into());
        }
        Err(broker::BrokerError::Store(StoreError::RequestNotFound(_))) => {
            return Err(Problem::not_found("no such request")
                .with_field("id")
                .into());
        }
        Err(e) => return Err(Problem::from(e).into()),
    }
    let request = state.store.request(&id).await?;
    Ok(HttpResponse::Created().json(render(&state, &request).await?))
}

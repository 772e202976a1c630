//! A company's webhook: where apiome calls when one of its asynchronous
//! requests is decided or one of its grants revoked (see
//! [`crate::webhooks`] for the call and its Standard Webhooks signature),
//! and its signing secret, random and rotatable.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::oauth_server::BearerRejection;
use crate::problem::Problem;
use crate::routes::requests::calling_company;
use crate::startup::AppState;
use crate::webhooks;

/// The URL to call.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://acme.example/hooks/apiome"}))]
pub struct WebhookSetting {
    /// An `https://` URL.
    #[schema(example = "https://acme.example/hooks/apiome")]
    pub url: String,
}

/// The webhook as set, with its signing secret.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"url": "https://acme.example/hooks/apiome", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))]
pub struct WebhookCreated {
    /// The URL called.
    pub url: String,
    /// The current signing secret, in Standard Webhooks' form: the HMAC-SHA256
    /// key of `webhook-signature` is the base64 after `whsec_`. Made once,
    /// at random, when the first webhook is set; the same on every `PUT`
    /// until rotated.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A new signing secret, and until when the replaced one also signs.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "previous_secret_signs_until": "2026-12-08T10:00:00Z"
}))]
pub struct SecretRotated {
    /// The new current secret (`whsec_…`).
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// Until then (RFC 3339) each call carries two signatures, one per
    /// secret, so a receiver still on the old secret verifies it.
    #[schema(example = "2026-12-08T10:00:00Z")]
    pub previous_secret_signs_until: Option<String>,
}

/// One delivery.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "3f2a9c4e-1d7b-4a6f-8e25-c0b9d8a7f614",
    "event": "request.approved",
    "attempts": 1,
    "created_at": "2026-12-07T10:00:00Z",
    "state": "delivered",
    "last_status": 200,
    "last_error": null,
    "last_latency_ms": 42
}))]
pub struct DeliveryView {
    /// The event id (`webhook-id`).
    pub id: String,
    /// `request.approved`, `request.declined`, `request.expired` or `grant.revoked`.
    pub event: String,
    /// Calls made.
    pub attempts: i32,
    /// When the event was queued (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// `queued`, `retrying`, `delivered`, or `failed` (gave up).
    #[schema(example = "delivered")]
    pub state: String,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// The HTTP status the receiver answered to the latest call (none when
    /// it did not answer, or no call was made yet).
    #[schema(example = 200)]
    pub last_status: Option<u16>,
    /// How long the latest call took, in milliseconds.
    #[schema(example = 42)]
    pub last_latency_ms: Option<u32>,
}

impl From<store::WebhookStatus> for DeliveryView {
    fn from(d: store::WebhookStatus) -> Self {
        DeliveryView {
            state: match (d.delivered_at, d.next_attempt_at) {
                (Some(_), _) => "delivered",
                (None, Some(_)) if d.attempts == 0 => "queued",
                (None, Some(_)) => "retrying",
                (None, None) => "failed",
            }
            .to_owned(),
            id: d.id,
            event: d.event,
            attempts: d.attempts,
            created_at: d.created_at,
            last_error: d.last_error,
            last_status: d.last_status,
            last_latency_ms: d.last_latency_ms,
        }
    }
}

/// One call made for a delivery.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"attempt": 1, "at": "2026-12-07T10:05:02Z", "status": 200, "latency_ms": 42, "error": null}))]
pub struct AttemptView {
    /// 1 for the first call.
    pub attempt: i32,
    /// When it was made (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// The HTTP status answered; none when no answer came.
    #[schema(example = 200)]
    pub status: Option<u16>,
    /// How long the call took, in milliseconds.
    #[schema(example = 42)]
    pub latency_ms: u32,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A delivery with its log.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "3f2a9c4e-1d7b-4a6f-8e25-c0b9d8a7f614",
    "event": "request.approved",
    "attempts": 1,
    "created_at": "2026-12-07T10:05:01Z",
    "state": "delivered",
    "last_status": 200,
    "last_error": null,
    "last_latency_ms": 42,
    "calls": [
        {
            "attempt": 1,
            "at": "2026-12-07T10:05:02Z",
            "status": 200,
            "latency_ms": 42,
            "error": null
        }
    ]
}))]
pub struct DeliveryLog {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// Every call made for it, oldest first.
    pub calls: Vec<AttemptView>,
}

/// A delivery queued.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"delivery_id": "3f2a9c4e-1d7b-4a6f-8e25-c0b9d8a7f614"}))]
pub struct Queued {
    /// The delivery's id (the call's `webhook-id`).
    pub delivery_id: String,
}

/// The webhook and its latest deliveries.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "url": "https://acme.example/hooks/apiome",
    "deliveries": [
        {
            "id": "3f2a9c4e-1d7b-4a6f-8e25-c0b9d8a7f614",
            "event": "request.approved",
            "attempts": 1,
            "created_at": "2026-12-07T10:05:01Z",
            "state": "delivered",
            "last_status": 200,
            "last_error": null,
            "last_latency_ms": 42
        }
    ]
}))]
pub struct WebhookView {
    /// The URL called, if one is set.
    pub url: Option<String>,
    /// Newest first, at most 50.
    pub deliveries: Vec<DeliveryView>,
}

/// Set the webhook URL
///
/// Sets the `https://` URL apiome calls on decisions and revocations, and
/// returns the signing secret (`whsec_…`, Standard Webhooks).
#[utoipa::path(
    operation_id = "webhook_put",
    tag = "companies",
    request_body = WebhookSetting,
    responses(
        (status = 200, description = "Set", body = WebhookCreated),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a company's client-credentials token", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Not an acceptable URL: https only, and every address it names global (no loopback, private, link-local, reserved or translated address)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/v1/webhook")]
pub async fn set(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<WebhookSetting>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let url = webhooks::check_destination(&body.url, state.webhook_allow_loopback)
        .await
        .map_err(refused)?
        .url;
    let secrets = broker::webhook::set(&state.store, &company, url.as_str())
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(WebhookCreated {
        url: url.to_string(),
        secret: current(&secrets)?,
    }))
}

/// The current secret's text (a set webhook always has one).
fn current(secrets: &[store::WebhookSecret]) -> Result<String, Problem> {
    secrets
        .first()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(|| {
            tracing::error!("a webhook without a signing secret");
            Problem::internal()
        })
}

/// Rotate the webhook signing secret
///
/// Replaces the signing secret with a new random one. The replaced one goes on
/// signing every call for 24 hours (two `v1,` signatures in
/// `webhook-signature`), so the receiver can move to the new one without
/// missing a call; a secret replaced before that stops at once.
#[utoipa::path(
    operation_id = "webhook_secret_rotate",
    tag = "companies",
    responses(
        (status = 200, description = "Rotated", body = SecretRotated),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a company's client-credentials token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhook/secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let secrets = broker::webhook::rotate_secret(&state.store, &company)
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(SecretRotated {
        secret: current(&secrets)?,
        previous_secret_signs_until: secrets
            .iter()
            .find_map(store::WebhookSecret::signs_until)
            .and_then(|t| t.format(&Rfc3339).ok()),
    }))
}

/// 400: the URL is malformed or would reach an address no webhook may.
fn refused(detail: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "webhook-url-refused",
        "Webhook URL refused",
        detail,
    )
    .with_field("url")
}

/// The webhook URL and recent deliveries
///
/// The webhook URL and the latest deliveries: event, attempts, state and last
/// error.
#[utoipa::path(
    operation_id = "webhook_get",
    tag = "companies",
    responses(
        (status = 200, description = "The webhook", body = WebhookView),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhook")]
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let broker::webhook::Webhook { url, deliveries } =
        broker::webhook::show(&state.store, &company)
            .await
            .map_err(Problem::from)?;
    let deliveries = deliveries.into_iter().map(DeliveryView::from).collect();
    Ok(HttpResponse::Ok().json(WebhookView { url, deliveries }))
}

/// Stop the webhook calls
///
/// Stops the calls; deliveries already queued still go to the old URL.
#[utoipa::path(
    operation_id = "webhook_delete",
    tag = "companies",
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/v1/webhook")]
pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    broker::webhook::remove(&state.store, &company)
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a test event
///
/// Queues a `ping` event to the webhook URL, signed like every call, to
/// check the receiver end to end; its delivery then shows in
/// `GET /v1/webhook/deliveries/{id}`.
#[utoipa::path(
    operation_id = "webhook_ping",
    tag = "companies",
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a company's client-credentials token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No webhook URL is set", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhook/ping")]
pub async fn ping(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let queued = broker::webhook::ping(&state.store, &company)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::conflict("no-webhook", "No webhook", "set a webhook URL first"))?;
    Ok(HttpResponse::Accepted().json(Queued {
        delivery_id: queued,
    }))
}

/// Every delivery, a page at a time
///
/// The calling company's deliveries, newest first, one page at a time
/// (`limit`, `cursor`; `next_cursor` and `Link: rel="next"` while there is
/// more): event, when, attempts, state and the latest call's answer.
#[utoipa::path(
    operation_id = "webhook_deliveries_list",
    tag = "companies",
    params(crate::routes::page::PageQuery),
    responses(
        (status = 200, description = "One page of deliveries, newest first", body = crate::routes::page::Page<DeliveryView>),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhook/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<crate::routes::page::PageQuery>,
) -> Result<HttpResponse, BearerRejection> {
    use crate::routes::page;
    let company = calling_company(&state, &req).await?;
    let paging = query.check()?;
    let after = paging.after_time_id()?;
    let mut found =
        broker::webhook::deliveries(&state.store, &company, after, paging.limit as u64 + 1)
            .await
            .map_err(Problem::from)?;
    let more = found.len() > paging.limit;
    found.truncate(paging.limit);
    let next_cursor = found
        .last()
        .filter(|_| more)
        .map(|d| page::cursor_after(&page::time_id_key(d.created_at, &d.id)));
    let answer = page::Page {
        items: found.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    };
    Ok(page::respond(&req, &state.public_url, &answer))
}

/// One delivery and its calls
///
/// A delivery of the calling company's with every call made for it: when,
/// the status the receiver answered, and how long it took.
#[utoipa::path(
    operation_id = "webhook_delivery_get",
    tag = "companies",
    params(("id" = String, Path, description = "The delivery's id (`webhook-id`)")),
    responses(
        (status = 200, description = "The delivery and its log", body = DeliveryLog),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No delivery of that id for this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/webhook/deliveries/{id}")]
pub async fn delivery(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let (delivery, calls) = broker::webhook::delivery(&state.store, &company, &id)
        .await
        .map_err(Problem::from)?
        .ok_or_else(|| Problem::not_found("no such delivery").with_field("id"))?;
    let calls = calls
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            at: a.at,
            status: a.call.status,
            latency_ms: a.call.latency_ms,
            error: a.call.error,
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryLog {
        delivery: delivery.into(),
        calls,
    }))
}

/// Deliver an event again
///
/// Calls the delivery again now, with the same `webhook-id` (so a receiver
/// that had it de-duplicates), whatever became of it: delivered, given up
/// after three days, or waiting for a retry.
#[utoipa::path(
    operation_id = "webhook_delivery_redeliver",
    tag = "companies",
    params(("id" = String, Path, description = "The delivery's id (`webhook-id`)")),
    responses(
        (status = 202, description = "Queued again", body = Queued),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No delivery of that id for this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/webhook/deliveries/{id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let found = broker::webhook::redeliver(&state.store, &company, &id)
        .await
        .map_err(Problem::from)?;
    if !found {
        return Err(Problem::not_found("no such delivery")
            .with_field("id")
            .into());
    }
    Ok(HttpResponse::Accepted().json(Queued {
        delivery_id: id.into_inner(),
    }))
}

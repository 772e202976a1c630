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
pub struct WebhookSetting {
    /// An `https://` URL.
    #[schema(example = "https://acme.example/hooks/apiome")]
    pub url: String,
}

/// The webhook as set, with its signing secret.
#[derive(Serialize, ToSchema)]
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
pub struct DeliveryView {
    /// The event id (`webhook-id`).
    pub id: String,
    /// `request.approved`, `request.declined`, `request.expired` or `grant.revoked`.
    pub event: String,
    /// Calls made.
    pub attempts: i32,
    /// `delivered`, `retrying` or `failed` (gave up).
    /// `queued`, `retrying`, `delivered`, or `failed` (gave up).
    #[schema(example = "delivered")]
    pub state: String,
    /// What went wrong last.
    pub last_error: Option<String>,
}

/// The webhook and its latest deliveries.
#[derive(Serialize, ToSchema)]
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
    let deliveries = deliveries
        .into_iter()
        .map(|d| DeliveryView {
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
            last_error: d.last_error,
        })
        .collect();
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

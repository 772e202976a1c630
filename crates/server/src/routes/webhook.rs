//! A company's webhook: where apiome calls when one of its asynchronous
//! requests is decided or one of its grants revoked (see
//! [`crate::webhooks`] for the call and its signature).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::oauth_server::BearerRejection;
use crate::problem::Problem;
use crate::routes::requests::calling_company;
use crate::startup::AppState;
use crate::webhooks;

/// Deliveries `GET /v1/webhook` lists.
const LISTED: u64 = 50;

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
    /// The key of `Apiome-Signature` (HMAC-SHA256 of `"<t>.<body>"`).
    #[schema(example = "whsec_Zm9vYmFy...")]
    pub secret: String,
}

/// One delivery.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The event id (`Apiome-Event-Id`).
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

/// Sets the URL apiome calls on decisions and revocations, and returns the
/// signing secret.
#[utoipa::path(
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
    state
        .store
        .set_webhook(&company, Some(url.as_str()))
        .await?;
    Ok(HttpResponse::Ok().json(WebhookCreated {
        url: url.to_string(),
        secret: webhooks::secret(&state.oauth.server_key, &company),
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

/// The webhook URL and how the latest calls went.
#[utoipa::path(
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
    let url = state.store.webhook(&company).await?;
    let deliveries = state
        .store
        .webhook_deliveries(&company, LISTED)
        .await?
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

/// Stops the calls (deliveries already queued still go to the old URL).
#[utoipa::path(
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
    state.store.set_webhook(&company, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

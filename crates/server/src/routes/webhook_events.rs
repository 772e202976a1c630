//! The calls apiome makes to a company's webhook, as OpenAPI 3.1 `webhooks`:
//! one entry per event type, with the body and the Standard Webhooks
//! headers, so a generated client types what it receives.

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    ContentBuilder, PathItem, Paths, PathsBuilder, Ref, Required, ResponseBuilder,
};

/// A call about one of the company's asynchronous requests.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct RequestEvent {
    /// The event id, also in `webhook-id`; a retry carries the same one.
    #[schema(example = "01JEV7Q5W1M2X0K8Z3R4T5Y6U7")]
    id: String,
    /// `request.created`, `request.approved`, `request.declined`,
    /// `request.countered` or `request.expired`.
    #[schema(example = "request.approved")]
    r#type: String,
    /// When the event happened (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    created_at: String,
    /// What happened.
    data: RequestEventData,
}

/// The request a call is about.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct RequestEventData {
    /// The request (`POST /v1/requests`' `request_id`).
    request_id: String,
    /// `pending`, `countered`, `approved`, `denied` or `expired`.
    #[schema(example = "approved")]
    status: String,
    /// For `request.countered`: the price the person named.
    counter: Option<crate::problem::Amount>,
    /// The grant made, when approved.
    grant_id: Option<String>,
    /// The attribute names granted, when approved, or the counter is for,
    /// when countered (never a value).
    #[schema(example = json!(["email"]))]
    attributes: Option<Vec<String>>,
}

/// A call about one of the company's grants.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct GrantEvent {
    /// The event id, also in `webhook-id`; a retry carries the same one.
    id: String,
    /// `grant.revoked` or `grant.expired`.
    #[schema(example = "grant.revoked")]
    r#type: String,
    /// When the event happened (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    created_at: String,
    /// Which grant.
    data: GrantEventData,
}

/// The grant a call is about.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct GrantEventData {
    /// The grant; reads under it are refused from now on.
    grant_id: String,
    /// The request it answered.
    request_id: String,
}

/// A call about the company's wallet.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct WalletEvent {
    /// The event id, also in `webhook-id`; a retry carries the same one.
    id: String,
    /// `wallet.low`.
    #[schema(example = "wallet.low")]
    r#type: String,
    /// When the event happened (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    created_at: String,
    /// The wallet's state.
    data: WalletEventData,
}

/// Why the wallet is low.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct WalletEventData {
    /// What is left to reserve, in the offer's currency.
    available: crate::problem::Amount,
    /// The offer whose reservation left too little to make it again.
    last_offer: crate::problem::Amount,
    /// The request that offer was made with.
    request_id: String,
}

/// A test call the company asked for.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the store writes the body")]
pub struct PingEvent {
    /// The event id, also in `webhook-id`.
    id: String,
    /// `ping`.
    #[schema(example = "ping")]
    r#type: String,
    /// When it was asked for (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    created_at: String,
    /// A message for people.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// Every event type a company's webhook receives, with its body schema and
/// what it means.
const EVENTS: [(&str, &str, &str); 9] = [
    (
        "request.created",
        "RequestEvent",
        "An asynchronous request was made (by `POST /v1/requests` or CIBA): `status` is the policy's first answer, `pending` while the person decides, or already `approved` (with `grant_id`) or `denied`.",
    ),
    (
        "request.approved",
        "RequestEvent",
        "The person approved a pending request, wholly or partly: `grant_id` and the granted attribute names.",
    ),
    (
        "request.declined",
        "RequestEvent",
        "The person declined a pending request (`status: denied`).",
    ),
    (
        "request.countered",
        "RequestEvent",
        "The person named their price for a request that came with an offer (`status: countered`, `counter`, the attribute names): accept it with `POST /v1/requests/{id}/accept-counter` before the request expires, or let it lapse.",
    ),
    (
        "request.expired",
        "RequestEvent",
        "A pending request was not answered in time (`status: expired`).",
    ),
    (
        "grant.revoked",
        "GrantEvent",
        "A grant ended before its expiry: the person revoked it or blocked the company.",
    ),
    (
        "grant.expired",
        "GrantEvent",
        "A grant reached the end of its duration: its tokens read nothing from now on.",
    ),
    (
        "wallet.low",
        "WalletEvent",
        "Reserving an offer left the wallet unable to cover the same offer again: fund it (`apiome company fund`) before the next request is refused with `insufficient-funds`.",
    ),
    (
        "ping",
        "PingEvent",
        "A test call asked for with `POST /v1/webhook/ping`.",
    ),
];

fn header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

/// The `webhooks` of the document.
pub fn webhooks() -> Paths {
    let mut paths = PathsBuilder::new();
    for (event, schema, meaning) in EVENTS {
        let operation = OperationBuilder::new()
            .operation_id(Some(format!("webhook_event_{}", event.replace('.', "_"))))
            .summary(Some(format!("The `{event}` event")))
            .description(Some(format!(
                "{meaning} Signed per Standard Webhooks with the company's `whsec_` secret; \
                 answer 2xx within 5 seconds, or the call is retried with back-off."
            )))
            .tag("webhooks")
            .parameter(header(
                "webhook-id",
                "The event id; a retry carries the same one, for de-duplication.",
            ))
            .parameter(header("webhook-timestamp", "Unix seconds when sent."))
            .parameter(header(
                "webhook-signature",
                "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `id.timestamp.body`, \
                 one per live secret.",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .required(Some(Required::True))
                    .build(),
            ))
            .response(
                "2XX",
                ResponseBuilder::new().description("Received; not called again for this event"),
            )
            .build();
        paths = paths.path(event, PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

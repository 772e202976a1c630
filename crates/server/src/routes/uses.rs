//! `POST /v1/grants/{id}/uses`: a company says what it did with a grant's
//! data. A kind the grant's purpose does not cover is `403` and still
//! recorded (`broker::uses`).

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::oauth_server::BearerRejection;
use crate::problem::Problem;
use crate::routes::requests::calling_company;
use crate::startup::AppState;

/// A reported use.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "aggregated",
    "recipient": null,
    "note": "counted in the monthly visitors-by-city report"
}))]
pub struct UseBody {
    /// `used`, `sold`, `aggregated` or `shared`.
    #[schema(example = "aggregated", max_length = 16)]
    pub kind: String,
    /// Who received the data (1 to 256 characters), when it left the company.
    #[schema(example = "Data Broker Ltd", max_length = 256)]
    pub recipient: Option<String>,
    /// What was done, for the person to read (1 to 1000 characters).
    #[schema(
        example = "counted in the monthly visitors-by-city report",
        max_length = 1000
    )]
    pub note: String,
}

/// A use as recorded.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b",
    "grant_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
    "kind": "aggregated",
    "recipient": null,
    "note": "counted in the monthly visitors-by-city report",
    "accepted": true,
    "created_at": "2026-12-07T10:02:11Z",
    "ledger_index": 57
}))]
pub struct UseView {
    /// Its id.
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// The kind reported.
    pub kind: &'static str,
    /// Who received the data.
    pub recipient: Option<String>,
    /// What was done.
    pub note: String,
    /// Always `true` here: a use the purpose does not cover is a 403.
    pub accepted: bool,
    /// When it was reported.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// The index of its `use_reported` ledger entry.
    pub ledger_index: u64,
}

/// Report a use of a grant's data
///
/// Tells the person (and the log) what the calling company did with the data
/// of one of its grants. The grant's purpose must cover the kind: `sold`
/// needs `resale`; `shared` needs `resale` or `legal_obligation`;
/// `aggregated` needs `analytics`, `research`, `fraud_prevention` or
/// `resale`; `used` is covered by every purpose. A kind not covered is
/// refused with `403` **and recorded** (a `use_reported` entry with
/// `accepted: false`, shown to the person). The recipient and note are
/// shown to the person and never written to the ledger.
#[utoipa::path(
    operation_id = "grant_uses_report",
    tag = "companies",
    params(("id" = String, Path, description = "The grant id"), ("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    request_body = UseBody,
    responses(
        (status = 201, description = "Recorded and covered by the grant's purpose", body = UseView),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The grant's purpose does not cover this kind; the attempt is recorded", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant of this company", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The grant is revoked or expired (nothing recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`kind`, `note` or `recipient` is not valid (nothing recorded)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("dpop" = []))
)]
#[post("/v1/grants/{id}/uses")]
pub async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<UseBody>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let report = broker::uses::UseReport::parse(&body.kind, body.recipient.as_deref(), &body.note)
        .map_err(Problem::from)?;
    let used = broker::uses::report(&state.store, &company, &id, &report)
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Created().json(UseView {
        id: used.id,
        grant_id: used.grant_id,
        kind: used.kind.as_str(),
        recipient: used.recipient,
        note: used.note,
        accepted: used.accepted,
        created_at: used.created_at,
        ledger_index: used.ledger_index,
    }))
}

//! Consent receipts: the person's (`/v1/me/receipts`) and, for its own
//! grants, the company's (`/v1/grants/{id}/receipts`). Both read the same
//! signed receipts; each shows the claims, the compact JWS to verify with
//! the server's JWKS, its SHA-256 and the index of the ledger entry that
//! holds that hash.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use store::StoredReceipt;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::oauth_server::BearerRejection;
use crate::problem::Problem;
use crate::routes::page::{self, Page, PageQuery};
use crate::routes::requests::calling_company;
use crate::startup::AppState;

/// One consent receipt.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "6f1c2b9e-0d4a-4c55-8b1e-3a9d7e2f4c10",
    "grant_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
    "event": "given",
    "created_at": "2026-12-07T10:02:11Z",
    "claims": {
        "iss": "https://apiome.example",
        "jti": "6f1c2b9e-0d4a-4c55-8b1e-3a9d7e2f4c10",
        "iat": 1796637731,
        "sub": "Qm9vdHN0cmFwcGVkU3ViamVjdA",
        "schema": "ISO/IEC TS 27560:2023",
        "kantara_version": "KI-CR-v1.1.0",
        "receipt_id": "6f1c2b9e-0d4a-4c55-8b1e-3a9d7e2f4c10",
        "record_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
        "request_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
        "controller": {"id": "c_3kTq9wZ1xY7bN2mQ8vR4sL", "name": "Acme", "contact": "privacy@acme.example"},
        "purpose": "marketing",
        "legal_basis": "consent",
        "attributes": ["display_name", "email"],
        "duration": "P30D",
        "expires_at": 1799229731,
        "jurisdiction": "EU",
        "withdrawal": {
            "method": "online",
            "page": "https://apiome.example/grants",
            "endpoint": "https://apiome.example/v1/me/grants/9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c"
        },
        "event": {"type": "given", "time": 1796637731, "state": "active"},
        "offer": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"}
    },
    "jws": "eyJ0eXAiOiJjb25zZW50LXJlY2VpcHQrand0IiwiYWxnIjoiRWREU0EiLCJraWQiOiJrMSJ9.eyJqdGkiOiI2ZjFjIn0.c2lnbmF0dXJl",
    "sha256": "3b1f6c4d9e2a7b8c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c",
    "ledger_index": 42,
    "ledger_leaf": "ARoAAAGT3q1xAAAk..."
}))]
pub struct ReceiptView {
    /// The receipt id (`jti`).
    pub id: String,
    /// The grant it records (`record_id`).
    pub grant_id: String,
    /// `given`, `renewed` or `withdrawn`.
    pub event: &'static str,
    /// When it was signed.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// The signed claims (ISO/IEC TS 27560 consent record fields, Kantara
    /// Consent Receipt v1.1 where they map), as in the JWS's payload.
    #[schema(value_type = Object)]
    pub claims: ledger::ReceiptClaims,
    /// The compact JWS (EdDSA, `kid` of `/.well-known/jwks.json`, `typ`
    /// `consent-receipt+jwt`).
    pub jws: String,
    /// Hex SHA-256 of `jws`: the `receipt` of the ledger entry.
    pub sha256: String,
    /// The index of the ledger entry (`grant_created`/`grant_revoked`)
    /// holding the hash; fetch it at `/v1/ledger/entries` and prove it.
    pub ledger_index: Option<u64>,
    /// The entry's bytes (standard base64), to decode and to prove with
    /// `GET /v1/ledger/proofs/inclusion` against a signed checkpoint;
    /// absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_leaf: Option<String>,
}

fn shown(shown: broker::receipts::ShownReceipt) -> Result<ReceiptView, Problem> {
    use base64::Engine as _;
    let mut out = view(shown.receipt)?;
    out.ledger_leaf = shown
        .ledger_leaf
        .map(|leaf| base64::engine::general_purpose::STANDARD.encode(leaf));
    Ok(out)
}

pub(crate) fn view(receipt: StoredReceipt) -> Result<ReceiptView, Problem> {
    Ok(ReceiptView {
        ledger_leaf: None,
        claims: receipt.claims()?,
        event: receipt.event.as_str(),
        id: receipt.id,
        grant_id: receipt.grant_id,
        created_at: receipt.created_at,
        jws: receipt.jws,
        sha256: receipt.sha256,
        ledger_index: receipt.ledger_index,
    })
}

/// The person's consent receipts
///
/// A signed receipt for every grant, renewal and revocation of the signed-in
/// person, newest first.
#[utoipa::path(
    operation_id = "receipts_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "The receipts, newest first", body = Page<ReceiptView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/receipts")]
pub async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let after = paging.after_time_id()?;
    let mut found =
        broker::receipts::page(&state.store, &who.person, after, paging.limit as u64 + 1).await?;
    let more = found.len() > paging.limit;
    found.truncate(paging.limit);
    let next_cursor = found
        .last()
        .filter(|_| more)
        .map(|r| page::cursor_after(&page::time_id_key(r.created_at, &r.id)));
    let items = found.into_iter().map(view).collect::<Result<_, _>>()?;
    let answer = Page { items, next_cursor };
    Ok(page::respond(&request, &state.public_url, &answer))
}

/// One of the person's consent receipts
///
/// The receipt's claims, its JWS and the index of the ledger entry holding
/// its hash. Someone else's receipt is not found.
#[utoipa::path(
    operation_id = "receipts_get",
    tag = "people",
    params(("id" = String, Path, description = "The receipt id")),
    responses(
        (status = 200, description = "The receipt", body = ReceiptView),
        (status = 404, description = "No receipt of that id for this person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/receipts/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<ReceiptView>, Problem> {
    let receipt = broker::receipts::show(&state.store, &who.person, &id).await?;
    Ok(web::Json(shown(receipt)?))
}

/// The receipts of one of the company's grants
///
/// The same signed receipts the person holds, oldest first: the grant's,
/// then its revocation's. Another company's grant is not found.
#[utoipa::path(
    operation_id = "grant_receipts",
    tag = "companies",
    params(("id" = String, Path, description = "The grant id"), ("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    responses(
        (status = 200, description = "The grant's receipts, oldest first (`next_cursor` is always null)", body = Page<ReceiptView>),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant of this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("dpop" = []))
)]
#[get("/v1/grants/{id}/receipts")]
pub async fn of_grant(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<Page<ReceiptView>>, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let found = broker::receipts::of_grant(&state.store, &company, &id)
        .await
        .map_err(Problem::from)?;
    let items = found.into_iter().map(shown).collect::<Result<_, _>>()?;
    Ok(web::Json(Page {
        items,
        next_cursor: None,
    }))
}

//! The receipts pages: the signed-in person's consent receipts (`/receipts`,
//! newest first) and one receipt in words (`/receipts/{id}`), with its JWS,
//! hash and ledger index for checking it — the same receipts as
//! `GET /v1/me/receipts`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::pages::{Nav, PageError, PageSession, html, time_iso};
use crate::problem::Problem;
use crate::startup::AppState;

/// Receipts on the list page.
const LISTED: u64 = 100;

/// One receipt on the list.
struct Row {
    id: String,
    event: &'static str,
    company: String,
    purpose: String,
    at: String,
}

#[derive(Template)]
#[template(path = "receipts.html")]
struct ReceiptsPage {
    nav: Nav,
    receipts: Vec<Row>,
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    nav: Nav,
    id: String,
    event: &'static str,
    state: String,
    at: String,
    company: String,
    contact: String,
    purpose: String,
    attributes: String,
    duration: String,
    jurisdiction: String,
    offer: String,
    subject: String,
    grant_id: String,
    withdrawal_page: String,
    jws: String,
    sha256: String,
    ledger_index: String,
}

/// The signed-in person's receipts, newest first.
#[get("/receipts")]
pub async fn receipts_page(
    state: web::Data<AppState>,
    who: PageSession,
) -> Result<HttpResponse, PageError> {
    let found = broker::receipts::page(&state.store, &who.person, None, LISTED)
        .await
        .map_err(Problem::from)?;
    let mut rows = Vec::with_capacity(found.len());
    for receipt in found {
        let claims = receipt.claims()?;
        rows.push(Row {
            event: receipt.event.as_str(),
            company: claims.controller.name,
            purpose: claims.purpose,
            at: time_iso(receipt.created_at),
            id: receipt.id,
        });
    }
    let page = ReceiptsPage {
        nav: Nav::load(&state, &who, "grants").await?,
        receipts: rows,
    };
    html(StatusCode::OK, &page)
}

/// One of the person's receipts, in words; another person's is not found.
#[get("/receipts/{id}")]
pub async fn receipt_page(
    state: web::Data<AppState>,
    who: PageSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let receipt = broker::receipts::show(&state.store, &who.person, &id)
        .await
        .map_err(Problem::from)?
        .receipt;
    let claims = receipt.claims()?;
    let page = ReceiptPage {
        nav: Nav::load(&state, &who, "grants").await?,
        event: receipt.event.as_str(),
        state: claims.event.state,
        at: time_iso(receipt.created_at),
        company: claims.controller.name,
        contact: claims
            .controller
            .contact
            .unwrap_or_else(|| "not given".to_owned()),
        purpose: claims.purpose,
        attributes: claims.attributes.join(", "),
        duration: claims.duration,
        jurisdiction: claims.jurisdiction,
        offer: claims
            .offer
            .map_or_else(|| "none".to_owned(), |o| o.display),
        subject: claims.sub,
        grant_id: claims.record_id,
        withdrawal_page: claims.withdrawal.page,
        jws: receipt.jws,
        sha256: receipt.sha256,
        ledger_index: receipt
            .ledger_index
            .map_or_else(|| "not yet".to_owned(), |i| i.to_string()),
        id: receipt.id,
    };
    html(StatusCode::OK, &page)
}

//! A person's payouts: withdraw earnings to an IBAN or a payment handle
//! (`POST /v1/me/payouts`), list them, read one. The rules (minimum, what
//! the earnings can cover, one waiting per currency) are
//! `broker::payout`'s; these handlers parse, call and render. A
//! destination is answered masked, never in full.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use consent_policy::{Currency, Iban, Money, PaymentHandle, PayoutDestination};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::problem::{Amount, Problem};
use crate::routes::page::{self, PageQuery};
use crate::startup::AppState;

/// Where the money goes: a bank account or a payment service's handle.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DestinationBody {
    /// An IBAN (ISO 13616): spaces and case do not matter; the country's
    /// length and the check digits do.
    Iban {
        /// E.g. `DE89 3704 0044 0532 0130 00`.
        #[schema(example = "DE89 3704 0044 0532 0130 00", max_length = 64)]
        iban: String,
    },
    /// `provider:account`, e.g. `paypal:grace@example.org`.
    Handle {
        /// The provider (2 to 32 of `a-z`, `0-9`, `-`), a colon, the account.
        #[schema(example = "paypal:grace@example.org", max_length = 161)]
        handle: String,
    },
}

/// The amount as sent, checked here so each refusal names its field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    amount_micros: serde_json::Number,
    currency: String,
    #[serde(default)]
    #[allow(dead_code, reason = "accepted as the API writes it, not read")]
    display: Option<String>,
}

/// A payout request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "amount": {"amount_micros": 2500000, "currency": "EUR"},
    "destination": {"kind": "iban", "iban": "DE89 3704 0044 0532 0130 00"}
}))]
pub struct PayoutBody {
    /// How much, at least the minimum (1.00 unless the operator says
    /// otherwise), at most what the earnings can cover.
    #[schema(value_type = super::schema::MoneyBody)]
    pub amount: AmountBody,
    /// Where to.
    pub destination: DestinationBody,
}

/// A destination as it is shown: masked.
#[derive(Serialize, ToSchema)]
pub struct DestinationView {
    /// `iban` or `handle` (`erased` once the person erased their account).
    #[schema(example = "iban")]
    pub kind: &'static str,
    /// E.g. `DE89 **** **** 3000` or `paypal:gr****rg`.
    #[schema(example = "DE89 **** **** 3000")]
    pub masked: String,
}

/// One payout.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "8f14e45f-ceea-467a-9a36-dedd4bea2543",
    "transfer_id": "payout:8f14e45f-ceea-467a-9a36-dedd4bea2543",
    "amount": {"amount_micros": 2500000, "currency": "EUR", "display": "2.50 EUR"},
    "state": "pending",
    "destination": {"kind": "iban", "masked": "DE89 **** **** 3000"},
    "reference": null,
    "failure_reason": null,
    "created_at": "2026-12-07T10:00:00Z",
    "settled_at": null
}))]
pub struct PayoutView {
    /// Its id.
    pub id: String,
    /// Its transfer in the ledger (`payout_requested`, then `payout_posted`
    /// or `payout_voided`).
    pub transfer_id: String,
    /// How much.
    pub amount: Amount,
    /// `pending` (held from the earnings, waiting for the operator),
    /// `posted` (sent) or `voided` (failed; back in the earnings).
    #[schema(example = "pending")]
    pub state: &'static str,
    /// Where to, masked.
    pub destination: DestinationView,
    /// The operator's bank reference, once sent.
    pub reference: Option<String>,
    /// Why it failed, once failed.
    pub failure_reason: Option<String>,
    /// Asked for at (RFC 3339).
    pub created_at: String,
    /// Sent or failed at (RFC 3339).
    pub settled_at: Option<String>,
}

/// One page of payouts.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "id": "8f14e45f-ceea-467a-9a36-dedd4bea2543",
        "transfer_id": "payout:8f14e45f-ceea-467a-9a36-dedd4bea2543",
        "amount": {"amount_micros": 2500000, "currency": "EUR", "display": "2.50 EUR"},
        "state": "posted",
        "destination": {"kind": "iban", "masked": "DE89 **** **** 3000"},
        "reference": "SEPA-2026-12-07-001",
        "failure_reason": null,
        "created_at": "2026-12-07T10:00:00Z",
        "settled_at": "2026-12-08T09:00:00Z"
    }],
    "next_cursor": null
}))]
pub struct PayoutPage {
    /// Newest first.
    pub items: Vec<PayoutView>,
    /// Pass as `cursor` for older payouts; null on the last page.
    pub next_cursor: Option<String>,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn view(p: store::StoredPayout) -> PayoutView {
    PayoutView {
        transfer_id: p.transfer_id(),
        amount: Amount::from(&p.amount),
        state: p.state.as_str(),
        destination: DestinationView {
            kind: p
                .destination
                .as_ref()
                .map_or("erased", PayoutDestination::kind),
            masked: p
                .destination
                .as_ref()
                .map_or_else(|| "erased".to_owned(), PayoutDestination::masked),
        },
        reference: p.reference,
        failure_reason: p.failure_reason,
        created_at: rfc3339(p.created_at),
        settled_at: p.settled_at.map(rfc3339),
        id: p.id,
    }
}

impl AmountBody {
    /// The amount, each refusal naming `amount.amount_micros` or `amount.currency`.
    fn parse(&self) -> Result<Money, Problem> {
        let currency = Currency::parse(&self.currency)
            .map_err(|e| Problem::invalid("amount.currency", e.to_string()))?;
        let micros = self
            .amount_micros
            .as_u64()
            .filter(|m| *m > 0)
            .ok_or_else(|| {
                Problem::invalid(
                    "amount.amount_micros",
                    "a payout is a positive whole number of micro-units",
                )
            })?;
        Money::parse(micros, currency)
            .map_err(|e| Problem::invalid("amount.amount_micros", e.to_string()))
    }
}

impl DestinationBody {
    /// The checked destination, a refusal naming `destination.iban` or `.handle`.
    pub fn parse(&self) -> Result<PayoutDestination, Problem> {
        let parsed = match self {
            Self::Iban { iban } => Iban::parse(iban).map(PayoutDestination::Iban),
            Self::Handle { handle } => PaymentHandle::parse(handle).map(PayoutDestination::Handle),
        };
        parsed.map_err(|e| Problem::invalid(e.field(), e.to_string()))
    }
}

/// Withdraw earnings
///
/// Holds the amount from the person's earnings for a payout to an IBAN or
/// a payment handle; the operator sends it and confirms (`posted`) or
/// reports it failed (`voided`, the money back in the earnings). One
/// payout per currency waits at a time.
#[utoipa::path(
    operation_id = "payouts_create",
    tag = "people",
    request_body = PayoutBody,
    responses(
        (status = 201, description = "Held, waiting for the operator", body = PayoutView),
        (status = 400, description = "A body that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A payout in this currency is waiting (`payout-pending`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad IBAN or handle, an amount below the minimum, above what the earnings hold (`insufficient-earnings`), zero, negative or in an unknown currency; `field` names it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/payouts")]
pub async fn create(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PayoutBody>,
) -> Result<HttpResponse, Problem> {
    let amount = body.amount.parse()?;
    let destination = body.destination.parse()?;
    let payout = broker::payout::request(
        &state.store,
        state.payouts,
        &who.person,
        &amount,
        &destination,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/me/payouts/{}", payout.id)))
        .json(view(payout)))
}

/// The person's payouts
///
/// Newest first, a page at a time.
#[utoipa::path(
    operation_id = "payouts_list",
    tag = "people",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of payouts", body = PayoutPage),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/payouts")]
pub async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let after = paging.after_time_id()?;
    let mut payouts =
        broker::payout::page(&state.store, &who.person, after, paging.limit as u64 + 1).await?;
    let more = payouts.len() > paging.limit;
    payouts.truncate(paging.limit);
    let next_cursor = payouts
        .last()
        .filter(|_| more)
        .map(|p| page::cursor_after(&page::time_id_key(p.created_at, &p.id)));
    let body = PayoutPage {
        items: payouts.into_iter().map(view).collect(),
        next_cursor,
    };
    Ok(page::respond_with(
        &request,
        &state.public_url,
        body.next_cursor.as_deref(),
        &body,
    ))
}

/// One payout
///
/// One of the person's payouts: how much, where it stands, the destination
/// masked, and the operator's reference or the reason it failed.
#[utoipa::path(
    operation_id = "payouts_get",
    tag = "people",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The payout", body = PayoutView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No payout of that id for this person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/payouts/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let payout = broker::payout::show(&state.store, &who.person, &id).await?;
    Ok(HttpResponse::Ok().json(view(payout)))
}

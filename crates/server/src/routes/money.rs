//! Money as its two sides see it: a company's wallet (what it funded, paid,
//! holds for open offers, and can still offer) and a person's earnings
//! (what they were paid and what waits for their answer). Amounts are
//! integer micro-units of an ISO 4217 currency, the shape of an offer.

use actix_web::{HttpRequest, HttpResponse, get, web};
use consent_policy::Money;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::oauth_server::BearerRejection;
use crate::problem::{Amount, Problem};
use crate::routes::page::{self, PageQuery};
use crate::routes::requests::calling_company;
use crate::startup::AppState;

/// One currency of a company's wallet.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "currency": "EUR",
    "funded": {"amount_micros": 100000000, "currency": "EUR", "display": "100.00 EUR"},
    "spent": {"amount_micros": 1250000, "currency": "EUR", "display": "1.25 EUR"},
    "reserved": {"amount_micros": 150000, "currency": "EUR", "display": "0.15 EUR"},
    "available": {"amount_micros": 98600000, "currency": "EUR", "display": "98.60 EUR"}
}))]
pub struct WalletBalanceView {
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Everything ever funded.
    pub funded: Amount,
    /// Paid to people for granted requests.
    pub spent: Amount,
    /// Held for offers still waiting for an answer.
    pub reserved: Amount,
    /// What new offers can still reserve.
    pub available: Amount,
}

/// The calling company's wallet.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "balances": [
        {
            "currency": "EUR",
            "funded": {"amount_micros": 100000000, "currency": "EUR", "display": "100.00 EUR"},
            "spent": {"amount_micros": 1250000, "currency": "EUR", "display": "1.25 EUR"},
            "reserved": {"amount_micros": 150000, "currency": "EUR", "display": "0.15 EUR"},
            "available": {"amount_micros": 98600000, "currency": "EUR", "display": "98.60 EUR"}
        }
    ]
}))]
pub struct WalletView {
    /// The company.
    pub company_id: String,
    /// One per currency it was ever funded in.
    pub balances: Vec<WalletBalanceView>,
}

/// The calling company's wallet
///
/// The calling company's wallet, per currency. Funds come from the operator
/// (`apiome company fund`); offers reserve from `available`.
#[utoipa::path(
    operation_id = "wallet_get",
    tag = "companies",
    responses(
        (status = 200, description = "The wallet", body = WalletView),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a company's client-credentials token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/wallet")]
pub async fn wallet(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let balances = state
        .store
        .wallet(&company)
        .await?
        .into_iter()
        .map(|b| {
            let amount = |micros| Amount::from(&Money::new(micros, b.currency));
            WalletBalanceView {
                currency: b.currency.code().to_owned(),
                funded: amount(b.funded),
                spent: amount(b.spent),
                reserved: amount(b.reserved),
                available: amount(b.available),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(WalletView {
        company_id: company.to_string(),
        balances,
    }))
}

/// One currency of the person's earnings.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "currency": "EUR",
    "earned": {"amount_micros": 1250000, "currency": "EUR", "display": "1.25 EUR"},
    "pending": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"},
    "paid_out": {"amount_micros": 1000000, "currency": "EUR", "display": "1.00 EUR"},
    "paying_out": {"amount_micros": 0, "currency": "EUR", "display": "0.00 EUR"},
    "available": {"amount_micros": 250000, "currency": "EUR", "display": "0.25 EUR"}
}))]
pub struct EarningsBalanceView {
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Paid to the person.
    pub earned: Amount,
    /// Offered and held; paid if the person approves.
    pub pending: Amount,
    /// Paid out to the person (`POST /v1/me/payouts`, then sent).
    pub paid_out: Amount,
    /// Held for a payout that waits to be sent.
    pub paying_out: Amount,
    /// What can still be paid out: earned − paid out − paying out.
    pub available: Amount,
}

/// One payment, as the person sees it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "6c8e1f2a-3b4d-4e5f-a6b7-c8d9e0f1a2b3",
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "company_name": "Acme",
    "amount": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"},
    "state": "posted",
    "request_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
    "created_at": "2026-12-07T10:00:00Z",
    "settled_at": "2026-12-07T10:02:11Z"
}))]
pub struct PaymentView {
    /// The transfer's id (as in the ledger).
    pub id: String,
    /// The paying company.
    pub company_id: String,
    /// Its name.
    pub company_name: String,
    /// How much.
    pub amount: Amount,
    /// `pending` (waiting for the person's answer), `posted` (paid) or
    /// `voided` (declined or expired; nothing paid).
    #[schema(example = "posted")]
    pub state: String,
    /// The request the offer came with.
    pub request_id: Option<String>,
    /// Offered at (RFC 3339).
    pub created_at: String,
    /// Paid or cancelled at (RFC 3339).
    pub settled_at: Option<String>,
}

/// What the person earned, and the latest payments.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "balances": [
        {
            "currency": "EUR",
            "earned": {"amount_micros": 1250000, "currency": "EUR", "display": "1.25 EUR"},
            "pending": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"},
            "paid_out": {"amount_micros": 1000000, "currency": "EUR", "display": "1.00 EUR"},
            "paying_out": {"amount_micros": 0, "currency": "EUR", "display": "0.00 EUR"},
            "available": {"amount_micros": 250000, "currency": "EUR", "display": "0.25 EUR"}
        }
    ],
    "items": [
        {
            "id": "6c8e1f2a-3b4d-4e5f-a6b7-c8d9e0f1a2b3",
            "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
            "company_name": "Acme",
            "amount": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"},
            "state": "posted",
            "request_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13",
            "created_at": "2026-12-07T10:00:00Z",
            "settled_at": "2026-12-07T10:02:11Z"
        }
    ],
    "next_cursor": "eC1i"
}))]
pub struct EarningsView {
    /// One per currency the person was ever offered.
    pub balances: Vec<EarningsBalanceView>,
    /// The payments, newest first, one page of them.
    pub items: Vec<PaymentView>,
    /// Pass as `cursor` for the next (older) payments; null on the last page.
    pub next_cursor: Option<String>,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The person's earnings as the API shows them.
async fn earnings_view(
    state: &AppState,
    person: &store::PersonId,
    paging: &page::Paging,
) -> Result<EarningsView, Problem> {
    let after = paging.after_time_id()?;
    let mut stored = state
        .store
        .earnings_page(person, after, paging.limit as u64 + 1)
        .await?;
    let more = stored.transfers.len() > paging.limit;
    stored.transfers.truncate(paging.limit);
    let next_cursor = stored
        .transfers
        .last()
        .filter(|_| more)
        .map(|t| page::cursor_after(&page::time_id_key(t.created_at, &t.id)));
    let payments = page::Page {
        items: stored.transfers.into_iter().map(payment_view).collect(),
        next_cursor,
    };
    Ok(EarningsView {
        balances: stored.balances.into_iter().map(balance_view).collect(),
        items: payments.items,
        next_cursor: payments.next_cursor,
    })
}

pub(crate) fn balance_view(b: store::EarningsBalance) -> EarningsBalanceView {
    let amount = |micros| Amount::from(&Money::new(micros, b.currency));
    EarningsBalanceView {
        currency: b.currency.code().to_owned(),
        earned: amount(b.earned),
        pending: amount(b.pending),
        paid_out: amount(b.paid_out),
        paying_out: amount(b.paying_out),
        available: amount(b.available()),
    }
}

pub(crate) fn payment_view(t: store::PersonTransfer) -> PaymentView {
    PaymentView {
        amount: Amount::from(&t.amount),
        company_id: t.company_id.to_string(),
        company_name: t.company_name,
        state: match t.state {
            store::TransferState::Pending => "pending",
            store::TransferState::Posted => "posted",
            store::TransferState::Voided => "voided",
        }
        .to_owned(),
        request_id: t.request_id,
        created_at: rfc3339(t.created_at),
        settled_at: t.settled_at.map(rfc3339),
        id: t.id,
    }
}

/// What the person has earned
///
/// What the person has earned from the offers they accepted, what waits for
/// their answer, and each payment, per currency.
#[utoipa::path(
    operation_id = "earnings_get",
    tag = "people",
    params(PageQuery),
    responses(
        (status = 200, description = "The earnings, with one page of payments", body = EarningsView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/earnings")]
pub async fn earnings(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let view = earnings_view(&state, &who.person, &paging).await?;
    Ok(page::respond_with(
        &request,
        &state.public_url,
        view.next_cursor.as_deref(),
        &view,
    ))
}

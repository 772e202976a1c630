//! The earnings page: totals per currency and every payment, paid, held or
//! cancelled — the same data as `GET /v1/me/earnings`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use consent_policy::Money;

use crate::pages::{Nav, PageError, PageSession, html, time_iso};
use crate::startup::AppState;

/// One currency's totals, in words.
struct Balance {
    currency: String,
    earned: String,
    pending: String,
}

/// One payment, in words.
struct Payment {
    id: String,
    company_name: String,
    amount: String,
    /// `pending`, `posted` or `voided`.
    state: &'static str,
    created_at: String,
}

#[derive(Template)]
#[template(path = "earnings.html")]
struct EarningsPage {
    nav: Nav,
    balances: Vec<Balance>,
    payments: Vec<Payment>,
}

/// The signed-in person's earnings.
#[get("/earnings")]
pub async fn earnings(
    state: web::Data<AppState>,
    who: PageSession,
) -> Result<HttpResponse, PageError> {
    let earnings = state.store.earnings(&who.person).await?;
    let page = EarningsPage {
        nav: Nav::load(&state, &who, "earnings").await?,
        balances: earnings.balances.into_iter().map(balance).collect(),
        payments: earnings.transfers.into_iter().map(payment).collect(),
    };
    html(StatusCode::OK, &page)
}

fn balance(b: store::EarningsBalance) -> Balance {
    Balance {
        currency: b.currency.code().to_owned(),
        earned: Money::new(b.earned, b.currency).to_string(),
        pending: Money::new(b.pending, b.currency).to_string(),
    }
}

fn payment(t: store::PersonTransfer) -> Payment {
    Payment {
        company_name: t.company_name,
        amount: t.amount.to_string(),
        state: match t.state {
            store::TransferState::Pending => "pending",
            store::TransferState::Posted => "posted",
            store::TransferState::Voided => "voided",
        },
        created_at: time_iso(t.created_at),
        id: t.id,
    }
}

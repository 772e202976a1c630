//! The earnings page: totals per currency (earned, paid out, being paid
//! out, available, waiting for the person's answer), a CSRF-checked form to
//! withdraw, every payout with its ledger entries, and every payment — the
//! same data as `GET /v1/me/earnings` and `GET /v1/me/payouts`. The form
//! calls `broker::payout::request`, as `POST /v1/me/payouts` does; a
//! refusal shows the page again with the reason and nothing changed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use consent_policy::{Currency, Iban, Money, PaymentHandle, PayoutDestination};

use super::account::StatusQuery;
use super::{Nav, PageError, PageSession, SignedInForm, html, see_other, time_iso};
use crate::problem::Problem;
use crate::startup::AppState;

/// Payouts the page lists, newest first.
const PAYOUTS_SHOWN: u64 = 50;

/// One currency's totals, in words.
struct Balance {
    currency: String,
    earned: String,
    paid_out: String,
    paying_out: String,
    available: String,
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

/// One payout, in words, with the ledger entries that record it.
struct Payout {
    id: String,
    amount: String,
    destination: String,
    /// `pending`, `posted` or `voided`.
    state: &'static str,
    note: String,
    created_at: String,
    transfer_id: String,
    entries: &'static str,
}

#[derive(Template)]
#[template(path = "earnings.html")]
struct EarningsPage {
    nav: Nav,
    csrf: String,
    status: Option<&'static str>,
    error: Option<String>,
    balances: Vec<Balance>,
    payouts: Vec<Payout>,
    payments: Vec<Payment>,
}

/// The signed-in person's earnings.
#[get("/earnings")]
pub async fn earnings(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let status = match query.status.as_deref() {
        Some("requested") => Some("Payout requested: the amount is held until it is sent."),
        _ => None,
    };
    render(&state, &who, StatusCode::OK, status, None).await
}

/// Withdraws earnings: the same use case as `POST /v1/me/payouts`.
#[post("/earnings/payouts")]
pub async fn request_payout(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let outcome = match parse_form(&form) {
        Ok((amount, destination)) => broker::payout::request(
            &state.store,
            state.payouts,
            &form.who.person,
            &amount,
            &destination,
        )
        .await
        .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match outcome {
        Ok(_) => Ok(see_other("/earnings?status=requested")),
        Err(problem) if problem.status < 500 => {
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            render(&state, &form.who, status, None, Some(problem.detail)).await
        }
        Err(problem) => Err(problem.into()),
    }
}

/// The form's amount (whole units, `2.50`), currency and destination.
fn parse_form(form: &SignedInForm) -> Result<(Money, PayoutDestination), Problem> {
    let field = |name: &str| form.fields.get(name).unwrap_or_default().trim();
    let currency = Currency::parse(field("currency"))
        .map_err(|e| Problem::invalid("currency", e.to_string()))?;
    let amount = Money::parse_units(field("amount"), currency)
        .map_err(|e| Problem::invalid("amount", e.to_string()))?;
    let destination = match field("kind") {
        "handle" => PaymentHandle::parse(field("destination")).map(PayoutDestination::Handle),
        _ => Iban::parse(field("destination")).map(PayoutDestination::Iban),
    }
    .map_err(|e| Problem::invalid("destination", e.to_string()))?;
    Ok((amount, destination))
}

async fn render(
    state: &AppState,
    who: &PageSession,
    code: StatusCode,
    status: Option<&'static str>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let mine = state.store.earnings(&who.person).await?;
    let payouts = broker::payout::page(&state.store, &who.person, None, PAYOUTS_SHOWN)
        .await
        .map_err(Problem::from)?;
    let page = EarningsPage {
        nav: Nav::load(state, who, "earnings").await?,
        csrf: who.csrf_token(),
        status,
        error,
        balances: mine.balances.into_iter().map(balance).collect(),
        payouts: payouts.into_iter().map(payout).collect(),
        payments: mine.transfers.into_iter().map(payment).collect(),
    };
    html(code, &page)
}

fn balance(b: store::EarningsBalance) -> Balance {
    let words = |micros| Money::new(micros, b.currency).to_string();
    Balance {
        currency: b.currency.code().to_owned(),
        earned: words(b.earned),
        paid_out: words(b.paid_out),
        paying_out: words(b.paying_out),
        available: words(b.available()),
        pending: words(b.pending),
    }
}

fn payout(p: store::StoredPayout) -> Payout {
    let (note, entries) = match p.state {
        store::PayoutState::Pending => (
            "Held from your earnings until it is sent".to_owned(),
            "payout_requested",
        ),
        store::PayoutState::Posted => (
            format!("Sent (reference {})", p.reference.as_deref().unwrap_or("-")),
            "payout_requested, payout_posted",
        ),
        store::PayoutState::Voided => (
            format!(
                "Failed: {}. The money is back in your earnings.",
                p.failure_reason.as_deref().unwrap_or("no reason given")
            ),
            "payout_requested, payout_voided",
        ),
    };
    Payout {
        transfer_id: p.transfer_id(),
        amount: p.amount.to_string(),
        destination: p
            .destination
            .as_ref()
            .map_or_else(|| "erased".to_owned(), PayoutDestination::masked),
        state: p.state.as_str(),
        note,
        created_at: time_iso(p.created_at),
        entries,
        id: p.id,
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

//! The earnings page: totals per currency and every payment, paid, held or
//! cancelled — the same data as `GET /v1/me/earnings`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::pages::{Nav, PageError, PageSession, html};
use crate::routes::money::{EarningsView, earnings_view};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "earnings.html")]
struct EarningsPage {
    nav: Nav,
    view: EarningsView,
}

/// The signed-in person's earnings.
#[get("/earnings")]
pub async fn earnings(
    state: web::Data<AppState>,
    who: PageSession,
) -> Result<HttpResponse, PageError> {
    let view = earnings_view(&state, &who.person).await?;
    html(
        StatusCode::OK,
        &EarningsPage {
            nav: Nav::load(&state, &who, "earnings").await?,
            view,
        },
    )
}

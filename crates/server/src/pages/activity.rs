//! The activity page: the person's ledger entries as a timeline, each with
//! the mark the server computed from its inclusion proof — the same data as
//! `GET /v1/me/activity`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::pages::{Nav, PageError, PageSession, html};
use crate::routes::activity::{ActivityQuery, ActivityView, activity_view};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    nav: Nav,
    view: ActivityView,
}

/// The signed-in person's activity.
#[get("/activity")]
pub async fn activity(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, PageError> {
    let view = activity_view(&state, &who.person, &query).await?;
    html(
        StatusCode::OK,
        &ActivityPage {
            nav: Nav::load(&state, &who, "activity").await?,
            view,
        },
    )
}

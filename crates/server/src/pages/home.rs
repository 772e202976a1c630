//! The front page: what apiome is, and the way in (or back to the
//! dashboard). No script, font or style from elsewhere.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get};
use askama::Template;

use super::PageError;
use crate::pages;

/// The front page's template.
#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    handle: Option<String>,
}

/// The front page.
#[get("/")]
pub async fn home(req: HttpRequest) -> Result<HttpResponse, PageError> {
    let handle = pages::signed_in_handle(&req).await;
    pages::html(StatusCode::OK, &Home { handle })
}

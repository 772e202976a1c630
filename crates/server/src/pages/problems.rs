//! `/docs/problems`: what each problem `type` means. Every problem answer's
//! `type` is this page with the kind as its fragment.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get};
use askama::Template;

use super::PageError;
use crate::problem_types::{PROBLEM_TYPES, ProblemType};

/// The page's template.
#[derive(Template)]
#[template(path = "problems.html")]
struct Problems {
    types: &'static [ProblemType],
}

/// The problem types, one section each.
#[get("/docs/problems")]
pub async fn problems() -> Result<HttpResponse, PageError> {
    super::html(
        StatusCode::OK,
        &Problems {
            types: PROBLEM_TYPES,
        },
    )
}

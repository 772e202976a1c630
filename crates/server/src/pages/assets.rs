//! The pages' static files, compiled into the binary and served under
//! `/static/`: nothing is fetched from another host.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

use crate::problem::Problem;

/// How long browsers may keep a static file (they are not fingerprinted).
const CACHE_CONTROL: &str = "public, max-age=3600";

/// One static file: its name under `/static/`, media type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "apiome.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/apiome.css"),
    },
    Asset {
        name: "passkey.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/passkey.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

/// A static file.
#[get("/static/{name}")]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, Problem> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .ok_or_else(|| Problem::not_found("there is no such static file"))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .body(asset.body))
}

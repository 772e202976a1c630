//! The pages' static files, compiled into the binary and served under
//! `/static/`: nothing is fetched from another host.
//!
//! | file | name under `/static/` | cache |
//! |---|---|---|
//! | `apiome.css`, `passkey.js`, `favicon.svg` | as is | an hour |
//! | `ledger-check.js` | `ledger-check.<hash>.js` | a year, immutable |
//!
//! The activity page's checker is what a person trusts instead of the
//! server's word, so it is named by its own SHA-256: a cached copy can never
//! be an older script, and the page loads it with a matching `integrity`
//! attribute (Subresource Integrity).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// How long browsers may keep a static file served under its plain name.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// How long browsers may keep a file named by its hash: it never changes.
const CACHE_CONTROL_IMMUTABLE: &str = "public, max-age=31536000, immutable";

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

/// The activity page's in-browser checker of the log.
const LEDGER_CHECK: &[u8] = include_bytes!("../../static/ledger-check.js");

/// A script served under a name derived from its content.
pub struct HashedScript {
    /// Its file name under `/static/`: `<stem>.<first 16 hex of SHA-256>.js`.
    file_name: String,
    /// Its path, for a `src` attribute.
    pub src: String,
    /// Its Subresource Integrity value, `sha256-<base64>`.
    pub integrity: String,
    body: &'static [u8],
}

impl HashedScript {
    fn new(stem: &str, body: &'static [u8]) -> HashedScript {
        let digest = Sha256::digest(body);
        let file_name = format!("{stem}.{}.js", hex::encode(&digest[..8]));
        HashedScript {
            src: format!("/static/{file_name}"),
            integrity: format!("sha256-{}", BASE64.encode(digest)),
            file_name,
            body,
        }
    }
}

/// The activity page's checker, named by its hash.
pub fn ledger_check() -> &'static HashedScript {
    static SCRIPT: LazyLock<HashedScript> =
        LazyLock::new(|| HashedScript::new("ledger-check", LEDGER_CHECK));
    &SCRIPT
}

/// A static file.
#[get("/static/{name}")]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, Problem> {
    let checker = ledger_check();
    if name.as_str() == checker.file_name {
        return Ok(HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL_IMMUTABLE))
            .body(checker.body));
    }
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .ok_or_else(|| Problem::not_found("there is no such static file"))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .body(asset.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_is_named_and_pinned_by_its_own_hash() {
        let script = ledger_check();
        let digest = Sha256::digest(LEDGER_CHECK);
        assert_eq!(
            script.src,
            format!("/static/ledger-check.{}.js", hex::encode(&digest[..8]))
        );
        assert_eq!(
            script.integrity,
            format!("sha256-{}", BASE64.encode(digest))
        );
    }
}

//! The activity page: the person's ledger entries as a timeline, each with
//! the mark the server computed from its inclusion proof — the same data as
//! `GET /v1/me/activity`.
//!
//! The server's mark is only the server's word. Each entry also carries its
//! exact leaf bytes (`data-leaf`, base64), and the page loads
//! `static/ledger-check.js`, which re-checks every entry in the browser: the
//! checkpoint's Ed25519 signature (against a key the person may pin), the
//! leaf's hash and its inclusion proof, fetched from the public
//! `/v1/ledger/*` endpoints. Without script the page stays as it is and says
//! that its marks are the server's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::ledger_signer;
use crate::pages::assets::{self, HashedScript};
use crate::pages::{Nav, PageError, PageSession, html, time_iso};
use crate::problem::Problem;
use crate::startup::AppState;

/// Entries on one page.
const PAGE_ENTRIES: u64 = 50;

/// Which page: entries before this index (from "Older").
#[derive(Deserialize)]
pub struct ActivityQuery {
    before: Option<u64>,
    limit: Option<u64>,
}

/// One entry on the timeline.
struct Item {
    index: u64,
    kind: &'static str,
    time: String,
    /// `None` for apiome's own entries.
    company_name: Option<String>,
    summary: String,
    purpose: Option<String>,
    amount: Option<String>,
    verified: bool,
    /// The leaf bytes, base64, for the browser to hash itself.
    leaf: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    nav: Nav,
    tree_size: u64,
    items: Vec<Item>,
    next_before: Option<u64>,
    checker: &'static HashedScript,
}

/// The signed-in person's activity.
#[get("/activity")]
pub async fn activity(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, PageError> {
    let signed = ledger_signer::current_checkpoint(&state.store, &state.ledger).await?;
    let checkpoint = broker::activity::Checkpoint {
        tree_size: signed.tree_size,
        root_hash: signed.root_hash,
    };
    let limit = query.limit.unwrap_or(PAGE_ENTRIES);
    let page = broker::activity::page(&state.store, &who.person, checkpoint, query.before, limit)
        .await
        .map_err(Problem::from)?;
    let page = ActivityPage {
        nav: Nav::load(&state, &who, "activity").await?,
        tree_size: checkpoint.tree_size,
        items: page.entries.into_iter().map(item).collect(),
        next_before: page.next_before,
        checker: assets::ledger_check(),
    };
    html(StatusCode::OK, &page)
}

fn item(e: broker::activity::ActivityEntry) -> Item {
    let described = e.described();
    let time_unix_ms = e.entry.as_ref().map_or(0, |e| e.time_unix_ms);
    Item {
        index: e.index,
        kind: e.entry.as_ref().map_or("unreadable", |e| e.kind.name()),
        time: time_text(time_unix_ms),
        company_name: e.company_name,
        summary: described.summary,
        purpose: described.purpose,
        amount: described.amount.map(|m| m.to_string()),
        verified: e.verified,
        leaf: BASE64.encode(&e.leaf),
    }
}

/// An entry's time (ms since the Unix epoch), RFC 3339.
fn time_text(time_unix_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_unix_ms) * 1_000_000)
        .map(time_iso)
        .unwrap_or_default()
}

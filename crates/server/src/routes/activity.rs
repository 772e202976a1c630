//! A person's own activity from the ledger: who asked for, received or read
//! which of their attributes (names, never values), for what, when and for
//! how much — each entry with its inclusion proof against the latest signed
//! checkpoint, checked here with the `ledger` verifier.

use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::ledger_signer;
use crate::problem::{Amount, Problem};
use crate::routes::page::{self, PageQuery};
use crate::startup::AppState;

/// The checkpoint the proofs are against.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"tree_size": 42, "root_hash": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}))]
pub struct ActivityCheckpoint {
    /// Its tree size.
    #[schema(example = 42)]
    pub tree_size: u64,
    /// Its root hash, base64.
    pub root_hash: String,
}

/// One ledger entry about the person.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "index": 17,
    "kind": "disclosure",
    "summary": "read location_city, interests",
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "company_name": "Acme",
    "attributes": ["location_city", "interests"],
    "purpose": "marketing",
    "amount": null,
    "time": "2026-12-07T10:03:00Z",
    "time_unix_ms": 1796637780000u64,
    "leaf_hash": "uSvLJhn4fWNo/yB0Zr1ybF+8MRrwb+vWOu4qa0q+pIs=",
    "proof": [
        "Rq0s3qk4xq8Hh4b8c3VXw2Wc3d1Zx2o0c9m5nYtB2bA=",
        "9a8KzUo3kQ1m6yL2pQ7wXv5bN4cR8tS0dF3gH6jK1lM=",
        "p5Xq2Zr8Ty4Uw6Vn0Mb3Lc7Kd9Je1Hf5Gg2Aa8Ss4Dd="
    ],
    "verified": true
}))]
pub struct ActivityItem {
    /// The entry's index in the log.
    #[schema(example = 17)]
    pub index: u64,
    /// The entry kind, e.g. `disclosure`, `grant_created`, `request_made`.
    #[schema(example = "disclosure")]
    pub kind: String,
    /// What happened, in a sentence.
    #[schema(example = "read location_city, interests")]
    pub summary: String,
    /// The company involved.
    pub company_id: Option<String>,
    /// Its name (the id when the company is gone).
    pub company_name: Option<String>,
    /// Names of the attributes involved (never their values).
    pub attributes: Vec<String>,
    /// The stated purpose, when the entry has one.
    pub purpose: Option<String>,
    /// The offer, price or payment, when the entry has one.
    pub amount: Option<Amount>,
    /// When (RFC 3339).
    pub time: String,
    /// When, in ms since the Unix epoch.
    pub time_unix_ms: i64,
    /// The leaf's RFC 9162 hash, base64.
    pub leaf_hash: String,
    /// The inclusion proof against `checkpoint`, lowest level first, base64
    /// (null for an entry newer than the checkpoint).
    pub proof: Option<Vec<String>>,
    /// Whether the proof verifies this entry's bytes against the checkpoint root.
    pub verified: bool,
}

/// A page of the person's activity, newest first.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "checkpoint": {"tree_size": 42, "root_hash": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
    "items": [
        {
            "index": 17,
            "kind": "disclosure",
            "summary": "read location_city, interests",
            "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
            "company_name": "Acme",
            "attributes": ["location_city", "interests"],
            "purpose": "marketing",
            "amount": null,
            "time": "2026-12-07T10:03:00Z",
            "time_unix_ms": 1796637780000u64,
            "leaf_hash": "uSvLJhn4fWNo/yB0Zr1ybF+8MRrwb+vWOu4qa0q+pIs=",
            "proof": [
                "Rq0s3qk4xq8Hh4b8c3VXw2Wc3d1Zx2o0c9m5nYtB2bA=",
                "9a8KzUo3kQ1m6yL2pQ7wXv5bN4cR8tS0dF3gH6jK1lM=",
                "p5Xq2Zr8Ty4Uw6Vn0Mb3Lc7Kd9Je1Hf5Gg2Aa8Ss4Dd="
            ],
            "verified": true
        }
    ],
    "next_cursor": "eC1i"
}))]
pub struct ActivityView {
    /// The latest signed checkpoint.
    pub checkpoint: ActivityCheckpoint,
    /// The entries, newest first.
    pub items: Vec<ActivityItem>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

fn rfc3339(time_unix_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The person's activity page as the API shows it.
async fn activity_view(
    state: &AppState,
    person: &store::PersonId,
    limit: u64,
    before: Option<u64>,
) -> Result<ActivityView, Problem> {
    let signed = ledger_signer::current_checkpoint(&state.store, &state.ledger).await?;
    let checkpoint = broker::activity::Checkpoint {
        tree_size: signed.tree_size,
        root_hash: signed.root_hash,
    };
    let page = broker::activity::page(&state.store, person, checkpoint, before, limit).await?;
    Ok(ActivityView {
        checkpoint: ActivityCheckpoint {
            tree_size: checkpoint.tree_size,
            root_hash: BASE64.encode(checkpoint.root_hash),
        },
        items: page.entries.into_iter().map(item).collect(),
        next_cursor: page.next_before.map(|n| page::cursor_after(&n.to_string())),
    })
}

/// One entry as the API and the page show it.
pub(crate) fn item(e: broker::activity::ActivityEntry) -> ActivityItem {
    let described = e.described();
    let time_unix_ms = e.entry.as_ref().map_or(0, |e| e.time_unix_ms);
    ActivityItem {
        index: e.index,
        kind: e
            .entry
            .as_ref()
            .map_or("unreadable", |e| e.kind.name())
            .to_owned(),
        summary: described.summary,
        company_id: e
            .entry
            .as_ref()
            .and_then(|e| broker::activity::company_of(&e.kind))
            .map(str::to_owned),
        company_name: e.company_name,
        attributes: described.attributes,
        purpose: described.purpose,
        amount: described.amount.as_ref().map(Amount::from),
        time: rfc3339(time_unix_ms),
        time_unix_ms,
        leaf_hash: BASE64.encode(e.leaf_hash),
        proof: e
            .proof
            .map(|proof| proof.iter().map(|h| BASE64.encode(h)).collect()),
        verified: e.verified,
    }
}

/// The signed-in person's own ledger entries, with proofs
///
/// The person's own ledger entries, newest first, each with an inclusion proof
/// against the latest signed checkpoint, so the person's browser can check them
/// without trusting this server. Attribute names only, never values. Page
/// backwards with `cursor`.
#[utoipa::path(
    operation_id = "activity_list",
    tag = "people",
    params(
        PageQuery,
    ),
    responses(
        (status = 200, description = "The activity", body = ActivityView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/activity")]
pub async fn activity(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    // The cursor of this list is the ledger index to go on below; indices
    // are signed 64-bit integers in both stores.
    let before = match &paging.after {
        None => None,
        Some(text) => Some(
            text.parse::<u64>()
                .ok()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| {
                    Problem::invalid(
                        "cursor",
                        "not a cursor of this list; pass `next_cursor` unchanged",
                    )
                })?,
        ),
    };
    let view = activity_view(&state, &who.person, paging.limit as u64, before).await?;
    Ok(page::respond_with(
        &request,
        &state.public_url,
        view.next_cursor.as_deref(),
        &view,
    ))
}

//! The transparency log as an auditor reads it: the signed checkpoint, the
//! log's public key, and inclusion and consistency proofs (RFC 9162), all
//! verifiable with nothing but the `ledger` crate or any RFC 9162 client.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use store::StoreError;
use utoipa::ToSchema;

use crate::ledger_signer;
use crate::oauth_server::{BearerRejection, bearer_claims};
use crate::problem::Problem;
use crate::startup::AppState;

/// The media type of checkpoints and keys.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// An inclusion proof: the leaf `index` is in the tree of `tree_size` leaves.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "index": 3,
    "tree_size": 8,
    "leaf_hash": "uSvLJhn4fWNo/yB0Zr1ybF+8MRrwb+vWOu4qa0q+pIs=",
    "proof": [
        "Rq0s3qk4xq8Hh4b8c3VXw2Wc3d1Zx2o0c9m5nYtB2bA=",
        "9a8KzUo3kQ1m6yL2pQ7wXv5bN4cR8tS0dF3gH6jK1lM=",
        "p5Xq2Zr8Ty4Uw6Vn0Mb3Lc7Kd9Je1Hf5Gg2Aa8Ss4Dd="
    ]
}))]
pub struct InclusionProofBody {
    /// The leaf's index, from 0.
    #[schema(example = 3)]
    pub index: u64,
    /// The tree size the proof is for (that of a checkpoint).
    #[schema(example = 8)]
    pub tree_size: u64,
    /// The leaf's RFC 9162 hash, SHA-256(0x00 || entry bytes), base64.
    #[schema(example = "uSvLJhn4fWNo/yB0Zr1ybF+8MRrwb+vWOu4qa0q+pIs=")]
    pub leaf_hash: String,
    /// The audit path, lowest level first, each hash base64.
    pub proof: Vec<String>,
}

/// A consistency proof: the tree of `second` leaves extends that of `first`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "first": 4,
    "second": 8,
    "proof": [
        "Rq0s3qk4xq8Hh4b8c3VXw2Wc3d1Zx2o0c9m5nYtB2bA=",
        "9a8KzUo3kQ1m6yL2pQ7wXv5bN4cR8tS0dF3gH6jK1lM="
    ]
}))]
pub struct ConsistencyProofBody {
    /// The older tree size.
    #[schema(example = 4)]
    pub first: u64,
    /// The newer tree size.
    #[schema(example = 8)]
    pub second: u64,
    /// The proof hashes, lowest level first, each base64.
    pub proof: Vec<String>,
}

/// One leaf of the log: the exact bytes hashed into the tree, and what they say.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "index": 0,
    "leaf": "AQgAAAGasBsz6AAGdHgtMDAx",
    "entry": {
        "version": 1,
        "time_unix_ms": 1764000000000u64,
        "kind": "transfer_posted",
        "transfer_id": "tx-001"
    }
}))]
pub struct LedgerEntryBody {
    /// The entry's index, from 0.
    #[schema(example = 0)]
    pub index: u64,
    /// The leaf bytes, base64: RFC 9162 hashes exactly these
    /// (SHA-256(0x00 || bytes)). Verify these, not `entry`.
    #[schema(example = "AQgAAAGasBsz6AAGdHgtMDAx")]
    pub leaf: String,
    /// The leaf decoded (entry encoding version 1): `version`,
    /// `time_unix_ms`, `kind` and the kind's fields. Null when the bytes do
    /// not decode (see `decode_error`).
    #[schema(value_type = Option<Object>, example = json!({"version": 1, "time_unix_ms": 1764000000000u64, "kind": "transfer_posted", "transfer_id": "tx-001"}))]
    pub entry: Option<ledger::Entry>,
    /// Why the bytes do not decode, when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
}

/// A page of the log: entries `[start, end)` in index order.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "start": 0,
    "end": 1,
    "entries": [
        {
            "index": 0,
            "leaf": "AQgAAAGasBsz6AAGdHgtMDAx",
            "entry": {
                "version": 1,
                "time_unix_ms": 1764000000000u64,
                "kind": "transfer_posted",
                "transfer_id": "tx-001"
            }
        }
    ]
}))]
pub struct LedgerEntriesBody {
    /// The first index of the page.
    #[schema(example = 0)]
    pub start: u64,
    /// One past the last index of the page.
    #[schema(example = 1)]
    pub end: u64,
    /// The entries, in index order.
    pub entries: Vec<LedgerEntryBody>,
}

/// The query of a page of entries.
#[derive(Deserialize)]
pub struct EntriesQuery {
    start: Option<String>,
    end: Option<String>,
}

/// The query of an inclusion proof, as text so a missing or bad number can
/// be named in the problem.
#[derive(Deserialize)]
pub struct InclusionQuery {
    index: Option<String>,
    tree_size: Option<String>,
}

/// The query of a consistency proof.
#[derive(Deserialize)]
pub struct ConsistencyQuery {
    first: Option<String>,
    second: Option<String>,
}

/// A required unsigned integer query parameter.
fn number(value: Option<&str>, field: &str) -> Result<u64, Problem> {
    let text = value.ok_or_else(|| {
        Problem::malformed(format!("the query parameter {field} is required")).with_field(field)
    })?;
    text.parse::<u64>().map_err(|_| {
        Problem::malformed(format!(
            "{field} must be a non-negative integer, got {:?}",
            text.chars().take(32).collect::<String>()
        ))
        .with_field(field)
    })
}

/// 400: the numbers are well formed but name no proof.
fn out_of_range(field: &str, detail: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "out-of-range",
        "Out of range",
        detail,
    )
    .with_field(field)
}

/// 404: a tree size the log has not reached.
fn beyond_the_log(field: &str, detail: String) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "beyond-the-log",
        "Beyond the log",
        detail,
    )
    .with_field(field)
}

fn b64(hash: &ledger::Hash) -> String {
    BASE64.encode(hash)
}

/// The latest signed checkpoint of the log
///
/// A C2SP `tlog-checkpoint` in a signed note: origin, tree size, base64 root
/// hash, then the Ed25519 signature line. Verify it with the key from
/// `/v1/ledger/public-key`.
#[utoipa::path(
    operation_id = "ledger_checkpoint_get",
    tag = "ledger",
    responses(
        (status = 200, description = "The signed checkpoint note, byte for byte",
            body = String, content_type = "text/plain; charset=utf-8",
            example = "localhost/apiome-ledger\n8\nuSvLJhn4fWNo/yB0Zr1ybF+8MRrwb+vWOu4qa0q+pIs=\n\n— localhost/apiome-ledger Az3grl...\n"),
        (status = 503, description = "The database does not answer", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/v1/ledger/checkpoint")]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let checkpoint = ledger_signer::current_checkpoint(&state.store, &state.ledger).await?;
    Ok(HttpResponse::Ok()
        .content_type(TEXT_PLAIN)
        .insert_header(("Cache-Control", "no-cache"))
        .body(checkpoint.note))
}

/// The log's verifier key
///
/// The log's verifier key, `<name>+<key id>+<base64 Ed25519 key>` as in C2SP
/// signed notes. Auditors pin it once and check every checkpoint against it.
#[utoipa::path(
    operation_id = "ledger_public_key_get",
    tag = "ledger",
    responses(
        (status = 200, description = "The verifier key (no trailing newline)",
            body = String, content_type = "text/plain; charset=utf-8",
            example = "localhost/apiome-ledger+3f7a2b1c+AUdm2lYx..."),
    )
)]
#[get("/v1/ledger/public-key")]
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(TEXT_PLAIN)
        .body(state.ledger.vkey())
}

/// An inclusion proof for one entry
///
/// The RFC 9162 inclusion proof of entry `index` in the tree of `tree_size`
/// entries (take `tree_size` from a checkpoint).
#[utoipa::path(
    operation_id = "ledger_inclusion_proof_get",
    tag = "ledger",
    params(
        ("index" = u64, Query, description = "The entry's index, from 0"),
        ("tree_size" = u64, Query, description = "The tree size, at most the log's"),
    ),
    responses(
        (status = 200, description = "The proof", body = InclusionProofBody),
        (status = 400, description = "A parameter is missing, not a number, or `index` is not below `tree_size`",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`tree_size` is beyond the log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/v1/ledger/proofs/inclusion")]
pub async fn inclusion_proof(
    state: web::Data<AppState>,
    query: web::Query<InclusionQuery>,
) -> Result<web::Json<InclusionProofBody>, Problem> {
    let index = number(query.index.as_deref(), "index")?;
    let tree_size = number(query.tree_size.as_deref(), "tree_size")?;
    let proof = state
        .store
        .inclusion_proof(index, tree_size)
        .await
        .map_err(|e| match e {
            StoreError::LedgerProof(ledger::ProofError::IndexOutOfRange { .. }) => out_of_range(
                "index",
                format!("index {index} is not below tree_size {tree_size}"),
            ),
            StoreError::LedgerProof(ledger::ProofError::SizeOutOfRange { leaf_count, .. }) => {
                beyond_the_log(
                    "tree_size",
                    format!("tree_size {tree_size} is beyond the log's {leaf_count} entries"),
                )
            }
            other => Problem::from(other),
        })?;
    Ok(web::Json(InclusionProofBody {
        index,
        tree_size,
        leaf_hash: b64(&proof.leaf_hash),
        proof: proof.proof.iter().map(b64).collect(),
    }))
}

/// A consistency proof between two tree sizes
///
/// The RFC 9162 consistency proof that the tree of `second` entries extends the
/// tree of `first` entries (take both from checkpoints): the log was only
/// appended to.
#[utoipa::path(
    operation_id = "ledger_consistency_proof_get",
    tag = "ledger",
    params(
        ("first" = u64, Query, description = "The older tree size"),
        ("second" = u64, Query, description = "The newer tree size, at most the log's"),
    ),
    responses(
        (status = 200, description = "The proof (empty when `first` is 0 or equals `second`)",
            body = ConsistencyProofBody),
        (status = 400, description = "A parameter is missing, not a number, or `first` is greater than `second`",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`second` is beyond the log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/v1/ledger/proofs/consistency")]
pub async fn consistency_proof(
    state: web::Data<AppState>,
    query: web::Query<ConsistencyQuery>,
) -> Result<web::Json<ConsistencyProofBody>, Problem> {
    let first = number(query.first.as_deref(), "first")?;
    let second = number(query.second.as_deref(), "second")?;
    let proof = state
        .store
        .consistency_proof(first, second)
        .await
        .map_err(|e| match e {
            StoreError::LedgerProof(ledger::ProofError::FirstGreaterThanSecond { .. }) => {
                out_of_range(
                    "first",
                    format!("first {first} is greater than second {second}"),
                )
            }
            StoreError::LedgerProof(ledger::ProofError::SizeOutOfRange { leaf_count, .. }) => {
                beyond_the_log(
                    "second",
                    format!("second {second} is beyond the log's {leaf_count} entries"),
                )
            }
            other => Problem::from(other),
        })?;
    Ok(web::Json(ConsistencyProofBody {
        first,
        second,
        proof: proof.iter().map(b64).collect(),
    }))
}

/// A page of the log's entries
///
/// Entries `[start, end)`, at most 1000 at a time, each as its exact leaf bytes
/// (base64) and decoded. For auditors: needs a client-credentials access token
/// with the `ledger:read` scope (`apiome auditor create`).
#[utoipa::path(
    operation_id = "ledger_entries_list",
    tag = "ledger",
    params(
        ("start" = u64, Query, description = "The first index, from 0"),
        ("end" = u64, Query, description = "One past the last index: at most `start` + 1000 and at most the log's size"),
    ),
    security(("bearer" = ["ledger:read"])),
    responses(
        (status = 200, description = "The entries", body = LedgerEntriesBody),
        (status = 400, description = "A parameter is missing or not a number, `end` is below `start`, or the range is longer than 1000",
            body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `ledger:read` scope (`insufficient_scope`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`end` is beyond the log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/v1/ledger/entries")]
pub async fn entries(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<EntriesQuery>,
) -> Result<web::Json<LedgerEntriesBody>, BearerRejection> {
    let claims = bearer_claims(&state.store, &state.oauth, &req).await?;
    if !reads_the_ledger(&claims) {
        return Err(BearerRejection::forbidden(
            "reading the ledger's entries needs the `ledger:read` scope, which only auditor clients get",
        ));
    }
    let (start, end) = page_range(&query)?;
    let size = state.store.ledger_size().await?;
    if end > size {
        return Err(beyond_the_log(
            "end",
            format!("end {end} is beyond the log's {size} entries"),
        )
        .into());
    }
    let leaves = state.store.ledger_leaves(start, end).await?;
    let entries = leaves.into_iter().map(entry_body).collect();
    Ok(web::Json(LedgerEntriesBody {
        start,
        end,
        entries,
    }))
}

/// Whether the token has the `ledger:read` scope (an auditor's).
fn reads_the_ledger(claims: &authz::AccessTokenClaims) -> bool {
    claims.scope.as_deref().is_some_and(|s| {
        s.split(' ')
            .any(|s| s == authz::metadata::LEDGER_READ_SCOPE)
    })
}

/// `start..end` from the query: in order, and at most a page long.
fn page_range(query: &EntriesQuery) -> Result<(u64, u64), Problem> {
    let start = number(query.start.as_deref(), "start")?;
    let end = number(query.end.as_deref(), "end")?;
    if end < start {
        return Err(out_of_range(
            "end",
            format!("end {end} is below start {start}"),
        ));
    }
    if end - start > store::MAX_ENTRIES_PAGE {
        return Err(out_of_range(
            "end",
            format!(
                "the range {start}..{end} has {} entries; a page has at most {}",
                end - start,
                store::MAX_ENTRIES_PAGE
            ),
        ));
    }
    Ok((start, end))
}

/// One leaf as the API shows it: its bytes, and the entry they decode to.
fn entry_body(raw: store::RawLeaf) -> LedgerEntryBody {
    let (entry, decode_error) = match ledger::Entry::decode(&raw.leaf) {
        Ok(entry) => (Some(entry), None),
        Err(e) => (None, Some(e.to_string())),
    };
    LedgerEntryBody {
        index: raw.index,
        leaf: BASE64.encode(&raw.leaf),
        entry,
        decode_error,
    }
}

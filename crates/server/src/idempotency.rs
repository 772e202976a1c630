//! The HTTP side of `Idempotency-Key` (see `broker::idempotency` for the
//! rules): reads the header, fingerprints the request (method, path and
//! body, SHA-256), and either replays the kept answer (status, content
//! type, `Location`, body, byte for byte, with `Idempotent-Replayed: true`)
//! or runs the command and keeps its answer.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use broker::idempotency::{self, Begun, IdempotencyKey};
use consent_policy::CompanyId;
use sha2::{Digest, Sha256};
use store::{Store, StoredAnswer};

use crate::problem::Problem;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a replayed answer, as Stripe does.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(req.method().as_str());
    hash.update(b"\n");
    hash.update(req.path());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

fn replay(answer: StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((CONTENT_TYPE, answer.content_type));
    response.insert_header((REPLAYED, HeaderValue::from_static("true")));
    if let Some(location) = answer.location {
        response.insert_header((LOCATION, location));
    }
    response.body(answer.body)
}

/// Runs `command` for `company` at most once per `Idempotency-Key` (when
/// the request carries one): a retry gets the first answer back. Errors of
/// the key itself (malformed, reused, still running) are problem documents.
///
/// Once the key is claimed, the command and the keeping of its answer run
/// as their own task: a client that hangs up (and will retry) does not
/// cancel them half-way, which would leave the key claimed and unanswered.
pub(crate) async fn once<Fut, E>(
    store: &Store,
    req: &HttpRequest,
    company: &CompanyId,
    body: &[u8],
    command: Fut,
) -> HttpResponse
where
    Fut: Future<Output = Result<HttpResponse, E>> + 'static,
    E: ResponseError + 'static,
{
    let Some(header) = req.headers().get(IDEMPOTENCY_KEY) else {
        return command.await.unwrap_or_else(|e| e.error_response());
    };
    let Some(key) = header
        .to_str()
        .ok()
        .and_then(|k| IdempotencyKey::parse(k).ok())
    else {
        return Problem::malformed("`Idempotency-Key` must be 1 to 255 visible ASCII characters")
            .with_field("Idempotency-Key")
            .error_response();
    };
    match idempotency::begin(store, company, &key, &fingerprint(req, body)).await {
        Ok(Begun::Run) => {}
        Ok(Begun::Replay(answer)) => return replay(answer),
        Err(e) => return Problem::from(e).error_response(),
    }
    let (store, company) = (store.clone(), company.clone());
    actix_web::rt::spawn(async move {
        let response = command.await.unwrap_or_else(|e| e.error_response());
        keep(&store, &company, &key, response).await
    })
    .await
    .unwrap_or_else(|_| Problem::internal().error_response())
}

/// Keeps `response` as the answer to `key` (or releases the key when the
/// command did nothing) and returns it.
async fn keep(
    store: &Store,
    company: &CompanyId,
    key: &IdempotencyKey,
    response: HttpResponse,
) -> HttpResponse {
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        // Nothing was done: let the retry run.
        if let Err(e) = idempotency::abandon(store, company, key).await {
            tracing::warn!(error = %e, "releasing an idempotency key");
        }
        return response;
    }
    let (head, body) = response.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        tracing::error!("reading an answer to keep it for its Idempotency-Key");
        return Problem::internal().error_response();
    };
    let header = |name| {
        head.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let answer = StoredAnswer {
        status: status.as_u16(),
        content_type: header(CONTENT_TYPE).unwrap_or_default(),
        location: header(LOCATION),
        body: bytes.to_vec(),
    };
    if let Err(e) = idempotency::finish(store, company, key, &answer).await {
        // The command acted: its answer goes out; a retry will wait and
        // then get 409 until the key is pruned, never a second effect.
        tracing::error!(error = %e, "keeping an answer for its Idempotency-Key");
    }
    head.set_body(bytes).map_into_boxed_body()
}

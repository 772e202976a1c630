//! `GET /v1/data` (and its OpenID Connect face, `GET /oauth/userinfo`):
//! what a company reads under a grant: the grant's
//! attributes that the person has now *and* that their policy still
//! allows now, at their current values, and only while the grant is live
//! (`broker::data::read` decides and records; this parses and renders).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use broker::BrokerError;

use crate::oauth_server::{BearerRejection, bearer_claims};
use crate::problem::Problem;
use crate::startup::AppState;

/// The granted data.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "subject": "q3Xr1p0m9Vb2yHcJx3lQ0w",
    "grant_id": "5d1c3a7e-8f2b-4c6d-9e0a-1b2c3d4e5f60",
    "attributes": {"display_name": "Ada", "email": "ada@example.org"},
    "withheld": []
}))]
pub struct DataBody {
    /// The person's pairwise subject for this company.
    #[schema(example = "q3Xr1p0m9Vb2yHcJx3lQ0w")]
    pub subject: String,
    /// The grant read under.
    pub grant_id: String,
    /// Granted attributes the person has, by key, with current values.
    #[schema(value_type = Object, example = json!({"display_name": "Ada", "email": "ada@example.org"}))]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Granted keys not released now: the person has no value for them,
    /// or has since taken them back (a block, the private bucket, a rule
    /// that denies). Which of these is never said.
    pub withheld: Vec<String>,
}

/// Read the attributes a grant allows
///
/// Returns the attributes the bearer token's grant allows and the person's
/// policy still allows at the moment of the read; nothing else. Each read
/// appends a disclosure entry (attribute names, never values) to the ledger
/// before it answers. A revoked or expired grant, a block or a move to private
/// takes effect on the next read.
#[utoipa::path(
    operation_id = "data_get",
    tag = "companies",
    responses(
        (status = 200, description = "The granted attributes", body = DataBody),
        (status = 401, description = "No token, a bad or expired token, or a grant that was revoked or has expired (`WWW-Authenticate: Bearer error=\"invalid_token\"`); with DPoP, a bad, reused or missing proof or a bound token sent as Bearer (`WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"`, `invalid_token` or `use_dpop_nonce` with a `DPoP-Nonce`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without a grant (client credentials)", body = Problem,
            content_type = "application/problem+json"),
    ),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    security(("bearer" = []), ("dpop" = []))
)]
#[get("/v1/data")]
pub async fn data(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<web::Json<DataBody>, BearerRejection> {
    let claims = bearer_claims(&state.store, &state.oauth, &req).await?;
    let grant_id = claims.grant_id.as_deref().ok_or_else(|| {
        BearerRejection::forbidden("this token carries no grant; get one through an authorization")
    })?;
    let reader = broker::data::Reader {
        client_id: &claims.client_id,
        subject: &claims.sub,
    };
    let read = broker::data::read(&state.store, &state.oauth.server_key, grant_id, reader)
        .await
        .map_err(bearer_refusal)?;
    Ok(web::Json(DataBody {
        subject: claims.sub,
        grant_id: read.grant.id,
        attributes: read.attributes,
        withheld: read.withheld.iter().map(ToString::to_string).collect(),
    }))
}

/// The person's released claims (OpenID Connect UserInfo)
///
/// OIDC Core §5.3: `sub` and the granted attributes the person's policy
/// releases now, under standard claim names (`email`, `name`, `birthdate`,
/// `address`, `phone_number`, `locale`; any other attribute under its key).
/// The same read as `GET /v1/data`, with the same ledger entry; a revoked
/// grant gives nothing.
#[utoipa::path(
    operation_id = "userinfo_get",
    tag = "companies",
    responses(
        (status = 200, description = "The released claims", body = Object,
            example = json!({"sub": "q3Xr1p0m9Vb2yHcJx3lQ0w", "email": "ada@example.org", "name": "Ada"})),
        (status = 401, description = "No token, a bad or expired token, or a grant that was revoked or has expired (`WWW-Authenticate: Bearer error=\"invalid_token\"`); with DPoP, a bad, reused or missing proof or a bound token sent as Bearer (`WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"`, `invalid_token` or `use_dpop_nonce` with a `DPoP-Nonce`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without a grant (client credentials)", body = Problem,
            content_type = "application/problem+json"),
    ),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    security(("bearer" = []), ("dpop" = []))
)]
#[get("/oauth/userinfo")]
pub async fn userinfo(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, BearerRejection> {
    let claims = bearer_claims(&state.store, &state.oauth, &req).await?;
    let grant_id = claims.grant_id.as_deref().ok_or_else(|| {
        BearerRejection::forbidden("this token carries no grant; get one through an authorization")
    })?;
    let reader = broker::data::Reader {
        client_id: &claims.client_id,
        subject: &claims.sub,
    };
    let released = broker::data::userinfo(&state.store, &state.oauth.server_key, grant_id, reader)
        .await
        .map_err(bearer_refusal)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(released))
}

/// A read's refusal: a grant that is over (or not this token's) is an
/// invalid token; anything else a problem.
fn bearer_refusal(e: BrokerError) -> BearerRejection {
    match e {
        BrokerError::GrantNotLive | BrokerError::SubjectMismatch => {
            BearerRejection::invalid(&e.to_string())
        }
        other => Problem::from(other).into(),
    }
}

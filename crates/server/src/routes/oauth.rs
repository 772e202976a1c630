//! The OAuth 2 endpoints a company's software calls without a person:
//! metadata (RFC 8414), JWKS, token (`client_credentials`,
//! `authorization_code` with PKCE, `refresh_token` with rotation, the
//! CIBA-style poll of asynchronous requests), introspection (RFC 7662),
//! revocation (RFC 7009), dynamic registration (RFC 7591), pushed
//! authorization requests (RFC 9126) and CIBA backchannel authentication
//! (OpenID CIBA Core 1.0, poll and ping modes). Errors are RFC 6749 error
//! objects.
//!
//! Revoking an access token (RFC 7009) puts its `jti` on a deny list until
//! it expires; every read also checks that the token's grant is still live,
//! so a person's revocation needs no deny list.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, get, post, web};
use authz::dpop::{Expected, NonceRule};
use authz::{
    AuthorizationRequest, BackchannelRequest, ErrorCode, OAuthError, OsRandom, Params,
    PushedRequest, RefreshStatus, TokenHash, TokenRequest, TokenTypeHint,
};
use serde::Serialize;
use store::{ClientKind, StoredClient};
use utoipa::ToSchema;

use crate::oauth_keys::unix_now;
use crate::oauth_server::{
    DPOP_NONCE, OAuthReply, authenticate_client, dpop_proof, form_params, no_store_json,
};
use crate::startup::AppState;

/// An RFC 6749 §5.2 error object.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid_grant", "error_description": "the authorization code was already used"}))]
pub struct OAuthErrorBody {
    /// The error code (`invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `authorization_pending`, `slow_down`, `access_denied`, `expired_token`,
    /// `invalid_binding_message`, ...).
    #[schema(example = "invalid_grant")]
    pub error: String,
    /// What went wrong, for the developer.
    pub error_description: Option<String>,
}

/// A token endpoint answer (RFC 6749 §5.1, RFC 9396 §7).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6InM4dUs2T3dYWjhHclZxSGRSVEgxcTJkQWI0LVdqSHVsRnYwT295VnRyWkEiLCJ0eXAiOiJhdCtqd3QifQ.eyJpc3MiOiJodHRwczovL2FwaW9tZS5leGFtcGxlIiwic3ViIjoicTNYcjFwMG05VmIyeUhjSngzbFEwdyJ9.4hJbT2kF",
    "token_type": "Bearer",
    "expires_in": 300,
    "refresh_token": "rt_2QkZ8vN4pL6xT1mR9sW3yB7cF5hJ0dGa",
    "scope": "display_name email",
    "authorization_details": [
        {
            "type": "apiome_data",
            "attributes": ["display_name", "email"],
            "purpose": "marketing",
            "duration": "P30D",
            "offer": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"}
        }
    ]
}))]
pub struct TokenResponseBody {
    /// The RFC 9068 JWT access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the request's DPoP key.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires (at most 600).
    #[schema(example = 300)]
    pub expires_in: u64,
    /// A rotating refresh token (grant-bound tokens only).
    pub refresh_token: Option<String>,
    /// Granted attribute keys, or client scopes, space-separated.
    pub scope: Option<String>,
    /// The granted `apiome_data` entry (grant-bound tokens only).
    #[schema(value_type = Option<Vec<super::schema::DataDetail>>)]
    pub authorization_details: Option<serde_json::Value>,
}

/// A pushed authorization request's answer (RFC 9126 §2.2).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "request_uri": "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c",
    "expires_in": 60
}))]
pub struct PushedResponseBody {
    /// Pass as `request_uri` to the authorization endpoint, once.
    #[schema(example = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c")]
    pub request_uri: String,
    /// Seconds it stays usable.
    #[schema(example = 60)]
    pub expires_in: u64,
}

/// The metadata document (RFC 8414, OIDC Discovery) of a server whose public
/// URL is `https://apiome.example`, as the OpenAPI document's example: made
/// by the same code as the answer, so the two cannot differ.
fn metadata_example() -> serde_json::Value {
    serde_json::to_value(authz::ServerMetadata::for_issuer("https://apiome.example"))
        .unwrap_or_default()
}

/// An example JWK set, for the OpenAPI document: an EdDSA key for access
/// tokens and an RS256 key for ID tokens.
fn jwks_example() -> serde_json::Value {
    serde_json::json!({
        "keys": [
            {
                "alg": "EdDSA",
                "crv": "Ed25519",
                "kid": "s8uK6OwXZ8GrVqHdRTH1q2dAb4-WjHulFv0OoyVtrZA",
                "kty": "OKP",
                "use": "sig",
                "x": "XEU3Qqju9FTy0JF6luthf-sRKDs6K1E5Sr11DZqoAP4"
            },
            {
                "alg": "RS256",
                "e": "AQAB",
                "kid": "u-2h6dCKJtqNwNH8e6wPjD7i9FmzEIyjZT39gb79-2c",
                "kty": "RSA",
                "n": "rKKbUhFEbdWaj8TksmpukUMN3v13LbfQYUnweaT7STggsRUwrrzt8w3tAB8I5IGYcR83VjBT0j1YjUYmnHezqLx1VUMcjbUjcau7nnARIh1B0DejRrxTFHecTcVv9TnEWa0Vo0aUtdFgwMrlAchkb2N5gRk46dYweGSMQRaXFkl6ci0DE0JkSKlqqZ7cpiwejk5xoj1FG_QcSvDG3ll5DQHoW40m3r38P7y1qyuSO2WZwAzQh2zqNH3T3ymI4BKKutOVI850wYU984HS9bUmkX-JqxixJau5Ophkxpt6my_34DQXYAYviQ2_76LgOZwx4Np1zSPBDqeOnLLW3NgubQ",
                "use": "sig"
            }
        ]
    })
}

/// An example introspection answer for an active access token, for the
/// OpenAPI document.
fn introspection_example() -> serde_json::Value {
    serde_json::json!({
        "active": true,
        "scope": "display_name email",
        "client_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
        "sub": "q3Xr1p0m9Vb2yHcJx3lQ0w",
        "exp": 1796637900u64,
        "iat": 1796637600u64,
        "iss": "https://apiome.example",
        "aud": "https://apiome.example",
        "token_type": "Bearer",
        "authorization_details": [
            {
                "type": "apiome_data",
                "attributes": ["display_name", "email"],
                "purpose": "marketing",
                "duration": "P30D",
                "offer": {"amount_micros": 50000, "currency": "EUR", "display": "0.05 EUR"}
            }
        ],
        "grant_id": "5d1c3a7e-8f2b-4c6d-9e0a-1b2c3d4e5f60",
        "jti": "Vq3k2Zt8mN1pX6wR9yB4cA"
    })
}

/// An example registration answer (RFC 7591 §3.2.1), for the OpenAPI
/// document.
fn registration_example() -> serde_json::Value {
    serde_json::json!({
        "client_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
        "client_id_issued_at": 1796637600u64,
        "client_name": "Acme",
        "redirect_uris": ["https://acme.example/callback"],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_secret": "Yh7Lr2Kq9Xv4Np1Tz6Wm3Bc8Df5Gj0SaQe2Ru7Io4P",
        "client_secret_expires_at": 0,
        "id_token_signed_response_alg": "RS256",
        "dpop_bound_access_tokens": false
    })
}

fn oauth_error(code: ErrorCode, text: &str) -> OAuthReply {
    OAuthReply(OAuthError::new(code, text))
}

/// The authorization server's metadata (RFC 8414)
///
/// Every endpoint, grant type, client authentication method and
/// `authorization_details` type the server supports.
#[utoipa::path(
    operation_id = "oauth_metadata_get",
    tag = "oauth",
    responses((status = 200, description = "The metadata document", body = Object, example = metadata_example))
)]
#[get("/.well-known/oauth-authorization-server")]
pub async fn server_metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "max-age=300"))
        .json(state.oauth.metadata())
}

/// The OpenID Provider metadata (OIDC Discovery 1.0)
///
/// The same document as RFC 8414's, which lists the OpenID Connect
/// endpoints, algorithms, `prompt` values and claims too.
#[utoipa::path(
    operation_id = "openid_configuration_get",
    tag = "oauth",
    responses((status = 200, description = "The metadata document", body = Object, example = metadata_example))
)]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "max-age=300"))
        .json(state.oauth.metadata())
}

/// The keys access tokens and ID tokens are signed with
///
/// The public keys access tokens (EdDSA) and ID tokens (RS256 or EdDSA)
/// are signed with, newest first, as a JSON Web Key Set.
#[utoipa::path(
    operation_id = "jwks_get",
    tag = "oauth",
    responses((status = 200, description = "A JWK set", body = Object, example = jwks_example))
)]
#[get("/oauth/jwks")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "max-age=60"))
        .json(state.oauth.jwks())
}

/// The token endpoint
///
/// Grant types `client_credentials`, `authorization_code` (PKCE S256 only),
/// `refresh_token` (rotated on every use; reuse revokes the family) and
/// `urn:openid:params:grant-type:ciba` with `auth_req_id` = an asynchronous
/// request's id. With a `DPoP` proof (RFC 9449) the access token is bound to
/// its key (`token_type: DPoP`, `cnf.jkt`); a company registered
/// `dpop_bound_access_tokens` must send one, with the nonce every answer
/// carries in `DPoP-Nonce`.
#[utoipa::path(
    operation_id = "token_create",
    tag = "oauth",
    request_body(content = crate::routes::schema::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponseBody),
        (status = 400, description = "An RFC 6749 error (also `authorization_pending`, `slow_down`, `access_denied`, `expired_token` when polling; `invalid_dpop_proof`, or `use_dpop_nonce` to retry with the `DPoP-Nonce`)", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
    ),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for `POST` of this URL: the access token is bound to its key"))
)]
#[post("/oauth/token")]
pub async fn token_endpoint(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut response = match token(&state, &req, &body).await {
        Ok(response) => response,
        Err(e) => e.error_response(),
    };
    // Every answer names the nonce to use (RFC 9449 §8): a client refused
    // with `use_dpop_nonce` retries with it, and one that knows the server
    // wants nonces can send one the first time.
    let nonce = state.oauth.dpop_nonces.current(unix_now());
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&nonce) {
        response.headers_mut().insert(DPOP_NONCE.clone(), value);
    }
    response
}

async fn token(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, OAuthReply> {
    let proof = dpop_proof(req).map_err(OAuthError::from)?;
    let params = form_params(body)?;
    let client = authenticate_client(&state.store, &state.oauth, req, &params).await?;
    if let Err(wait) = state.rate_limit.check(client.record.client_id.as_str()) {
        return Ok(rate_limited(wait));
    }
    let request = TokenRequest::parse(&params)?;
    request.check_allowed(&client.record)?;
    let now = unix_now();
    let accepted = match proof {
        Some(proof) => {
            let htu = state.oauth.token_endpoint();
            let nonce = if client.record.metadata.dpop_bound_access_tokens {
                NonceRule::Required
            } else {
                NonceRule::IfPresent
            };
            let expected = Expected {
                htm: "POST",
                htu: &htu,
                access_token: None,
                bound_jkt: None,
                nonce,
                now,
            };
            Some(
                broker::dpop::accept_proof(
                    &state.store,
                    &state.oauth.dpop_nonces,
                    proof,
                    &expected,
                )
                .await?,
            )
        }
        None => None,
    };
    let jkt = accepted.as_ref().map(|p| p.jkt.as_str());
    let response =
        broker::token::grant(&state.store, &*state.oauth, &client, request, jkt, now).await?;
    Ok(no_store_json(StatusCode::OK, &response))
}

/// Token introspection (RFC 7662)
///
/// A client learns only about its own tokens; an access token whose grant was
/// revoked is inactive.
#[utoipa::path(
    operation_id = "token_introspect",
    tag = "oauth",
    request_body(content = crate::routes::schema::IntrospectionForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\": false}` or the token's claims", body = Object, example = introspection_example),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
    )
)]
#[post("/oauth/introspect")]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthReply> {
    let params = form_params(&body)?;
    let client = authenticate_client(&state.store, &state.oauth, &req, &params).await?;
    let token = params.require("token")?;
    let caller = &client.record.client_id;
    state.oauth.refresh_for(token).await;
    let answer =
        broker::token::introspect(&state.store, &*state.oauth, caller, token, unix_now()).await?;
    Ok(no_store_json(StatusCode::OK, &answer))
}

/// Token revocation (RFC 7009)
///
/// A refresh token revokes its whole family; an access token is denied until it
/// expires. Answers 200 whether or not the token was known, as the RFC asks.
#[utoipa::path(
    operation_id = "token_revoke",
    tag = "oauth",
    request_body(content = crate::routes::schema::RevocationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked (or nothing to revoke)"),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
    )
)]
#[post("/oauth/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthReply> {
    let params = form_params(&body)?;
    let client = authenticate_client(&state.store, &state.oauth, &req, &params).await?;
    let token = params.require("token")?;
    let caller = client.record.client_id.as_str();
    let store = &state.store;
    match TokenTypeHint::of(token) {
        TokenTypeHint::AccessToken => {
            state.oauth.refresh_for(token).await;
            if let Ok(claims) = state.oauth.verify(token, unix_now())
                && claims.client_id == caller
            {
                store
                    .revoke_access_token(&claims.jti, authz::UnixTime::from_secs(claims.exp))
                    .await?;
            }
        }
        TokenTypeHint::RefreshToken => {
            if let Some(record) = store.refresh_token(&TokenHash::of(token)).await?
                && record.client_id.as_str() == caller
                && record.status != RefreshStatus::Revoked
            {
                store.revoke_refresh_family(record.family_id).await?;
            }
        }
    }
    Ok(no_store_json(StatusCode::OK, &serde_json::json!({})))
}

/// Dynamic client registration (RFC 7591)
///
/// Registers a company behind an initial access token from `apiome company
/// registration-token`.
#[utoipa::path(
    operation_id = "client_register",
    tag = "oauth",
    request_body(content = crate::routes::schema::ClientRegistration, description = "RFC 7591 client metadata"),
    responses(
        (status = 201, description = "The registered client; `client_secret` is shown once", body = Object, example = registration_example),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri`", body = OAuthErrorBody),
        (status = 401, description = "No valid initial access token", body = OAuthErrorBody),
    ),
    security(("initial_access_token" = []))
)]
#[post("/oauth/register")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthReply> {
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(|| {
            oauth_error(
                ErrorCode::InvalidToken,
                "registration needs `Authorization: Bearer <initial access token>`",
            )
        })?;
    check_notification_endpoint(&body, state.webhook_allow_loopback).await?;
    let (record, secret) = broker::token::register(
        &state.store,
        &state.oauth.server_key,
        token,
        &body,
        unix_now(),
    )
    .await?;
    Ok(no_store_json(
        StatusCode::CREATED,
        &record.registration_response(secret.as_ref()),
    ))
}

/// A ping-mode client's `backchannel_client_notification_endpoint` is
/// called like a webhook, so it must be a destination a webhook may have
/// (https, a global address; loopback only when the server allows it).
async fn check_notification_endpoint(body: &[u8], allow_loopback: bool) -> Result<(), OAuthReply> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // the registration itself says what is wrong
    };
    // Only a ping client is ever called; any other mode is refused by
    // the registration's own checks, which say why.
    if value["backchannel_token_delivery_mode"] != "ping" {
        return Ok(());
    }
    let Some(url) = value["backchannel_client_notification_endpoint"].as_str() else {
        return Ok(());
    };
    crate::webhooks::check_destination(url, allow_loopback)
        .await
        .map_err(|why| {
            oauth_error(
                ErrorCode::InvalidClientMetadata,
                &format!("`backchannel_client_notification_endpoint`: {why}"),
            )
        })?;
    Ok(())
}

/// A backchannel authentication answer (CIBA Core §7.3).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"auth_req_id": "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13", "expires_in": 604800, "interval": 5}))]
pub struct BackchannelResponseBody {
    /// Poll the token endpoint with it (`grant_type=urn:openid:params:grant-type:ciba`);
    /// a ping-mode client is called with it once the person answers. Also the
    /// request's id at `GET /v1/requests/{id}`.
    #[schema(example = "0b0e4f8e-2a4d-4a5e-9c59-0f4b7e0d9f13")]
    pub auth_req_id: String,
    /// Seconds the person has to answer.
    #[schema(example = 604800)]
    pub expires_in: u64,
    /// The fewest seconds between two polls (a faster poll is `slow_down`).
    #[schema(example = 5)]
    pub interval: u64,
}

/// CIBA backchannel authentication (OpenID CIBA Core 1.0)
///
/// A company asks a person who is not at its screen, by `login_hint` (their
/// handle, or the pairwise `sub` this company knows them by), for one
/// `apiome_data` `authorization_details` entry (or a `scope` of attribute
/// keys; `openid` may be added). The request waits in the person's inbox with
/// the `binding_message` beside it, exactly as `POST /v1/requests` would have
/// it wait. The client authenticates as at the token endpoint. A poll-mode
/// client then polls the token endpoint with the `auth_req_id`; a ping-mode
/// client (registered with `backchannel_token_delivery_mode=ping` and a
/// `backchannel_client_notification_endpoint`) is called with
/// `{"auth_req_id"}` and `Authorization: Bearer <client_notification_token>`
/// when the person answers or the request expires, then fetches the tokens.
/// A hint that names nobody gets an `auth_req_id` too, answered as a refusal
/// (`access_denied`), so this endpoint tells no one who has an account.
#[utoipa::path(
    operation_id = "oauth_bc_authorize",
    tag = "oauth",
    request_body(content = crate::routes::schema::BackchannelAuthenticationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The request was made (or, for a hint that names nobody, looks made): poll with `auth_req_id`", body = BackchannelResponseBody),
        (status = 400, description = "`invalid_request` (a missing, repeated or malformed parameter, two hints, `login_hint_token`/`id_token_hint`/`user_code`/`request`, a ping client without `client_notification_token`), `invalid_binding_message`, `invalid_authorization_details`, `invalid_scope` or `unauthorized_client` (not registered for the CIBA grant, or not a company); `error_description` says which parameter", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client or wrong credentials", body = OAuthErrorBody),
        (status = 429, description = "`temporarily_unavailable`: over this client's request rate (shared with the token endpoint); see `Retry-After`", body = OAuthErrorBody),
    )
)]
#[post("/oauth/bc-authorize")]
pub async fn bc_authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthReply> {
    let params = form_params(&body)?;
    let client = authenticate_client(&state.store, &state.oauth, &req, &params).await?;
    if client.kind != ClientKind::Company {
        return Err(oauth_error(
            ErrorCode::UnauthorizedClient,
            "only company clients make backchannel requests",
        ));
    }
    if let Err(wait) = state.rate_limit.check(client.record.client_id.as_str()) {
        return Ok(rate_limited(wait));
    }
    let asked = BackchannelRequest::parse(&params, &client.record)?;
    let company = client.record.client_id.to_company_id();
    let ping = match (
        asked.client_notification_token,
        &client
            .record
            .metadata
            .backchannel_client_notification_endpoint,
    ) {
        (Some(token), Some(endpoint)) => Some(store::Ping {
            endpoint: endpoint.clone(),
            token,
        }),
        _ => None,
    };
    let expires_in = asked
        .requested_expiry_secs
        .and_then(|secs| i64::try_from(secs).ok())
        .map_or(store::REQUEST_TTL, time::Duration::seconds);
    let backchannel = store::Backchannel {
        expires_in,
        binding_message: asked.binding_message,
        ping,
        openid: asked.openid,
    };
    let person = broker::ask::Person::Hint(&asked.login_hint);
    let details = serde_json::to_value(&asked.details)
        .map_err(|_| OAuthError::server_error("the request could not be written"))?;
    let made = broker::ask::ask_backchannel(&state.store, &company, person, details, backchannel)
        .await?
        .map_err(|e| authz::request::details_error(&e))?;
    Ok(no_store_json(
        StatusCode::OK,
        &BackchannelResponseBody {
            auth_req_id: made.auth_req_id,
            expires_in: made.expires_in,
            interval: authz::token_request::POLL_INTERVAL_SECS,
        },
    ))
}

/// Pushed authorization request (RFC 9126)
///
/// The client sends the authorization request here, authenticated, and gets a
/// one-time `request_uri` for the authorization endpoint. The only way to make
/// an offer at the authorization endpoint. Honours `Idempotency-Key` as `POST
/// /v1/requests` does.
#[utoipa::path(
    operation_id = "authorization_request_push",
    tag = "oauth",
    request_body(content = crate::routes::schema::PushedAuthorizationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The request URI", body = PushedResponseBody),
        (status = 400, description = "An RFC 6749 / 9396 error (`application/json`), or a malformed `Idempotency-Key` (a problem document)", content(
            (OAuthErrorBody = "application/json"),
            (crate::problem::Problem = "application/problem+json"),
        )),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 409, description = "A request with this `Idempotency-Key` is still running", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "This `Idempotency-Key` was used with another request", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`temporarily_unavailable`: over this client's request rate (shared with the token endpoint); see `Retry-After`", body = OAuthErrorBody),
    ),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "As for `POST /v1/requests`: a retry within 24 h replays the first answer"))
)]
#[post("/oauth/par")]
pub async fn par(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthReply> {
    let params = form_params(&body)?;
    let client = authenticate_client(&state.store, &state.oauth, &req, &params).await?;
    if client.kind != ClientKind::Company {
        return Err(oauth_error(
            ErrorCode::UnauthorizedClient,
            "only company clients make authorization requests",
        ));
    }
    // Each pushed request is a stored row: the same budget as the token
    // endpoint, so no company can fill the table faster than it drains.
    if let Err(wait) = state.rate_limit.check(client.record.client_id.as_str()) {
        return Ok(rate_limited(wait));
    }
    let company = client.record.client_id.to_company_id();
    let command = push(state.clone(), params, client);
    Ok(crate::idempotency::once(&state.store, &req, &company, &body, command).await)
}

/// `POST /oauth/par` once the client is authenticated (and its
/// `Idempotency-Key` claimed).
async fn push(
    state: web::Data<AppState>,
    params: Params,
    client: std::sync::Arc<StoredClient>,
) -> Result<HttpResponse, OAuthReply> {
    // With Basic authentication the form may leave `client_id` out.
    let params = if params.contains("client_id") {
        params
    } else {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        pairs.push((
            "client_id".to_owned(),
            client.record.client_id.as_str().to_owned(),
        ));
        Params::from_pairs(pairs)?
    };
    let request = AuthorizationRequest::parse_pushed(&params, &client.record)?;
    let company = client.record.client_id.to_company_id();
    broker::sandbox::check_offer(&state.store, &company, &request.data_request)
        .await?
        .map_err(|e| authz::request::details_error(&e))?;
    let (record, response) =
        PushedRequest::new(request, &mut OsRandom, unix_now()).map_err(OAuthError::from)?;
    state.store.save_par(&record).await?;
    Ok(no_store_json(
        StatusCode::CREATED,
        &PushedResponseBody {
            request_uri: response.request_uri,
            expires_in: response.expires_in,
        },
    ))
}

/// `429` for a client over its rate: an OAuth-shaped error body (clients
/// parse `error`), `Retry-After` in whole seconds.
fn rate_limited(wait: std::time::Duration) -> HttpResponse {
    let secs = crate::rate_limit::retry_after_secs(wait);
    HttpResponse::TooManyRequests()
        .insert_header(("retry-after", secs.to_string()))
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({
            "error": "temporarily_unavailable",
            "error_description": format!("this client is over its request rate; retry after {secs} s"),
        }))
}

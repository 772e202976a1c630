//! The authorization server's shared parts: its keys and settings, client
//! authentication against the store, access-token checks, token minting,
//! and how an [`OAuthError`] becomes an HTTP answer (RFC 6749 §5.2 JSON,
//! `Cache-Control: no-store`, `WWW-Authenticate` on 401).

use std::path::Path;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use authz::client_auth::replayed_assertion;
use authz::dpop::{Expected, NonceRule, Proof};
use authz::metadata::TOKEN_PATH;
use authz::{
    AccessTokenClaims, AssertionAudience, ErrorCode, IdTokenAlg, IdTokenClaims, KeySet, Nonces,
    OAuthError, PairwiseSubject, Params, PresentedCredentials, ServerKey, ServerMetadata,
    TokenError, TokenSettings, UnixTime, VerifiedTokens,
};
use consent_policy::CompanyId;
use store::{PersonId, Store, StoreError, StoredClient};

use crate::oauth_keys::{self, OAuthKeyError, RsaKeys, SigningKeys, unix_now};
use crate::problem::Problem;

/// How long an access token lives (at most ten minutes, RFC 9068 here).
pub const ACCESS_TOKEN_LIFETIME_SECS: u64 = 300;

/// The authorization server's keys and settings. Shared by every worker.
#[derive(Debug)]
pub struct OAuthServer {
    /// The issuer: the public URL without a trailing slash.
    pub issuer: String,
    /// Keys client-secret hashes and pairwise subjects.
    pub server_key: ServerKey,
    /// The access-token signing keys (and EdDSA ID tokens').
    pub signing: SigningKeys,
    /// The RS256 ID token keys.
    pub rsa: RsaKeys,
    /// Issuer, audience and lifetime of access tokens.
    pub settings: TokenSettings,
    /// Access tokens whose signature checked out (time, key, revocation
    /// and grant are still checked on every call).
    pub verified: VerifiedTokens,
    /// DPoP nonces (RFC 9449 §8): stateless, keyed by the server key, so
    /// every server sharing the key accepts every other's.
    pub dpop_nonces: Nonces,
}

impl OAuthServer {
    /// Loads (or makes, on first start) the server key where `sources` say
    /// and the signing keys in the database.
    pub async fn load(
        sources: &crate::config::KeySources,
        data_dir: &Path,
        store: &Store,
        public_url: &url::Url,
    ) -> Result<OAuthServer, OAuthKeyError> {
        let issuer = public_url.as_str().trim_end_matches('/').to_owned();
        let settings =
            TokenSettings::new(issuer.clone(), issuer.clone(), ACCESS_TOKEN_LIFETIME_SECS)
                .map_err(|e| OAuthKeyError::Corrupt {
                    path: data_dir.to_owned(),
                    reason: e.to_string(),
                })?;
        let server_key = oauth_keys::load_server_key_from(sources, data_dir)?;
        Ok(OAuthServer {
            dpop_nonces: Nonces::new(&server_key),
            server_key,
            signing: SigningKeys::load(store, data_dir).await?,
            rsa: RsaKeys::load(store, data_dir).await?,
            issuer,
            settings,
            verified: VerifiedTokens::new(authz::verified::DEFAULT_CAPACITY),
        })
    }

    /// The RFC 8414 metadata document.
    pub fn metadata(&self) -> ServerMetadata {
        ServerMetadata::for_issuer(&self.issuer)
    }

    /// The token endpoint's absolute URL (an accepted assertion audience).
    pub fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.issuer)
    }

    /// The absolute URL of `path` on this server: what a DPoP proof's
    /// `htu` must name.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The pairwise subject of `person` for `company`.
    pub fn subject(&self, company: &CompanyId, person: &PersonId) -> PairwiseSubject {
        PairwiseSubject::derive(&self.server_key, company, person.as_str())
    }

    /// Verifies an access token's signature and claims with the keys
    /// loaded now; see [`Self::refresh_for`].
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<AccessTokenClaims, TokenError> {
        self.verified
            .verify(&self.signing.current(), token, &self.settings, now)
    }

    /// Before [`Self::verify`]: when `token` names a key this process does
    /// not know, reads the signing keys from the database (another host
    /// may have rotated them a moment ago).
    pub async fn refresh_for(&self, token: &str) {
        self.signing.refresh_for(token).await;
    }

    /// Before [`Self::verify_id_token_hint`]: when `token` names a key
    /// neither set loaded now has, reads both from the database.
    pub async fn refresh_for_id_token(&self, token: &str) {
        let Some(kid) = oauth_keys::token_kid(token) else {
            return;
        };
        if !self.signing.knows(&kid) && !self.rsa.knows(&kid) {
            tokio::join!(self.signing.refresh(), self.rsa.refresh());
        }
    }

    /// Signs claims with the newest key.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
        self.keys().sign(claims).map_err(OAuthError::from)
    }

    /// The key set as loaded now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.signing.current()
    }

    /// The published JWK set: every Ed25519 key, then every RSA key, each
    /// newest first.
    pub fn jwks(&self) -> serde_json::Value {
        let mut jwks = self.keys().jwks();
        if let Some(keys) = jwks.get_mut("keys").and_then(|k| k.as_array_mut()) {
            keys.extend(self.rsa.current().public_jwks());
        }
        jwks
    }

    /// Checks an `id_token_hint` (our signature and issuer; expiry not)
    /// with the keys loaded now; see [`Self::refresh_for_id_token`].
    pub fn verify_id_token_hint(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<IdTokenClaims, TokenError> {
        authz::oidc::verify_id_token_hint(
            token,
            &self.issuer,
            &self.keys(),
            &self.rsa.current(),
            now,
        )
    }
}

impl broker::token::Issuer for OAuthServer {
    fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn server_key(&self) -> &ServerKey {
        &self.server_key
    }

    fn sign(&self, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
        OAuthServer::sign(self, claims)
    }

    fn verify(&self, token: &str, now: UnixTime) -> Result<AccessTokenClaims, TokenError> {
        OAuthServer::verify(self, token, now)
    }

    fn sign_id_token(&self, claims: &IdTokenClaims, alg: IdTokenAlg) -> Result<String, OAuthError> {
        authz::oidc::sign_id_token(claims, alg, &self.keys(), &self.rsa.current())
            .map_err(OAuthError::from)
    }

    fn verify_id_token_hint(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<IdTokenClaims, TokenError> {
        OAuthServer::verify_id_token_hint(self, token, now)
    }
}

/// Authenticates the calling client (Basic, form secret or
/// `private_key_jwt`, whichever it registered), remembering an
/// assertion's `jti` so it cannot be replayed.
pub async fn authenticate_client(
    store: &Store,
    oauth: &OAuthServer,
    req: &HttpRequest,
    params: &Params,
) -> Result<std::sync::Arc<StoredClient>, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let presented = PresentedCredentials::parse(authorization, params)?;
    let client = store
        .client(presented.client_id())
        .await
        .map_err(store_fault)?;
    let now = unix_now();
    let token_endpoint = oauth.token_endpoint();
    let audience = AssertionAudience {
        issuer: &oauth.issuer,
        token_endpoint: &token_endpoint,
    };
    let authenticated = presented.verify(
        client.as_ref().map(|c| &c.record),
        &oauth.server_key,
        &audience,
        now,
    )?;
    if let Some(assertion) = &authenticated.assertion
        && !store
            .use_assertion_jti(
                &authenticated.client_id,
                &assertion.jti,
                assertion.expires_at,
                now,
            )
            .await
            .map_err(store_fault)?
    {
        return Err(replayed_assertion());
    }
    client.ok_or_else(|| OAuthError::invalid_client("unknown client"))
}

/// Reads an `application/x-www-form-urlencoded` body into [`Params`].
pub fn form_params(body: &[u8]) -> Result<Params, OAuthError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("the form body is not UTF-8"))?;
    Params::from_form(text)
}

/// An OAuth error as the HTTP answer RFC 6749 §5.2 describes.
#[derive(Debug)]
pub struct OAuthReply(pub OAuthError);

impl std::fmt::Display for OAuthReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.description)
    }
}

impl From<OAuthError> for OAuthReply {
    fn from(e: OAuthError) -> Self {
        OAuthReply(e)
    }
}

impl From<StoreError> for OAuthReply {
    fn from(e: StoreError) -> Self {
        OAuthReply(store_fault(e))
    }
}

impl From<broker::BrokerError> for OAuthReply {
    /// The one mapping of a use case's refusal to an OAuth error: the
    /// protocol's own refusals as they are, every fault `server_error`.
    fn from(e: broker::BrokerError) -> Self {
        match e {
            broker::BrokerError::OAuth(e) => OAuthReply(e),
            broker::BrokerError::Store(e) => OAuthReply(store_fault(e)),
            other => {
                tracing::error!(error = %other, "a use case failed in an OAuth endpoint");
                OAuthReply(OAuthError::server_error(
                    "the server failed to handle this request; it has been logged",
                ))
            }
        }
    }
}

/// Store faults inside OAuth endpoints: logged, answered as `server_error`.
pub fn store_fault(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "store error in an OAuth endpoint");
    OAuthError::server_error("the server failed to handle this request; it has been logged")
}

impl ResponseError for OAuthReply {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.status_code() == StatusCode::UNAUTHORIZED {
            let challenge = match self.0.code {
                ErrorCode::InvalidToken => format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    quoted(&self.0.description)
                ),
                _ => "Basic realm=\"apiome\"".to_owned(),
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.json(&self.0)
    }
}

/// Text safe inside a quoted header parameter.
pub fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

/// A successful token-endpoint style answer: JSON, never cached.
pub fn no_store_json(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// A refused bearer token on the JSON API: 401 problem+json with the
/// RFC 6750 challenge.
#[derive(Debug)]
pub struct BearerRejection {
    problem: Problem,
    challenge: String,
    /// A fresh `DPoP-Nonce` to send along (RFC 9449 §9).
    dpop_nonce: Option<String>,
}

/// The `algs` parameter of a DPoP challenge (RFC 9449 §7.1).
fn dpop_algs() -> String {
    format!("algs=\"{}\"", authz::dpop::SUPPORTED_ALGS.join(" "))
}

impl BearerRejection {
    /// No bearer token at all: both schemes are offered.
    pub fn missing() -> BearerRejection {
        BearerRejection {
            problem: Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "No access token",
                "send `Authorization: Bearer <access token>` (or `DPoP <access token>` with a \
                 `DPoP` proof) from the token endpoint",
            ),
            challenge: format!("Bearer realm=\"apiome\", DPoP {}", dpop_algs()),
            dpop_nonce: None,
        }
    }

    /// A DPoP-scheme refusal: `error` is `invalid_token`, `invalid_dpop_proof`
    /// or `use_dpop_nonce` (RFC 9449 §7.1, §9).
    pub fn dpop(error: ErrorCode, detail: &str, nonce: Option<String>) -> BearerRejection {
        let (kind, title) = match error {
            ErrorCode::InvalidDpopProof => ("invalid-dpop-proof", "Invalid DPoP proof"),
            ErrorCode::UseDpopNonce => ("use-dpop-nonce", "DPoP nonce required"),
            _ => ("invalid-token", "Invalid access token"),
        };
        BearerRejection {
            problem: Problem::new(StatusCode::UNAUTHORIZED, kind, title, detail),
            challenge: format!(
                "DPoP error=\"{}\", error_description=\"{}\", {}",
                error.as_str(),
                quoted(detail),
                dpop_algs()
            ),
            dpop_nonce: nonce,
        }
    }

    /// A token that is not (or no longer) good: bad signature, expired,
    /// revoked, or its grant is over.
    pub fn invalid(detail: &str) -> BearerRejection {
        BearerRejection {
            problem: Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "Invalid access token",
                detail,
            ),
            challenge: format!(
                "Bearer realm=\"apiome\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(detail)
            ),
            dpop_nonce: None,
        }
    }

    /// A good token that may not do this (403, `insufficient_scope`).
    pub fn forbidden(detail: &str) -> BearerRejection {
        BearerRejection {
            problem: Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Not allowed",
                detail,
            ),
            challenge: format!(
                "Bearer realm=\"apiome\", error=\"insufficient_scope\", error_description=\"{}\"",
                quoted(detail)
            ),
            dpop_nonce: None,
        }
    }
}

impl std::fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl From<Problem> for BearerRejection {
    fn from(problem: Problem) -> Self {
        BearerRejection {
            problem,
            challenge: String::new(),
            dpop_nonce: None,
        }
    }
}

impl From<StoreError> for BearerRejection {
    fn from(e: StoreError) -> Self {
        Problem::from(e).into()
    }
}

impl ResponseError for BearerRejection {
    fn status_code(&self) -> StatusCode {
        self.problem.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.problem.error_response();
        if !self.challenge.is_empty()
            && let Ok(value) = header::HeaderValue::from_str(&self.challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = &self.dpop_nonce
            && let Ok(value) = header::HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert(DPOP_NONCE.clone(), value);
        }
        response
    }
}

/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub static DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

/// The request's DPoP proof, if it has one `DPoP` header; two, or one
/// that is not text, is refused.
pub fn dpop_proof(req: &HttpRequest) -> Result<Option<Proof<'_>>, authz::DpopError> {
    let values: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    Proof::from_headers(&values)
}

/// Which scheme the `Authorization` header uses.
enum Presented<'a> {
    Bearer(&'a str),
    Dpop(&'a str),
}

/// Why a request carries no access token we can read.
enum NoToken {
    Missing,
    OtherScheme,
}

/// The request's access token and its scheme.
fn presented_token(req: &HttpRequest) -> Result<Presented<'_>, NoToken> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(NoToken::Missing)?;
    let (scheme, token) = header
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, rest)| (scheme, rest.trim()))
        .filter(|(_, t)| !t.is_empty())
        .ok_or(NoToken::OtherScheme)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Ok(Presented::Dpop(token))
    } else {
        Err(NoToken::OtherScheme)
    }
}

/// Checks the request's access token: signature, issuer, audience,
/// expiry, that it was not revoked (RFC 7009), and that its client is
/// active and was not disabled since the token was issued. A DPoP-bound
/// token (`cnf.jkt`) is honoured only as `Authorization: DPoP` with a
/// proof for this method and URL, this token (`ath`) and its key, used
/// once, carrying the server's nonce when its client is registered
/// `dpop_bound_access_tokens`; a bound token sent as `Bearer` is refused.
pub async fn bearer_claims(
    store: &Store,
    oauth: &OAuthServer,
    req: &HttpRequest,
) -> Result<AccessTokenClaims, BearerRejection> {
    let presented = presented_token(req).map_err(|why| match why {
        NoToken::Missing => BearerRejection::missing(),
        NoToken::OtherScheme => {
            BearerRejection::invalid("the Authorization header is not a Bearer or DPoP token")
        }
    })?;
    let token = match presented {
        Presented::Bearer(t) | Presented::Dpop(t) => t,
    };
    let now = unix_now();
    let dpop_invalid_token = |why: &str| BearerRejection::dpop(ErrorCode::InvalidToken, why, None);
    oauth.refresh_for(token).await;
    let claims = oauth.verify(token, now).map_err(|e| match presented {
        Presented::Bearer(_) => BearerRejection::invalid(&e.to_string()),
        Presented::Dpop(_) => dpop_invalid_token(&e.to_string()),
    })?;
    match (&presented, claims.jkt()) {
        (Presented::Bearer(_), None) => {}
        (Presented::Bearer(_), Some(_)) => {
            return Err(dpop_invalid_token(
                "this access token is DPoP-bound: send it as `Authorization: DPoP` with a DPoP proof",
            ));
        }
        (Presented::Dpop(_), None) => {
            return Err(dpop_invalid_token(
                "this access token is not DPoP-bound: send it as `Authorization: Bearer`",
            ));
        }
        (Presented::Dpop(token), Some(jkt)) => {
            check_resource_proof(store, oauth, req, token, jkt, &claims, now).await?;
        }
    }
    if !store
        .access_token_honoured(&claims.jti, &claims.client_id, claims.iat)
        .await?
    {
        return Err(BearerRejection::invalid("the access token was revoked"));
    }
    Ok(claims)
}

/// The DPoP proof of a request to a resource (RFC 9449 §7.1).
async fn check_resource_proof(
    store: &Store,
    oauth: &OAuthServer,
    req: &HttpRequest,
    token: &str,
    jkt: &str,
    claims: &AccessTokenClaims,
    now: UnixTime,
) -> Result<(), BearerRejection> {
    let fresh_nonce = || Some(oauth.dpop_nonces.current(now));
    let refuse = |e: OAuthError| BearerRejection::dpop(e.code, &e.description, fresh_nonce());
    let proof = dpop_proof(req)
        .map_err(|e| refuse(e.into()))?
        .ok_or_else(|| {
            refuse(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "`Authorization: DPoP` needs a `DPoP` proof header",
            ))
        })?;
    let client = match authz::ClientId::parse(&claims.client_id) {
        Ok(id) => store.client(&id).await?,
        Err(_) => None,
    };
    let nonce = match client {
        Some(c) if c.record.metadata.dpop_bound_access_tokens => NonceRule::Required,
        _ => NonceRule::IfPresent,
    };
    let htu = oauth.url_of(req.path());
    let expected = Expected {
        htm: req.method().as_str(),
        htu: &htu,
        access_token: Some(token),
        bound_jkt: Some(jkt),
        nonce,
        now,
    };
    match broker::dpop::accept_proof(store, &oauth.dpop_nonces, proof, &expected).await {
        Ok(_) => Ok(()),
        Err(broker::BrokerError::OAuth(e)) => Err(refuse(e)),
        Err(broker::BrokerError::Store(e)) => Err(e.into()),
        Err(other) => Err(Problem::from(other).into()),
    }
}

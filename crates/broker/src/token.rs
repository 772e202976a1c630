//! The token endpoint's grants (RFC 6749 §4–6, CIBA poll and ping modes),
//! introspection (RFC 7662) and dynamic registration (RFC 7591), over the
//! `authz` core.
//!
//! | use case | what it keeps |
//! |---|---|
//! | [`client_credentials`] | `ledger:read` only for auditors; an auditor asking for nothing gets `ledger:read` |
//! | [`authorization_code`] | a code is used once: the store's conditional update decides a race, and a replayed code revokes every token it gave |
//! | [`refresh`] | a refresh token rotates once; reuse (or a grant that is over) revokes its whole family |
//! | [`ciba`] | a company polls only its own request, no faster than the interval, and gets tokens for it once |
//! | [`introspect`] | a token is active only if unrevoked, its grant live, and the caller's own |
//! | [`register`] | a client exists only behind a live initial access token |
//!
//! Every refusal is an RFC 6749 error ([`BrokerError::OAuth`]), worded as
//! the protocol words it; a store failure is [`BrokerError::Store`].

use authz::code::CodeError;
use authz::metadata::LEDGER_READ_SCOPE;
use authz::token_request::{PollState, poll};
use authz::{
    AccessTokenClaims, ClientId, ClientMetadata, ClientRecord, ClientSecret, CodeRecord, ErrorCode,
    IdTokenAlg, IdTokenClaims, IntrospectionResponse, OAuthError, OpenIdSignIn, OsRandom,
    PairwiseSubject, RefreshRecord, RefreshToken, ServerKey, TokenError, TokenHash, TokenRequest,
    TokenResponse, TokenSettings, TokenTypeHint, UnixTime,
};
use consent_policy::{CompanyId, DataRequest};
use store::{ClientKind, Grant, PersonId, RequestStatus, Store, StoreError, StoredClient};

use crate::BrokerError;

/// The authorization server's keys as the use cases need them: the
/// server holds the key files (and reloads them); this crate only signs,
/// verifies and derives through it.
pub trait Issuer {
    /// Issuer, audience and lifetime of access tokens.
    fn settings(&self) -> &TokenSettings;
    /// The issuer URL, as introspection reports it.
    fn issuer(&self) -> &str;
    /// Keys pairwise subjects (and client-secret hashes).
    fn server_key(&self) -> &ServerKey;
    /// Signs claims with the newest key.
    fn sign(&self, claims: &AccessTokenClaims) -> Result<String, OAuthError>;
    /// Checks an access token's signature and claims.
    fn verify(&self, token: &str, now: UnixTime) -> Result<AccessTokenClaims, TokenError>;
    /// Signs ID token claims with `alg` (RS256 or EdDSA), newest key.
    fn sign_id_token(&self, claims: &IdTokenClaims, alg: IdTokenAlg) -> Result<String, OAuthError>;
    /// Checks an `id_token_hint`: our signature and issuer (expiry not).
    fn verify_id_token_hint(&self, token: &str, now: UnixTime)
    -> Result<IdTokenClaims, TokenError>;

    /// The pairwise subject of `person` for `company`.
    fn subject(&self, company: &CompanyId, person: &PersonId) -> PairwiseSubject {
        PairwiseSubject::derive(self.server_key(), company, person.as_str())
    }
}

impl From<OAuthError> for BrokerError {
    fn from(error: OAuthError) -> Self {
        BrokerError::OAuth(error)
    }
}

/// Answers a parsed token request of `client` (authenticated, and allowed
/// this grant type: [`TokenRequest::check_allowed`]). `dpop_jkt` is the
/// thumbprint of the key of the request's accepted DPoP proof
/// ([`crate::dpop::accept_proof`]): the access token is bound to it
/// (`cnf.jkt`, `token_type: DPoP`). A client registered
/// `dpop_bound_access_tokens` gets nothing without one.
pub async fn grant(
    store: &Store,
    issuer: &impl Issuer,
    client: &StoredClient,
    request: TokenRequest,
    dpop_jkt: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, BrokerError> {
    if client.record.metadata.dpop_bound_access_tokens && dpop_jkt.is_none() {
        return Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "this client is registered with `dpop_bound_access_tokens`: send a DPoP proof",
        )
        .into());
    }
    let bound = Binding(dpop_jkt);
    match request {
        TokenRequest::ClientCredentials { scopes } => {
            client_credentials(issuer, client, &scopes, bound, now)
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let presented = PresentedCode {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
            };
            authorization_code(store, issuer, &client.record, presented, bound, now).await
        }
        TokenRequest::RefreshToken { refresh_token } => {
            refresh(store, issuer, &client.record, &refresh_token, bound, now).await
        }
        TokenRequest::Ciba { auth_req_id } => {
            ciba(store, issuer, &client.record, &auth_req_id, bound, now).await
        }
    }
}

/// The DPoP key an access token is bound to, if any (the thumbprint).
#[derive(Clone, Copy, Debug, Default)]
pub struct Binding<'a>(pub Option<&'a str>);

/// A token for the company's (or auditor's) own calls.
pub fn client_credentials(
    issuer: &impl Issuer,
    client: &StoredClient,
    scopes: &[&'static str],
    bound: Binding<'_>,
    now: UnixTime,
) -> Result<TokenResponse, BrokerError> {
    if scopes.contains(&LEDGER_READ_SCOPE) && client.kind != ClientKind::Auditor {
        return Err(OAuthError::invalid_scope("`ledger:read` is for auditor clients").into());
    }
    // An auditor exists to read the ledger: asking for no scope means that one.
    let scope = if scopes.is_empty() && client.kind == ClientKind::Auditor {
        LEDGER_READ_SCOPE.to_owned()
    } else {
        scopes.join(" ")
    };
    let claims = issuer
        .settings()
        .client_claims(&client.record.client_id, Some(&scope), now, &mut OsRandom)
        .map_err(OAuthError::from)?
        .bound_to(bound.0);
    let token = issuer.sign(&claims)?;
    Ok(TokenResponse::new(token, &claims, None))
}

/// What a client presents to redeem an authorization code.
#[derive(Clone, Copy, Debug)]
pub struct PresentedCode<'a> {
    /// The code.
    pub code: &'a str,
    /// The redirect URI, if the client repeated it.
    pub redirect_uri: Option<&'a str>,
    /// The PKCE verifier.
    pub code_verifier: Option<&'a str>,
}

/// Redeems an authorization code for an access token and a new refresh
/// family (and, for an OpenID Connect request, an ID token signed as the
/// client registered). A code is used once: a replay, or the loser of a
/// race, revokes what the code gave.
pub async fn authorization_code(
    store: &Store,
    issuer: &impl Issuer,
    client: &ClientRecord,
    presented: PresentedCode<'_>,
    bound: Binding<'_>,
    now: UnixTime,
) -> Result<TokenResponse, BrokerError> {
    let client_id = &client.client_id;
    let hash = TokenHash::of(presented.code);
    let record = store.code(&hash).await?;
    let redeemed = match CodeRecord::redeem(
        record.as_ref(),
        client_id,
        presented.redirect_uri,
        presented.code_verifier,
        now,
    ) {
        Ok(redeemed) => redeemed,
        Err(e @ CodeError::Replayed { .. }) => {
            store.revoke_code_tokens(&hash).await?;
            return Err(e.to_oauth().into());
        }
        Err(e) => return Err(e.to_oauth().into()),
    };
    let grant = live_grant(store, &redeemed.grant_id, client_id.as_str())
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant behind this code is no longer live"))?;
    let (access, claims) = grant_access_token(store, issuer, &grant, bound, now).await?;
    let (refresh_token, mut refresh_record) = new_refresh_family(&grant, client_id)?;
    refresh_record.openid.clone_from(&redeemed.openid);
    let expires = UnixTime::from_secs(claims.exp);
    if !store
        .consume_code(&hash, now, &refresh_record, &claims.jti, expires)
        .await?
    {
        store.revoke_code_tokens(&hash).await?;
        let replayed = CodeError::Replayed {
            grant_id: grant.id,
            family_id: None,
        };
        return Err(replayed.to_oauth().into());
    }
    let mut response = TokenResponse::new(access, &claims, Some(refresh_token.expose().to_owned()));
    if let Some(sign_in) = &redeemed.openid {
        with_id_token(&mut response, issuer, client, &claims, sign_in)?;
    }
    Ok(response)
}

/// Adds the ID token of `sign_in` to a token response for `access`, and
/// `openid` to its scope.
fn with_id_token(
    response: &mut TokenResponse,
    issuer: &impl Issuer,
    client: &ClientRecord,
    access: &AccessTokenClaims,
    sign_in: &OpenIdSignIn,
) -> Result<(), OAuthError> {
    let alg = client.metadata.id_token_signed_response_alg;
    let id_claims = id_token_claims(issuer, access, sign_in, alg, &response.access_token);
    response.id_token = Some(issuer.sign_id_token(&id_claims, alg)?);
    response.scope = Some(with_openid(response.scope.take()));
    Ok(())
}

/// The granted scope of a sign-in: `openid` and then the access token's
/// scope. The client asked for `openid` and got an ID token, so the scope
/// it was granted names it (RFC 6749 §5.1 sends `scope` back to tell a
/// client what it got); OAuth libraries compare the two, and oauthlib
/// (requests-oauthlib) refuses a response whose scope lost `openid` with
/// "Scope has changed".
fn with_openid(scope: Option<String>) -> String {
    match scope {
        Some(scope) => format!("openid {scope}"),
        None => "openid".to_owned(),
    }
}

/// The ID token of an access token minted from an OpenID Connect code:
/// the same pairwise subject and issue time, for the client itself.
fn id_token_claims(
    issuer: &impl Issuer,
    access: &AccessTokenClaims,
    sign_in: &OpenIdSignIn,
    alg: IdTokenAlg,
    access_token: &str,
) -> IdTokenClaims {
    IdTokenClaims {
        iss: issuer.issuer().to_owned(),
        sub: access.sub.clone(),
        aud: access.client_id.clone(),
        exp: access.iat + authz::oidc::ID_TOKEN_LIFETIME_SECS,
        iat: access.iat,
        auth_time: sign_in.auth_time.as_secs(),
        nonce: sign_in.nonce.clone(),
        acr: authz::oidc::acr_for(&sign_in.amr).map(str::to_owned),
        amr: sign_in.amr.clone(),
        at_hash: Some(authz::oidc::at_hash(alg, access_token)),
    }
}

/// Rotates a refresh token. Reuse, another client's token, or a grant that
/// is over revokes the whole family. A family that began with a sign-in
/// keeps `openid` and gets a new ID token each time: the same subject and
/// `auth_time`, no `nonce` (OpenID Connect Core §12.2).
pub async fn refresh(
    store: &Store,
    issuer: &impl Issuer,
    client: &ClientRecord,
    refresh_token: &str,
    bound: Binding<'_>,
    now: UnixTime,
) -> Result<TokenResponse, BrokerError> {
    let client_id = &client.client_id;
    let record = store.refresh_token(&TokenHash::of(refresh_token)).await?;
    let rotation = match RefreshRecord::rotate(record.as_ref(), client_id, now, &mut OsRandom) {
        Ok(rotation) => rotation,
        Err(e) => {
            if let Some(family) = e.family_to_revoke() {
                store.revoke_refresh_family(family).await?;
            }
            return Err(OAuthError::from(e).into());
        }
    };
    let family = rotation.consumed.family_id;
    let Some(grant) = live_grant(store, &rotation.consumed.grant_id, client_id.as_str()).await?
    else {
        store.revoke_refresh_family(family).await?;
        return Err(OAuthError::invalid_grant(
            "the grant behind this refresh token was revoked or has expired",
        )
        .into());
    };
    if !store.rotate_refresh(&rotation).await? {
        store.revoke_refresh_family(family).await?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; its family is revoked",
        )
        .into());
    }
    let (access, claims) = grant_access_token(store, issuer, &grant, bound, now).await?;
    let mut response =
        TokenResponse::new(access, &claims, Some(rotation.token.expose().to_owned()));
    if let Some(sign_in) = &rotation.issued.openid {
        let again = OpenIdSignIn {
            nonce: None,
            ..sign_in.clone()
        };
        with_id_token(&mut response, issuer, client, &claims, &again)?;
    }
    Ok(response)
}

/// A company polls its asynchronous request (`auth_req_id`): pending,
/// `slow_down`, refused, expired, or — once — tokens for its grant.
pub async fn ciba(
    store: &Store,
    issuer: &impl Issuer,
    client: &ClientRecord,
    auth_req_id: &str,
    bound: Binding<'_>,
    now: UnixTime,
) -> Result<TokenResponse, BrokerError> {
    let client_id = &client.client_id;
    let unknown = || OAuthError::invalid_grant("`auth_req_id` is unknown");
    let request = match store.request(auth_req_id).await {
        Ok(request) if request.company_id.as_str() == client_id.as_str() => request,
        Ok(_) => return Err(unknown().into()),
        Err(StoreError::RequestNotFound(_)) => {
            // A backchannel request whose hint named nobody answers as a
            // refusal does, after the same kind of write a poll makes.
            let company = client_id.to_company_id();
            let Some(nobody) = store.ciba_for_nobody(&company, auth_req_id).await? else {
                return Err(unknown().into());
            };
            let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            store
                .ciba_nobody_poll(&nobody.auth_req_id, now_secs)
                .await?;
            return Err(match poll(PollState::Denied, None, now) {
                Err(refused) => refused.into(),
                Ok(()) => OAuthError::server_error("a refusal was approved").into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    // A synthetic sandbox person answers by being read (crate::sandbox).
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs()).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let request = crate::sandbox::settle(store, request, at).await?;
    let last_poll = store.ciba_poll(&request.id, now).await?;
    let poll_state = match request.status {
        // A counter-offer waits for the company: still pending for the poll.
        RequestStatus::Pending | RequestStatus::Countered
            if unix_time(request.expires_at) > now =>
        {
            PollState::Pending
        }
        RequestStatus::Pending | RequestStatus::Countered | RequestStatus::Expired => {
            PollState::Expired
        }
        RequestStatus::Approved => PollState::Approved,
        RequestStatus::Denied => PollState::Denied,
    };
    poll(poll_state, last_poll, now)?;
    let grant_id = request
        .grant_id
        .as_deref()
        .ok_or_else(|| OAuthError::server_error("an approved request has no grant"))?;
    let grant = live_grant(store, grant_id, client_id.as_str())
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the grant was revoked or has expired"))?;
    if !store.ciba_issue_once(&request.id, now).await? {
        return Err(OAuthError::invalid_grant(
            "tokens for this `auth_req_id` were issued already; refresh them instead",
        )
        .into());
    }
    let (access, claims) = grant_access_token(store, issuer, &grant, bound, now).await?;
    let (refresh_token, mut refresh_record) = new_refresh_family(&grant, client_id)?;
    // With `openid` in its scope, CIBA is an OpenID Connect sign-in: the
    // person authenticated (in their inbox) when they approved.
    if store.ciba_openid(&request.id).await? {
        let approved_at = request.decided_at.unwrap_or(request.created_at);
        refresh_record.openid = Some(OpenIdSignIn {
            nonce: None,
            auth_time: unix_time(approved_at),
            amr: Vec::new(),
        });
    }
    store.save_refresh(&refresh_record).await?;
    let mut response = TokenResponse::new(access, &claims, Some(refresh_token.expose().to_owned()));
    if let Some(sign_in) = &refresh_record.openid {
        with_id_token(&mut response, issuer, client, &claims, sign_in)?;
    }
    Ok(response)
}

/// What `caller` may learn about `token` (RFC 7662): only its own tokens,
/// and a token whose grant is over, or that was revoked, is inactive.
pub async fn introspect(
    store: &Store,
    issuer: &impl Issuer,
    caller: &ClientId,
    token: &str,
    now: UnixTime,
) -> Result<IntrospectionResponse, BrokerError> {
    match TokenTypeHint::of(token) {
        TokenTypeHint::AccessToken => {
            let Ok(claims) = issuer.verify(token, now) else {
                return Ok(IntrospectionResponse::Inactive);
            };
            if !store
                .access_token_honoured(&claims.jti, &claims.client_id, claims.iat)
                .await?
            {
                return Ok(IntrospectionResponse::Inactive);
            }
            if let Some(grant_id) = &claims.grant_id
                && live_grant(store, grant_id, &claims.client_id)
                    .await?
                    .is_none()
            {
                return Ok(IntrospectionResponse::Inactive);
            }
            Ok(IntrospectionResponse::for_access_token(&claims, caller))
        }
        TokenTypeHint::RefreshToken => {
            let Some(record) = store.refresh_token(&TokenHash::of(token)).await? else {
                return Ok(IntrospectionResponse::Inactive);
            };
            let Some(grant) =
                live_grant(store, &record.grant_id, record.client_id.as_str()).await?
            else {
                return Ok(IntrospectionResponse::Inactive);
            };
            let subject = issuer.subject(&grant.company_id, &grant.person_id);
            Ok(IntrospectionResponse::for_refresh_token(
                &record,
                caller,
                issuer.issuer(),
                Some(subject.as_str()),
                now,
            ))
        }
    }
}

/// Registers a company's client (RFC 7591) from its metadata `document`
/// (the JSON body as sent), if `initial_access_token` is live — checked
/// first, so a stranger learns nothing about what a document must hold.
/// The secret (for secret-based clients) is returned once.
pub async fn register(
    store: &Store,
    server_key: &ServerKey,
    initial_access_token: &str,
    document: &[u8],
    now: UnixTime,
) -> Result<(ClientRecord, Option<ClientSecret>), BrokerError> {
    if !store
        .registration_token_is_valid(&TokenHash::of(initial_access_token), now)
        .await?
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "the initial access token is unknown or has expired",
        )
        .into());
    }
    let value: serde_json::Value = serde_json::from_slice(document).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the registration body must be a JSON object",
        )
    })?;
    let metadata = ClientMetadata::parse(&value)?;
    let (record, secret) = ClientRecord::register(metadata, server_key, &mut OsRandom, now)
        .map_err(OAuthError::from)?;
    store.create_client(&record, ClientKind::Company).await?;
    Ok((record, secret))
}

/// An [`time::OffsetDateTime`] as Unix seconds (0 before 1970).
pub fn unix_time(at: time::OffsetDateTime) -> UnixTime {
    UnixTime::from_secs(u64::try_from(at.unix_timestamp()).unwrap_or(0))
}

/// The grant behind a token, if it is live now and `client`'s. Anything
/// else (unknown, revoked, expired, another company's) is `None`.
async fn live_grant(
    store: &Store,
    grant_id: &str,
    client_id: &str,
) -> Result<Option<Grant>, StoreError> {
    match store.grant(grant_id).await {
        Ok(grant) => Ok((grant.is_live(time::OffsetDateTime::now_utc())
            && grant.company_id.as_str() == client_id)
            .then_some(grant)),
        Err(StoreError::GrantNotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Mints a grant-bound access token for `grant`'s company: `sub` is the
/// person's pairwise subject, `authorization_details` what the grant
/// allows. The store remembers the subject for `/v1/requests`.
async fn grant_access_token(
    store: &Store,
    issuer: &impl Issuer,
    grant: &Grant,
    bound: Binding<'_>,
    now: UnixTime,
) -> Result<(String, AccessTokenClaims), BrokerError> {
    let client_id = ClientId::parse(grant.company_id.as_str())
        .map_err(|_| OAuthError::server_error("the grant's company is not an OAuth client"))?;
    let subject = issuer.subject(&grant.company_id, &grant.person_id);
    let granted = DataRequest::new(
        grant.attributes.clone(),
        grant.purpose,
        grant.duration.clone(),
        grant.price,
    )
    .map_err(|e| OAuthError::server_error(format!("the stored grant is not a request: {e}")))?;
    let claims = issuer
        .settings()
        .grant_claims(
            subject.as_str(),
            &client_id,
            &grant.id,
            &granted,
            now,
            &mut OsRandom,
        )
        .map_err(OAuthError::from)?
        .bound_to(bound.0);
    let token = issuer.sign(&claims)?;
    store
        .remember_subject(&grant.company_id, &subject, &grant.person_id)
        .await?;
    Ok((token, claims))
}

/// A new refresh family for a grant, living as long as the grant.
fn new_refresh_family(
    grant: &Grant,
    client_id: &ClientId,
) -> Result<(RefreshToken, RefreshRecord), OAuthError> {
    RefreshRecord::issue_family(
        client_id,
        &grant.id,
        unix_time(grant.expires_at),
        &mut OsRandom,
    )
    .map_err(OAuthError::from)
}

//! Signing up and signing in over JSON: parse, call `broker::sign_in` or
//! `broker::sign_up`, render. The rules (passkeys first, passwords as a
//! fallback that needs a passkey or a recovery code once the person has
//! one; every attempt counted per account and per address before it is
//! tried; argon2 behind a bounded gate; unknown handles answered like
//! known ones) live there, shared with the sign-in and sign-up pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, post, web};
use broker::BrokerError;
use broker::sign_in::{self as sign_in_case, Credentials, SignInOutcome as Outcome};
use broker::sign_up as sign_up_case;
use serde::{Deserialize, Serialize};
use store::Handle;
use utoipa::ToSchema;

use crate::auth::{self, Authenticated};
use crate::problem::Problem;
use crate::startup::AppState;

/// A session just started.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "token": "Ri7-SBCD_JFBEtYxWHh3VRFc8TSTLcG8CnyVYWcUSP8",
    "csrf_token": "R-pYgyZ_rOG6evvQ_QPBnsbjtP3W-v1sITB5-hswrdY",
    "expires_at": "2026-12-08T05:17:51Z",
    "handle": "ada",
    "recovery_codes": [
        "8SNG-YCPK-WCAW-PXNK",
        "W9VG-SDQG-MRRX-XS3X",
        "MAHQ-EC5F-FV7N-Q26T",
        "G30J-86NT-FCPH-H78N",
        "1P05-6S2C-86CH-EJ1S",
        "ZF29-QNJ0-WSPD-51BS",
        "67D6-6EWC-31BM-23M4",
        "FCHZ-S584-FB07-ZY3N",
        "JSJ1-PWZ3-6V3V-9HQ7",
        "PCT7-NRQV-G6J9-SPGX"
    ]
}))]
pub struct SessionCreated {
    /// The session token: send it as `Authorization: Bearer <token>`
    /// (scripts), or let the browser keep the cookie set beside it.
    pub token: String,
    /// The CSRF token for cookie-authenticated changes (`X-CSRF-Token`).
    pub csrf_token: String,
    /// When the session ends at the latest (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
    /// The person's handle.
    pub handle: String,
    /// One-time recovery codes, shown only now (at sign-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

impl SessionCreated {
    fn of(session: sign_in_case::Session, recovery_codes: Option<Vec<String>>) -> SessionCreated {
        SessionCreated {
            csrf_token: identity::csrf_token(&session.token),
            expires_at: session.expires_at,
            handle: session.person.handle.to_string(),
            recovery_codes,
            token: session.token,
        }
    }
}

/// A WebAuthn challenge for the browser.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "ceremony_id": "CwpytAY0Ea6iUPl5bPNxhT7V-SGxp7rarcqhPGctIKU",
    "options": {
        "publicKey": {
            "attestation": "none",
            "authenticatorSelection": {
                "requireResidentKey": false,
                "residentKey": "preferred",
                "userVerification": "required"
            },
            "challenge": "m8YvFpdqcW6JN4kujeDgrUytCedGeTwLRp_wMBw7-MU",
            "excludeCredentials": [],
            "pubKeyCredParams": [{"alg": -7, "type": "public-key"}, {"alg": -257, "type": "public-key"}],
            "rp": {"id": "apiome.example", "name": "apiome"},
            "timeout": 300000,
            "user": {"displayName": "ada", "id": "uUR-MUDMRIC-4asU2r4PDw", "name": "ada"}
        }
    }
}))]
pub struct PasskeyCeremony {
    /// Send it back with the answer; usable once, for 5 minutes.
    pub ceremony_id: String,
    /// Pass `options.publicKey` to `navigator.credentials.create()` or `.get()`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<sign_in_case::PasskeyChallenge> for PasskeyCeremony {
    fn from(challenge: sign_in_case::PasskeyChallenge) -> Self {
        PasskeyCeremony {
            ceremony_id: challenge.ceremony_id,
            options: challenge.options,
        }
    }
}

/// Sign up: with a password, or (no password) start a passkey sign-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"handle": "ada", "password": "correct horse battery staple"}))]
pub struct SignUp {
    /// 3 to 32 characters of a-z, 0-9 and _, starting with a letter
    /// (upper case is read as lower case).
    // No field example beside the struct's: a tool that sends examples
    // (schemathesis) would sign "ada" up without the password the SignIn
    // example signs in with.
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_]{2,31}$")]
    pub handle: String,
    /// 8 to 128 characters, not all spaces. Leave out to sign up with a passkey.
    #[schema(min_length = 8, max_length = 128, pattern = r"\S")]
    pub password: Option<String>,
}

/// The browser's answer to a passkey challenge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "ceremony_id": "CwpytAY0Ea6iUPl5bPNxhT7V-SGxp7rarcqhPGctIKU",
    "name": "MacBook Touch ID",
    "credential": {
        "id": "7mQ2vXn4Kp9sLr3tYw8zAb",
        "rawId": "7mQ2vXn4Kp9sLr3tYw8zAb",
        "type": "public-key",
        "response": {
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoibTh...",
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi..."
        },
        "extensions": {}
    }
}))]
pub struct PasskeyAnswer {
    /// From the challenge.
    pub ceremony_id: String,
    /// The `PublicKeyCredential` as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for a new passkey ("laptop", "phone"): 1 to 64 characters,
    /// no control characters; spaces around are dropped.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
}

/// Sign in with a password (and a recovery code instead of a passkey), or
/// with a recovery code alone on an account without a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"handle": "ada", "password": "correct horse battery staple"}))]
pub struct SignIn {
    /// The person's handle.
    pub handle: String,
    /// Their password, if their account has one.
    pub password: Option<String>,
    /// A one-time recovery code, to sign in without a passkey.
    pub recovery_code: Option<String>,
}

/// The outcome of a password sign-in.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "status": "signed_in",
    "session": {
        "token": "Ri7-SBCD_JFBEtYxWHh3VRFc8TSTLcG8CnyVYWcUSP8",
        "csrf_token": "R-pYgyZ_rOG6evvQ_QPBnsbjtP3W-v1sITB5-hswrdY",
        "expires_at": "2026-12-08T05:17:51Z",
        "handle": "ada"
    }
}))]
pub struct SignInOutcome {
    /// `signed_in`, or `passkey_required` when the account has a passkey
    /// and it must be used too (answer at `/v1/session/passkey/finish`).
    #[schema(example = "signed_in")]
    pub status: &'static str,
    /// The session, when signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionCreated>,
    /// The passkey challenge, when one is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<PasskeyCeremony>,
}

/// Start a passkey sign-in; with a handle, only that person's passkeys are
/// asked for, without one the authenticator chooses (discoverable).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"handle": "ada"}))]
pub struct StartPasskeySignIn {
    /// The person's handle, if typed.
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_]{2,31}$")]
    pub handle: Option<String>,
}

const MAX_PASSKEY_NAME: usize = 64;

fn wrong_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "sign-in-failed",
        "Sign-in failed",
        "the handle, password or code is wrong",
    )
}

fn parse_handle(text: &str) -> Result<Handle, Problem> {
    Handle::parse(text).map_err(|e| Problem::invalid("handle", e.to_string()))
}

pub(crate) fn passkey_name(name: Option<String>) -> Result<String, Problem> {
    let name = name.unwrap_or_else(|| "passkey".to_owned());
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_PASSKEY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(Problem::invalid(
            "name",
            format!("a passkey name is 1 to {MAX_PASSKEY_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// The signed-in person as the `ways_in` use cases take them.
pub(crate) fn signed_in(who: &Authenticated) -> broker::ways_in::SignedIn<'_> {
    broker::ways_in::SignedIn {
        person: &who.person,
        session_token: &who.session_token,
    }
}

/// A refusal that asks the client to come back later: `429` (too many
/// attempts) or `503` (every hashing slot busy), with `Retry-After`.
pub(crate) fn come_back_later(
    status: StatusCode,
    kind: &str,
    title: &str,
    wait_secs: i64,
) -> HttpResponse {
    let problem = Problem::new(
        status,
        kind,
        title,
        format!("wait {wait_secs} s before trying again"),
    );
    let mut response = actix_web::ResponseError::error_response(&problem);
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait_secs.max(1)),
    );
    response
}

/// The answer to a use case's refusal.
pub(crate) fn refused(error: BrokerError) -> Result<HttpResponse, Problem> {
    match error {
        BrokerError::Throttled { retry_after_secs } => Ok(come_back_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many attempts",
            retry_after_secs,
        )),
        BrokerError::Busy { retry_after_secs } => Ok(come_back_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Busy",
            retry_after_secs,
        )),
        other => Err(Problem::from(other)),
    }
}

/// Answers with a new session: its token, CSRF token and cookie.
fn session_response(
    state: &AppState,
    status: StatusCode,
    session: sign_in_case::Session,
    recovery_codes: Option<Vec<String>>,
) -> HttpResponse {
    let cookie = auth::session_cookie(&session.token, state.is_https());
    HttpResponse::build(status)
        .cookie(cookie)
        .json(SessionCreated::of(session, recovery_codes))
}

/// Create an account
///
/// With a password, the account exists at once (201, with a session and
/// recovery codes); without, a passkey sign-up starts (200, with the challenge
/// to answer at `/v1/accounts/passkey`), alike whether the handle is free or
/// taken. Each address may create a few accounts an hour.
#[utoipa::path(
    operation_id = "accounts_create",
    tag = "people",
    request_body = SignUp,
    responses(
        (status = 201, description = "Signed up with a password", body = SessionCreated),
        (status = 200, description = "Passkey sign-up started", body = PasskeyCeremony),
        (status = 409, description = "Handle taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad handle or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/accounts")]
pub async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let handle = parse_handle(&body.handle)?;
    let client = state.client_address(&req);
    let Some(password) = body.password else {
        return match sign_up_case::start_passkey(state.accounts(), client, handle).await {
            Ok(challenge) => Ok(HttpResponse::Ok().json(PasskeyCeremony::from(challenge))),
            Err(e) => refused(e),
        };
    };
    let password = crate::auth::parse_password(&password)?;
    match sign_up_case::with_password(state.accounts(), client, handle, password).await {
        Ok(new) => Ok(session_response(
            &state,
            StatusCode::CREATED,
            new.session,
            Some(new.recovery_codes),
        )),
        Err(e) => refused(e),
    }
}

/// Finish a passkey sign-up
///
/// The account, its passkey, a session and recovery codes are created together.
#[utoipa::path(
    operation_id = "accounts_finish_passkey",
    tag = "people",
    request_body = PasskeyAnswer,
    responses(
        (status = 201, description = "Signed up", body = SessionCreated),
        (status = 400, description = "Unknown, used or expired challenge", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The passkey failed verification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Handle taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/accounts/passkey")]
pub async fn finish_sign_up(
    state: web::Data<AppState>,
    body: web::Json<PasskeyAnswer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let name = passkey_name(body.name)?;
    let new =
        sign_up_case::finish_passkey(state.accounts(), &body.ceremony_id, &body.credential, name)
            .await
            .map_err(Problem::from)?;
    Ok(session_response(
        &state,
        StatusCode::CREATED,
        new.session,
        Some(new.recovery_codes),
    ))
}

/// Sign in with a password
///
/// If the account also has a passkey, the answer is a passkey challenge (finish
/// at `/v1/session/passkey/finish`), unless a recovery code stands in for it.
/// An account without a password signs in here with a recovery code alone.
/// Unknown handles and wrong passwords get the same answer in the same time.
/// Every attempt is counted before it is tried, per account and per address.
#[utoipa::path(
    operation_id = "session_create",
    tag = "people",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in, or a passkey is required too", body = SignInOutcome),
        (status = 401, description = "Wrong handle, password or code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/session")]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, Problem> {
    let client = state.client_address(&req);
    let typed = Credentials {
        handle: &body.handle,
        password: body.password.as_deref(),
        recovery_code: body.recovery_code.as_deref(),
    };
    let outcome = match sign_in_case::with_password(state.accounts(), client, typed).await {
        Ok(outcome) => outcome,
        Err(e) => return refused(e),
    };
    match outcome {
        Outcome::Failed => Err(wrong_credentials()),
        Outcome::PasskeyRequired(challenge) => Ok(HttpResponse::Ok().json(SignInOutcome {
            status: "passkey_required",
            session: None,
            ceremony: Some(challenge.into()),
        })),
        Outcome::SignedIn(session) => Ok(HttpResponse::Ok()
            .cookie(auth::session_cookie(&session.token, state.is_https()))
            .json(SignInOutcome {
                status: "signed_in",
                session: Some(SessionCreated::of(session, None)),
                ceremony: None,
            })),
    }
}

/// Start a passkey sign-in
///
/// With a handle, for that person's passkeys; without, for any discoverable
/// passkey. An unknown handle gets a challenge of the same shape, so the answer
/// does not tell who has an account.
#[utoipa::path(
    operation_id = "session_start_passkey",
    tag = "people",
    request_body = Option<StartPasskeySignIn>,
    responses(
        (status = 200, description = "The challenge", body = PasskeyCeremony),
        (status = 400, description = "A body that is not `{\"handle\": …}`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A handle nobody can have", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/session/passkey")]
pub async fn start_passkey_sign_in(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    // The body is optional; one that is there must be right (an
    // `Option<Json<_>>` extractor would silently drop a wrong one).
    let body: Option<StartPasskeySignIn> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&body).map_err(|e| Problem::malformed(format!("the body: {e}")))?
    };
    let body = body.unwrap_or_default();
    // A handle nobody could have is a typing mistake to point out; it
    // tells nothing about who has an account.
    if let Some(handle) = &body.handle
        && store::Handle::parse(handle).is_err()
    {
        return Err(Problem::invalid(
            "handle",
            "a handle is 3 to 32 characters of a-z, 0-9 and _, starting with a letter",
        ));
    }
    let challenge = sign_in_case::start_passkey(state.accounts(), body.handle.as_deref())
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(PasskeyCeremony::from(challenge)))
}

/// Finish a passkey sign-in
///
/// Checks the authenticator's assertion, alone or as the second step after a
/// password, and starts a session.
#[utoipa::path(
    operation_id = "session_finish_passkey",
    tag = "people",
    request_body = PasskeyAnswer,
    responses(
        (status = 200, description = "Signed in", body = SessionCreated),
        (status = 400, description = "Unknown, used or expired challenge", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The passkey failed verification", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/session/passkey/finish")]
pub async fn finish_passkey_sign_in(
    state: web::Data<AppState>,
    body: web::Json<PasskeyAnswer>,
) -> Result<HttpResponse, Problem> {
    let session =
        sign_in_case::finish_passkey(state.accounts(), &body.ceremony_id, &body.credential)
            .await
            .map_err(Problem::from)?;
    Ok(session_response(&state, StatusCode::OK, session, None))
}

/// Sign out of this session
///
/// Ends this session and clears its cookie.
#[utoipa::path(
    operation_id = "session_delete",
    tag = "people",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in (or this session has already ended)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/session")]
pub async fn sign_out(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    state
        .store
        .delete_session(&identity::hash_secret(&who.session_token))
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(auth::cleared_session_cookie(state.is_https()))
        .finish())
}

/// Sign out of every other session
///
/// Ends every other session of this person, keeping this one.
#[utoipa::path(
    operation_id = "sessions_delete_others",
    tag = "people",
    responses(
        (status = 204, description = "Every other session ended"),
        (status = 401, description = "Not signed in (or this session has already ended)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/me/sessions/others")]
pub async fn sign_out_others(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    broker::ways_in::end_other_sessions(&state.store, signed_in(&who))
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign out everywhere
///
/// Ends every session of this person, this one included.
#[utoipa::path(
    operation_id = "sessions_delete_all",
    tag = "people",
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "Not signed in (or this session has already ended)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/me/sessions")]
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    state.store.delete_sessions(&who.person).await?;
    Ok(HttpResponse::NoContent()
        .cookie(auth::cleared_session_cookie(state.is_https()))
        .finish())
}

/// Start adding a passkey
///
/// Starts adding a passkey to the signed-in person; the session must have
/// signed in within the last 5 minutes.
#[utoipa::path(
    operation_id = "passkeys_start_add",
    tag = "people",
    responses(
        (status = 200, description = "The challenge", body = PasskeyCeremony),
        (status = 403, description = "Sign in again first (the session is over 5 minutes old)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/passkeys")]
pub async fn start_add_passkey(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let challenge = broker::ways_in::start_add_passkey(state.accounts(), signed_in(&who))
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::Ok().json(PasskeyCeremony::from(challenge)))
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "7mQ2vXn4Kp9sLr3tYw8zAb",
    "name": "MacBook Touch ID",
    "created_at": "2026-11-02T08:15:30Z",
    "last_used_at": "2026-12-07T09:58:41Z"
}))]
pub struct PasskeyView {
    /// Its id (the credential id, base64url).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was added.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// When it was last used to sign in.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl From<store::StoredPasskeyRow> for PasskeyView {
    fn from(row: store::StoredPasskeyRow) -> Self {
        PasskeyView {
            id: row.credential_id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// Finish adding a passkey
///
/// Checks the authenticator's attestation and stores the passkey; the session
/// must have signed in within the last 5 minutes.
#[utoipa::path(
    operation_id = "passkeys_finish_add",
    tag = "people",
    request_body = PasskeyAnswer,
    responses(
        (status = 201, description = "Added", body = PasskeyView),
        (status = 400, description = "Unknown, used or expired challenge", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The passkey failed verification", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sign in again first (the session is over 5 minutes old)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/passkeys/finish")]
pub async fn finish_add_passkey(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PasskeyAnswer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let name = passkey_name(body.name)?;
    let row = broker::ways_in::finish_add_passkey(
        state.accounts(),
        signed_in(&who),
        &body.ceremony_id,
        &body.credential,
        name,
    )
    .await
    .map_err(Problem::from)?;
    Ok(HttpResponse::Created().json(PasskeyView::from(row)))
}

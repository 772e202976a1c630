//! Signing up and signing in: passkeys first, passwords as a fallback that
//! needs a passkey (or a recovery code) once the person has one, throttled
//! per account and per address, and alike for unknown handles and wrong
//! passwords.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, post, web};
use serde::{Deserialize, Serialize};
use store::{Handle, NewAccount, NewPasskeyRow, PendingCeremony, Person, PersonId};
use utoipa::ToSchema;

use crate::auth::{self, Authenticated};
use crate::problem::Problem;
use crate::startup::AppState;

/// A session just started.
#[derive(Serialize, ToSchema)]
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

/// A WebAuthn challenge for the browser.
#[derive(Serialize, ToSchema)]
pub struct PasskeyCeremony {
    /// Send it back with the answer; usable once, for 5 minutes.
    pub ceremony_id: String,
    /// Pass `options.publicKey` to `navigator.credentials.create()` or `.get()`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// Sign up: with a password, or (no password) start a passkey sign-up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// 3 to 32 characters of a-z, 0-9 and _, starting with a letter.
    #[schema(example = "ada")]
    pub handle: String,
    /// 8 to 128 characters. Leave out to sign up with a passkey.
    pub password: Option<String>,
}

/// The browser's answer to a passkey challenge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    /// From the challenge.
    pub ceremony_id: String,
    /// The `PublicKeyCredential` as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for a new passkey ("laptop", "phone").
    pub name: Option<String>,
}

/// Sign in with a password (and a recovery code instead of a passkey), or
/// with a recovery code alone on an account without a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
pub struct StartPasskeySignIn {
    /// The person's handle, if typed.
    pub handle: Option<String>,
}

const SIGN_UP: &str = "sign_up";
const SIGN_IN: &str = "sign_in";
const ADD_PASSKEY: &str = "add_passkey";
const MAX_PASSKEY_NAME: usize = 64;

fn new_ceremony_id() -> String {
    identity::new_session_token()
}

fn wrong_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "sign-in-failed",
        "Sign-in failed",
        "the handle, password or code is wrong",
    )
}

fn ceremony_expired() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "ceremony-expired",
        "Challenge expired or used",
        "this passkey challenge is unknown, used or expired; start again",
    )
    .with_field("ceremony_id")
}

fn passkey_rejected(error: identity::PasskeyError) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "passkey-rejected",
        "Passkey not accepted",
        error.to_string(),
    )
    .with_field("credential")
}

fn parse_handle(text: &str) -> Result<Handle, Problem> {
    Handle::parse(text).map_err(|e| Problem::invalid("handle", e.to_string()))
}

fn passkey_name(name: Option<String>) -> Result<String, Problem> {
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

pub(crate) fn is_https(state: &AppState) -> bool {
    state.public_url.scheme() == "https"
}

/// Starts a session and answers with its token, CSRF token and cookie.
async fn start_session(
    state: &AppState,
    person: &Person,
    status: StatusCode,
    recovery_codes: Option<Vec<String>>,
    token: Option<(String, time::OffsetDateTime)>,
) -> Result<HttpResponse, Problem> {
    let (token, expires_at) = match token {
        Some(existing) => existing,
        None => {
            let token = identity::new_session_token();
            let expires_at = state
                .store
                .create_session(&person.id, &identity::hash_secret(&token))
                .await?;
            (token, expires_at)
        }
    };
    let body = SessionCreated {
        csrf_token: identity::csrf_token(&token),
        expires_at,
        handle: person.handle.to_string(),
        recovery_codes,
        token: token.clone(),
    };
    Ok(HttpResponse::build(status)
        .cookie(auth::session_cookie(&token, is_https(state)))
        .json(body))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    web::block(f).await.map_err(|_| Problem::internal())
}

/// Creates an account. With a password, the account exists at once (201,
/// with a session and recovery codes); without, a passkey sign-up starts
/// (200, with the challenge to answer at `/v1/accounts/passkey`).
#[utoipa::path(
    tag = "people",
    request_body = SignUp,
    responses(
        (status = 201, description = "Signed up with a password", body = SessionCreated),
        (status = 200, description = "Passkey sign-up started", body = PasskeyCeremony),
        (status = 409, description = "Handle taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad handle or password", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/accounts")]
pub async fn sign_up(
    state: web::Data<AppState>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let handle = parse_handle(&body.handle)?;
    let person_id = PersonId::from_uuid(uuid::Uuid::new_v4());
    let Some(password) = body.password else {
        if state.store.person_by_handle(&handle).await.is_ok() {
            return Err(store::StoreError::HandleTaken(handle.to_string()).into());
        }
        let user = person_id.as_uuid().ok_or_else(Problem::internal)?;
        let ceremony = state
            .passkeys
            .start_registration(user, handle.as_str(), &[])
            .map_err(|e| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    e.to_string(),
                )
            })?;
        let id = new_ceremony_id();
        state
            .store
            .save_ceremony(
                &id,
                PendingCeremony {
                    purpose: SIGN_UP.to_owned(),
                    person_id: Some(person_id),
                    handle: Some(handle.to_string()),
                    state: ceremony.state,
                },
            )
            .await?;
        return Ok(HttpResponse::Ok().json(PasskeyCeremony {
            ceremony_id: id,
            options: ceremony.challenge,
        }));
    };
    let (person, token, expires_at, shown) =
        password_sign_up(&state, handle, person_id, &password).await?;
    start_session(
        &state,
        &person,
        StatusCode::CREATED,
        Some(shown),
        Some((token, expires_at)),
    )
    .await
}

/// Creates a password account with its recovery codes and a session:
/// the person, the session token, its expiry and the codes to show once.
/// Shared by the JSON API and the sign-up page.
pub(crate) async fn password_sign_up(
    state: &AppState,
    handle: Handle,
    person_id: PersonId,
    password: &str,
) -> Result<(Person, String, time::OffsetDateTime, Vec<String>), Problem> {
    let password = identity::Password::parse(password)
        .map_err(|e| Problem::invalid("password", e.to_string()))?;
    let hash = blocking(move || identity::hash_password(&password))
        .await?
        .map_err(|_| Problem::internal())?;
    let codes = identity::new_recovery_codes();
    let token = identity::new_session_token();
    let expires_at = time::OffsetDateTime::now_utc() + store::SESSION_ABSOLUTE;
    let person = state
        .store
        .sign_up(NewAccount {
            person_id,
            handle,
            password_hash: Some(hash),
            passkey: None,
            recovery_code_hashes: codes.iter().map(identity::RecoveryCode::hash).collect(),
            session: (identity::hash_secret(&token), expires_at),
        })
        .await?;
    let shown = codes.iter().map(identity::RecoveryCode::display).collect();
    Ok((person, token, expires_at, shown))
}

/// Finishes a passkey sign-up: the account, its passkey, a session and
/// recovery codes are created together.
#[utoipa::path(
    tag = "people",
    request_body = PasskeyAnswer,
    responses(
        (status = 201, description = "Signed up", body = SessionCreated),
        (status = 400, description = "Unknown, used or expired challenge", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The passkey failed verification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Handle taken meanwhile", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/accounts/passkey")]
pub async fn finish_sign_up(
    state: web::Data<AppState>,
    body: web::Json<PasskeyAnswer>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let name = passkey_name(body.name)?;
    let ceremony = state
        .store
        .take_ceremony(&body.ceremony_id, SIGN_UP)
        .await?
        .ok_or_else(ceremony_expired)?;
    let (Some(person_id), Some(handle)) = (ceremony.person_id, ceremony.handle) else {
        return Err(ceremony_expired());
    };
    let passkey = state
        .passkeys
        .finish_registration(&ceremony.state, &body.credential)
        .map_err(passkey_rejected)?;
    let codes = identity::new_recovery_codes();
    let token = identity::new_session_token();
    let expires_at = time::OffsetDateTime::now_utc() + store::SESSION_ABSOLUTE;
    let person = state
        .store
        .sign_up(NewAccount {
            person_id,
            handle: parse_handle(&handle)?,
            password_hash: None,
            passkey: Some(NewPasskeyRow {
                credential_id: passkey.credential_id,
                name,
                passkey: passkey.passkey,
            }),
            recovery_code_hashes: codes.iter().map(identity::RecoveryCode::hash).collect(),
            session: (identity::hash_secret(&token), expires_at),
        })
        .await?;
    let shown = codes.iter().map(identity::RecoveryCode::display).collect();
    start_session(
        &state,
        &person,
        StatusCode::CREATED,
        Some(shown),
        Some((token, expires_at)),
    )
    .await
}

/// The client's address; behind a trusted proxy, the one it forwarded.
fn client_address(state: &AppState, req: &HttpRequest) -> String {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    crate::client_ip::client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.trusted_proxies,
    )
    .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn too_many_attempts(wait_secs: i64) -> HttpResponse {
    let problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-attempts",
        "Too many failed sign-ins",
        format!("wait {wait_secs} s before trying again"),
    );
    let mut response = actix_web::ResponseError::error_response(&problem);
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait_secs.max(1)),
    );
    response
}

/// The throttle keys of a sign-in attempt: the account and the address.
fn throttle_keys(state: &AppState, handle: &str, req: &HttpRequest) -> [String; 2] {
    [
        format!("handle:{}", handle.to_ascii_lowercase()),
        format!("ip:{}", client_address(state, req)),
    ]
}

/// Waits required before another attempt under these keys, if any.
async fn throttled(state: &AppState, keys: &[String; 2]) -> Result<Option<i64>, Problem> {
    let now = now_unix();
    let mut wait = 0;
    for key in keys {
        wait = wait.max(state.store.throttle(key).await?.wait_secs(now));
    }
    Ok((wait > 0).then_some(wait))
}

async fn record_failure(state: &AppState, keys: &[String; 2]) -> Result<(), Problem> {
    let now = now_unix();
    for key in keys {
        state.store.record_failure(key, now).await?;
    }
    Ok(())
}

/// Signs in with a password. If the account also has a passkey, the answer
/// is a passkey challenge (finish at `/v1/session/passkey/finish`), unless a
/// recovery code stands in for it. An account without a password signs in
/// here with a recovery code alone. Unknown handles and wrong passwords
/// get the same answer in the same time.
#[utoipa::path(
    tag = "people",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in, or a passkey is required too", body = SignInOutcome),
        (status = 401, description = "Wrong handle, password or code", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/session")]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, Problem> {
    match password_sign_in(&state, &req, body.into_inner()).await? {
        PasswordSignIn::Throttled(wait) => Ok(too_many_attempts(wait)),
        PasswordSignIn::Failed => Err(wrong_credentials()),
        PasswordSignIn::PasskeyRequired(ceremony) => Ok(HttpResponse::Ok().json(SignInOutcome {
            status: "passkey_required",
            session: None,
            ceremony: Some(ceremony),
        })),
        PasswordSignIn::SignedIn {
            person,
            token,
            expires_at,
        } => Ok(HttpResponse::Ok()
            .cookie(auth::session_cookie(&token, is_https(&state)))
            .json(SignInOutcome {
                status: "signed_in",
                session: Some(SessionCreated {
                    csrf_token: identity::csrf_token(&token),
                    expires_at,
                    handle: person.handle.to_string(),
                    recovery_codes: None,
                    token,
                }),
                ceremony: None,
            })),
    }
}

/// What a password or recovery-code sign-in came to.
pub(crate) enum PasswordSignIn {
    /// Signed in: a session was created.
    SignedIn {
        /// Who.
        person: Person,
        /// The new session token.
        token: String,
        /// When the session ends at the latest.
        expires_at: time::OffsetDateTime,
    },
    /// The first factor passed; the account's passkey must answer this.
    PasskeyRequired(PasskeyCeremony),
    /// Too many failures: wait this many seconds.
    Throttled(i64),
    /// Wrong handle, password or code (recorded for throttling).
    Failed,
}

/// The sign-in logic behind `POST /v1/session` and the sign-in and
/// recovery pages: throttled, and alike for unknown handles and wrong
/// passwords.
pub(crate) async fn password_sign_in(
    state: &AppState,
    req: &HttpRequest,
    body: SignIn,
) -> Result<PasswordSignIn, Problem> {
    let keys = throttle_keys(state, &body.handle, req);
    if let Some(wait) = throttled(state, &keys).await? {
        return Ok(PasswordSignIn::Throttled(wait));
    }
    let person = match Handle::parse(&body.handle) {
        Ok(handle) => match state.store.person_by_handle(&handle).await {
            Ok(person) => Some(person),
            Err(store::StoreError::PersonNotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => None,
    };
    let password_hash = match &person {
        Some(p) => state.store.password_hash(&p.id).await?,
        None => None,
    };
    // First factor: the password if the account has one (a dummy hash when
    // there is no such account, so both take as long), else a recovery code.
    let first_ok = match (password_hash, body.password.clone()) {
        (Some(hash), Some(password)) => {
            blocking(move || identity::verify_password(&password, &hash)).await?
        }
        (None, Some(password)) => {
            blocking(move || identity::dummy_verify(&password)).await?;
            false
        }
        (Some(_), None) => false,
        (None, None) => person.is_some() && body.recovery_code.is_some(),
    };
    let Some(person) = person.filter(|_| first_ok) else {
        record_failure(state, &keys).await?;
        return Ok(PasswordSignIn::Failed);
    };
    let passkeys = state.store.passkeys(&person.id).await?;
    let has_password = body.password.is_some();
    let needs_second = !passkeys.is_empty() || !has_password;
    if needs_second {
        match &body.recovery_code {
            Some(code) => {
                let used = match identity::normalise_recovery_code(code) {
                    Some(code) => {
                        state
                            .store
                            .use_recovery_code(&person.id, &code.hash())
                            .await?
                    }
                    None => false,
                };
                if !used {
                    record_failure(state, &keys).await?;
                    return Ok(PasswordSignIn::Failed);
                }
            }
            None => {
                let stored: Vec<_> = passkeys
                    .iter()
                    .map(|p| identity::StoredPasskey {
                        credential_id: p.credential_id.clone(),
                        passkey: p.passkey.clone(),
                    })
                    .collect();
                let ceremony = state
                    .passkeys
                    .start_with(&stored)
                    .map_err(|_| Problem::internal())?;
                let id = new_ceremony_id();
                state
                    .store
                    .save_ceremony(
                        &id,
                        PendingCeremony {
                            purpose: SIGN_IN.to_owned(),
                            person_id: Some(person.id.clone()),
                            handle: None,
                            state: ceremony.state,
                        },
                    )
                    .await?;
                return Ok(PasswordSignIn::PasskeyRequired(PasskeyCeremony {
                    ceremony_id: id,
                    options: ceremony.challenge,
                }));
            }
        }
    }
    state.store.clear_throttle(&keys[0]).await?;
    let token = identity::new_session_token();
    let expires_at = state
        .store
        .create_session(&person.id, &identity::hash_secret(&token))
        .await?;
    Ok(PasswordSignIn::SignedIn {
        person,
        token,
        expires_at,
    })
}

/// Starts a passkey sign-in: with a handle, for that person's passkeys;
/// without, for any discoverable passkey. An unknown handle gets a
/// challenge too, so the answer does not tell who has an account.
#[utoipa::path(
    tag = "people",
    request_body = StartPasskeySignIn,
    responses((status = 200, description = "The challenge", body = PasskeyCeremony))
)]
#[post("/v1/session/passkey")]
pub async fn start_passkey_sign_in(
    state: web::Data<AppState>,
    body: Option<web::Json<StartPasskeySignIn>>,
) -> Result<HttpResponse, Problem> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let known = match body.handle.as_deref().map(Handle::parse) {
        Some(Ok(handle)) => match state.store.person_by_handle(&handle).await {
            Ok(person) => Some(person),
            Err(store::StoreError::PersonNotFound) => None,
            Err(e) => return Err(e.into()),
        },
        _ => None,
    };
    let stored = match &known {
        Some(person) => state
            .store
            .passkeys(&person.id)
            .await?
            .into_iter()
            .map(|p| identity::StoredPasskey {
                credential_id: p.credential_id,
                passkey: p.passkey,
            })
            .collect(),
        None => Vec::new(),
    };
    let ceremony = if stored.is_empty() {
        state.passkeys.start_discoverable()
    } else {
        state.passkeys.start_with(&stored)
    }
    .map_err(|_| Problem::internal())?;
    let id = new_ceremony_id();
    state
        .store
        .save_ceremony(
            &id,
            PendingCeremony {
                purpose: SIGN_IN.to_owned(),
                person_id: known.map(|p| p.id),
                handle: None,
                state: ceremony.state,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyCeremony {
        ceremony_id: id,
        options: ceremony.challenge,
    }))
}

/// Finishes a passkey sign-in (alone, or as the second step after a
/// password).
#[utoipa::path(
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
    let body = body.into_inner();
    let ceremony = state
        .store
        .take_ceremony(&body.ceremony_id, SIGN_IN)
        .await?
        .ok_or_else(ceremony_expired)?;
    let (credential_id, _) = state
        .passkeys
        .identify(&body.credential)
        .map_err(passkey_rejected)?;
    let stored = match state.store.passkey(&credential_id).await {
        Ok(stored) => stored,
        Err(store::StoreError::PasskeyNotFound) => {
            return Err(passkey_rejected(identity::PasskeyError::Rejected(
                "this passkey is not registered here (removed, or from another site)".to_owned(),
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if ceremony
        .person_id
        .as_ref()
        .is_some_and(|p| *p != stored.person_id)
    {
        return Err(passkey_rejected(identity::PasskeyError::WrongUser));
    }
    let owner = stored.person_id.as_uuid().ok_or_else(Problem::internal)?;
    let signed_in = state
        .passkeys
        .finish_sign_in(
            &ceremony.state,
            &body.credential,
            &identity::StoredPasskey {
                credential_id: stored.credential_id.clone(),
                passkey: stored.passkey.clone(),
            },
            owner,
        )
        .map_err(passkey_rejected)?;
    state
        .store
        .passkey_used(&signed_in.credential_id, signed_in.updated_passkey)
        .await?;
    let person = state.store.person(&stored.person_id).await?;
    state
        .store
        .clear_throttle(&format!("handle:{}", person.handle))
        .await?;
    start_session(&state, &person, StatusCode::OK, None, None).await
}

/// Signs out of this session.
#[utoipa::path(tag = "people", responses((status = 204, description = "Signed out")))]
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
        .cookie(auth::cleared_session_cookie(is_https(&state)))
        .finish())
}

/// Signs out of every session of this person, everywhere.
#[utoipa::path(tag = "people", responses((status = 204, description = "Every session ended")))]
#[delete("/v1/me/sessions")]
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    state.store.delete_sessions(&who.person).await?;
    Ok(HttpResponse::NoContent()
        .cookie(auth::cleared_session_cookie(is_https(&state)))
        .finish())
}

/// Starts adding a passkey to the signed-in person.
#[utoipa::path(
    tag = "people",
    responses((status = 200, description = "The challenge", body = PasskeyCeremony))
)]
#[post("/v1/me/passkeys")]
pub async fn start_add_passkey(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let person = state.store.person(&who.person).await?;
    let existing: Vec<_> = state
        .store
        .passkeys(&person.id)
        .await?
        .into_iter()
        .map(|p| identity::StoredPasskey {
            credential_id: p.credential_id,
            passkey: p.passkey,
        })
        .collect();
    let user = person.id.as_uuid().ok_or_else(Problem::internal)?;
    let ceremony = state
        .passkeys
        .start_registration(user, person.handle.as_str(), &existing)
        .map_err(|_| Problem::internal())?;
    let id = new_ceremony_id();
    state
        .store
        .save_ceremony(
            &id,
            PendingCeremony {
                purpose: ADD_PASSKEY.to_owned(),
                person_id: Some(person.id),
                handle: None,
                state: ceremony.state,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyCeremony {
        ceremony_id: id,
        options: ceremony.challenge,
    }))
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
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

/// Finishes adding a passkey.
#[utoipa::path(
    tag = "people",
    request_body = PasskeyAnswer,
    responses(
        (status = 201, description = "Added", body = PasskeyView),
        (status = 400, description = "Unknown, used or expired challenge", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The passkey failed verification", body = Problem, content_type = "application/problem+json"),
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
    let ceremony = state
        .store
        .take_ceremony(&body.ceremony_id, ADD_PASSKEY)
        .await?
        .filter(|c| c.person_id.as_ref() == Some(&who.person))
        .ok_or_else(ceremony_expired)?;
    let passkey = state
        .passkeys
        .finish_registration(&ceremony.state, &body.credential)
        .map_err(passkey_rejected)?;
    let row = state
        .store
        .add_passkey(
            &who.person,
            NewPasskeyRow {
                credential_id: passkey.credential_id,
                name,
                passkey: passkey.passkey,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(PasskeyView::from(row)))
}

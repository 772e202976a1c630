//! Sign-up, sign-in, recovery and sign-out pages. The passkey buttons are
//! driven by `/static/passkey.js` against the JSON API; the password and
//! recovery-code forms work without script and call the same sign-in and
//! sign-up logic as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use broker::BrokerError;
use broker::sign_in::{self as sign_in_case, Credentials, SignInOutcome};
use serde::Deserialize;
use store::Handle;

use super::return_to::{self, landing};
use super::{Fields, PageError, SignedInForm, html, see_other};
use crate::auth;
use crate::problem::Problem;
use crate::startup::AppState;

/// A status slug in a page's query string, mapped to a fixed message (no
/// text from the URL reaches the page).
#[derive(Deserialize, Default)]
pub struct StatusQuery {
    /// The slug.
    pub status: Option<String>,
    /// A handle to fill in.
    pub handle: Option<String>,
    /// Where to go after signing in (checked by [`return_to::safe_next`]).
    pub next: Option<String>,
}

/// An input that was not accepted, and why.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// The field's name.
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// The error for `field`.
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The problem as an error next to its field (or `fallback`).
    pub fn from_problem(problem: &Problem, fallback: &str) -> FieldError {
        FieldError::new(
            problem.field.as_deref().unwrap_or(fallback),
            problem.detail.clone(),
        )
    }
}

/// Whether `error` is about `field`; for the templates.
fn error_for<'a>(error: &'a Option<FieldError>, field: &str) -> Option<&'a str> {
    error
        .as_ref()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
}

/// The sign-up page.
#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    handle: String,
    error: Option<FieldError>,
}

impl SignupPage {
    fn err(&self, field: &str) -> Option<&str> {
        error_for(&self.error, field)
    }
}

/// The recovery codes, shown once after a password sign-up.
#[derive(Template)]
#[template(path = "codes.html")]
struct CodesPage {
    handle: String,
    codes: Vec<String>,
}

/// Sign up: with a passkey (script) or a password (form).
#[get("/signup")]
pub async fn signup_page() -> Result<HttpResponse, PageError> {
    html(
        StatusCode::OK,
        &SignupPage {
            handle: String::new(),
            error: None,
        },
    )
}

/// Sign up with a handle and a password, without script.
#[post("/signup")]
pub async fn signup_with_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    same_origin(&req, &state)?;
    let fields = Fields::parse(&body);
    let typed = fields.get("handle").unwrap_or_default();
    let (handle, password) = match signup_form(typed, fields.get("password")) {
        Ok(parsed) => parsed,
        Err(error) => return signup_again(typed, StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    let client = state.client_address(&req);
    let accounts = state.accounts();
    match broker::sign_up::with_password(accounts, client, handle, password).await {
        Ok(new) => codes(&state, new),
        Err(error) => signup_refused(typed, error),
    }
}

/// The handle and password of the sign-up form, or the field at fault.
fn signup_form(
    handle: &str,
    password: Option<&str>,
) -> Result<(Handle, identity::Password), FieldError> {
    let handle = Handle::parse(handle).map_err(|e| FieldError::new("handle", e.to_string()))?;
    let password = password
        .ok_or_else(|| FieldError::new("password", "choose a password of 8 to 128 characters"))?;
    let password = crate::auth::parse_password(password)
        .map_err(|problem| FieldError::from_problem(&problem, "password"))?;
    Ok((handle, password))
}

/// The sign-up page again, with what was typed and the error.
fn signup_again(
    handle: &str,
    status: StatusCode,
    error: FieldError,
) -> Result<HttpResponse, PageError> {
    let page = SignupPage {
        handle: handle.to_owned(),
        error: Some(error),
    };
    html(status, &page)
}

/// The new account's recovery codes, shown once, and its session.
fn codes(state: &AppState, new: broker::sign_up::SignedUp) -> Result<HttpResponse, PageError> {
    let page = CodesPage {
        handle: new.session.person.handle.to_string(),
        codes: new.recovery_codes,
    };
    let mut response = html(StatusCode::CREATED, &page)?;
    response
        .add_cookie(&auth::session_cookie(&new.session.token, state.is_https()))
        .map_err(|_| Problem::internal())?;
    Ok(response)
}

/// A sign-up the broker refused: a wait, or an error next to its field.
fn signup_refused(handle: &str, error: BrokerError) -> Result<HttpResponse, PageError> {
    if let Some((status, secs)) = wait(&error) {
        let error = FieldError::new("handle", wait_message(status, secs));
        return with_retry_after(signup_again(handle, status, error), secs);
    }
    let problem = Problem::from(error);
    if problem.field.is_none() {
        return Err(problem.into());
    }
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    signup_again(handle, status, FieldError::from_problem(&problem, "handle"))
}

/// The status and seconds of a refusal that asks to come back later.
fn wait(error: &BrokerError) -> Option<(StatusCode, i64)> {
    match error {
        BrokerError::Throttled { retry_after_secs } => {
            Some((StatusCode::TOO_MANY_REQUESTS, *retry_after_secs))
        }
        BrokerError::Busy { retry_after_secs } => {
            Some((StatusCode::SERVICE_UNAVAILABLE, *retry_after_secs))
        }
        _ => None,
    }
}

/// The page with a `Retry-After` header.
fn with_retry_after(
    page: Result<HttpResponse, PageError>,
    secs: i64,
) -> Result<HttpResponse, PageError> {
    let mut page = page?;
    page.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(secs.max(1)),
    );
    Ok(page)
}

/// The second step of a password sign-in: the account's passkey.
struct SecondStep {
    ceremony_id: String,
    options: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    handle: String,
    /// Where to go after signing in, already checked; empty for the dashboard.
    next: String,
    status: Option<&'static str>,
    error: Option<String>,
    second: Option<SecondStep>,
}

fn signin_status(slug: Option<&str>) -> Option<&'static str> {
    match slug? {
        "signed-out" => Some("You are signed out."),
        "signed-out-everywhere" => Some("You are signed out on every device."),
        "erased" => Some(
            "Your account is erased: your values and your data key are destroyed, every company's access is ended. The public log keeps only your pseudonym, names and amounts.",
        ),
        _ => None,
    }
}

/// Sign in: with a passkey (script) or a handle and password (form).
#[get("/signin")]
pub async fn signin_page(query: web::Query<StatusQuery>) -> Result<HttpResponse, PageError> {
    html(
        StatusCode::OK,
        &SigninPage {
            handle: query.handle.clone().unwrap_or_default(),
            next: checked_next(query.next.as_deref()),
            status: signin_status(query.status.as_deref()),
            error: None,
            second: None,
        },
    )
}

/// `next` when it is a safe path on this server, or empty.
fn checked_next(next: Option<&str>) -> String {
    next.and_then(return_to::safe_next)
        .unwrap_or_default()
        .to_owned()
}

/// A signed-in response: the session cookie and a redirect to `location`.
fn signed_in(state: &AppState, token: &str, location: &str) -> Result<HttpResponse, PageError> {
    let mut response = see_other(location);
    response
        .add_cookie(&auth::session_cookie(token, state.is_https()))
        .map_err(|_| Problem::internal())?;
    Ok(response)
}

fn wait_message(status: StatusCode, wait_secs: i64) -> String {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        format!("The server is busy. Wait {wait_secs} seconds, then try again.")
    } else {
        format!("Too many attempts. Wait {wait_secs} seconds, then try again.")
    }
}

/// Sign in with a handle and password; an account with a passkey goes on
/// to the passkey step.
#[post("/signin")]
pub async fn signin_with_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    same_origin(&req, &state)?;
    let fields = Fields::parse(&body);
    let form = SigninForm {
        handle: fields.get("handle").unwrap_or_default().to_owned(),
        next: checked_next(fields.get("next")),
    };
    let Some(password) = fields.get("password") else {
        let error = "Type your password, or sign in with a passkey.";
        return form.again(StatusCode::UNPROCESSABLE_ENTITY, error.to_owned());
    };
    let typed = Credentials {
        handle: &form.handle,
        password: Some(password),
        recovery_code: None,
    };
    let client = state.client_address(&req);
    let outcome = sign_in_case::with_password(state.accounts(), client, typed).await;
    match outcome {
        Ok(SignInOutcome::SignedIn(new)) => {
            signed_in(&state, &new.token, landing(Some(form.next.as_str())))
        }
        Ok(SignInOutcome::PasskeyRequired(ceremony)) => form.second_step(ceremony),
        Ok(SignInOutcome::Failed) => form.again(
            StatusCode::UNAUTHORIZED,
            "The handle or password is wrong.".to_owned(),
        ),
        Err(error) => match wait(&error) {
            Some((status, secs)) => {
                with_retry_after(form.again(status, wait_message(status, secs)), secs)
            }
            None if matches!(error, BrokerError::Suspended) => {
                form.again(StatusCode::FORBIDDEN, error.to_string())
            }
            None => Err(Problem::from(error).into()),
        },
    }
}

/// What the sign-in form keeps when it is shown again.
struct SigninForm {
    handle: String,
    next: String,
}

impl SigninForm {
    fn page(&self, error: Option<String>, second: Option<SecondStep>) -> SigninPage {
        SigninPage {
            handle: self.handle.clone(),
            next: self.next.clone(),
            status: None,
            error,
            second,
        }
    }

    /// The form again, with the error.
    fn again(&self, status: StatusCode, error: String) -> Result<HttpResponse, PageError> {
        html(status, &self.page(Some(error), None))
    }

    /// The passkey step of an account that has one.
    fn second_step(
        &self,
        ceremony: broker::sign_in::PasskeyChallenge,
    ) -> Result<HttpResponse, PageError> {
        let options = serde_json::to_string(&ceremony.options).map_err(|_| Problem::internal())?;
        let second = SecondStep {
            ceremony_id: ceremony.ceremony_id,
            options,
        };
        html(StatusCode::OK, &self.page(None, Some(second)))
    }
}

/// The recovery page.
#[derive(Template)]
#[template(path = "recover.html")]
struct RecoverPage {
    handle: String,
    error: Option<String>,
}

/// Sign in with a one-time recovery code, when the passkey is lost.
#[get("/recover")]
pub async fn recover_page(query: web::Query<StatusQuery>) -> Result<HttpResponse, PageError> {
    html(
        StatusCode::OK,
        &RecoverPage {
            handle: query.handle.clone().unwrap_or_default(),
            error: None,
        },
    )
}

/// Signs in with a handle, a recovery code and (if the account has one) the
/// password; then the dashboard asks for a new passkey.
#[post("/recover")]
pub async fn recover(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    same_origin(&req, &state)?;
    let fields = Fields::parse(&body);
    let handle = fields.get("handle").unwrap_or_default();
    let Some(code) = fields.get("recovery_code") else {
        let error = "Type one of your recovery codes.".to_owned();
        return recover_again(handle, StatusCode::UNPROCESSABLE_ENTITY, error);
    };
    let typed = Credentials {
        handle,
        password: fields.get("password"),
        recovery_code: Some(code),
    };
    let client = state.client_address(&req);
    let outcome = sign_in_case::with_password(state.accounts(), client, typed).await;
    match outcome {
        Ok(SignInOutcome::SignedIn(new)) => {
            signed_in(&state, &new.token, "/dashboard?status=recovered#passkeys")
        }
        Ok(SignInOutcome::PasskeyRequired(_) | SignInOutcome::Failed) => recover_again(
            handle,
            StatusCode::UNAUTHORIZED,
            "The handle, recovery code or password is wrong.".to_owned(),
        ),
        Err(error) => match wait(&error) {
            Some((status, secs)) => with_retry_after(
                recover_again(handle, status, wait_message(status, secs)),
                secs,
            ),
            None => Err(Problem::from(error).into()),
        },
    }
}

/// The recovery page again, with what was typed and the error.
fn recover_again(
    handle: &str,
    status: StatusCode,
    error: String,
) -> Result<HttpResponse, PageError> {
    let page = RecoverPage {
        handle: handle.to_owned(),
        error: Some(error),
    };
    html(status, &page)
}

/// Signs out of this session.
#[post("/signout")]
pub async fn sign_out(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    state
        .store
        .delete_session(&identity::hash_secret(&form.who.session_token))
        .await?;
    signed_out(&state, "/signin?status=signed-out")
}

/// Signs out of every session of this person.
#[post("/signout/everywhere")]
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    state.store.delete_sessions(&form.who.person).await?;
    signed_out(&state, "/signin?status=signed-out-everywhere")
}

/// Signs out of every session of this person but this one.
#[post("/signout/others")]
pub async fn sign_out_others(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let who = broker::ways_in::SignedIn {
        person: &form.who.person,
        session_token: &form.who.session_token,
    };
    broker::ways_in::end_other_sessions(&state.store, who)
        .await
        .map_err(Problem::from)?;
    Ok(see_other(
        "/dashboard?status=signed-out-others#sessions-heading",
    ))
}

/// Erases the person's account (the dashboard's last form): the same use
/// case as `DELETE /v1/me`. A refusal (the handle mistyped, a sign-in too
/// old, earnings not waived, a payout on its way) comes back next to the
/// form.
#[post("/account/erase")]
pub async fn erase_account(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let signed_in = broker::ways_in::SignedIn {
        person: &who.person,
        session_token: &who.session_token,
    };
    let confirmation = broker::erase::Confirmation {
        handle: fields.get("confirm").unwrap_or_default(),
        waive_earnings: fields.get("waive_earnings") == Some("on"),
    };
    match broker::erase::erase(&state.store, signed_in, confirmation).await {
        Ok(erasure) => {
            tracing::info!(pseudonym = %erasure.pseudonym, "a person erased their account");
            signed_out(&state, "/signin?status=erased")
        }
        Err(e) => {
            // Shown next to the handle unless it is about the waiver (a
            // payout's currency or a sign-in's age have no field here).
            let mut problem = Problem::from(e);
            if problem.field.as_deref() != Some("waive_earnings") {
                problem.field = None;
            }
            super::dashboard::refused(&state, &who, "erase", "confirm", problem).await
        }
    }
}

fn signed_out(state: &AppState, location: &str) -> Result<HttpResponse, PageError> {
    let mut response = see_other(location);
    response
        .add_cookie(&auth::cleared_session_cookie(state.is_https()))
        .map_err(|_| Problem::internal())?;
    Ok(response)
}

/// Refuses a sign-up or sign-in form posted from another site (login CSRF:
/// signing a victim into the attacker's account). These forms come before
/// any session, so there is no session token to check; browsers send
/// `Origin` on every form POST, and it must be this server's.
fn same_origin(req: &HttpRequest, state: &AppState) -> Result<(), PageError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(());
    };
    let ours = state.public_url.origin().ascii_serialization();
    if origin.to_str().ok() == Some(ours.as_str()) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

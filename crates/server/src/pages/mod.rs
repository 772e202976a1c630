//! The person's web pages, rendered on the server: the front page, sign-up,
//! sign-in, recovery and the dashboard. Script is used only for the WebAuthn
//! calls (`/static/passkey.js`); every other action is a plain form.
//!
//! Every state-changing form of a signed-in person is a POST carrying the
//! session's CSRF token in a hidden `csrf_token` field; [`SignedInForm`]
//! refuses (403) a POST without it, before the handler runs.

pub mod account;
pub mod activity;
pub mod assets;
pub mod consent;
pub mod dashboard;
pub mod earnings;
pub mod grants;
pub mod home;
pub mod inbox;
pub mod logout;
pub mod messages;
pub mod notifications;
pub mod problems;
pub mod receipts;
pub mod return_to;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use askama::Template;
use store::PersonId;

use crate::auth::{self, Via};
use crate::problem::Problem;
use crate::startup::AppState;

/// The Content-Security-Policy of every page: nothing but this server's own
/// scripts, styles and images, no inline script, no framing.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                            img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                            form-action 'self'; frame-ancestors 'none'";

/// The name of the hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The largest form body a page accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Registers every page and the static files.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(assets::asset)
        .service(account::signup_page)
        .service(account::signup_with_password)
        .service(account::signin_page)
        .service(account::signin_with_password)
        .service(account::recover_page)
        .service(account::recover)
        .service(account::sign_out)
        .service(account::sign_out_everywhere)
        .service(account::sign_out_others)
        .service(account::erase_account);
    config
        .service(consent::authorize)
        .service(consent::answer)
        .service(logout::end_session);
    config.service(earnings::earnings);
    config.service(earnings::request_payout);
    config
        .service(inbox::inbox)
        .service(inbox::approve)
        .service(inbox::decline)
        .service(inbox::counter);
    config.service(grants::grants).service(grants::revoke);
    config
        .service(receipts::receipts_page)
        .service(receipts::receipt_page);
    config.service(activity::activity);
    config.service(messages::messages);
    config.service(problems::problems);
    config
        .service(notifications::notifications)
        .service(notifications::set_address)
        .service(notifications::set_choices)
        .service(notifications::verify_page)
        .service(notifications::verify);
    dashboard::configure(config);
}

/// A rendered page as a response with `status`.
pub fn html(status: StatusCode, page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "rendering a page");
        PageError::Failed(Problem::internal())
    })?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// A 303 redirect to `location` (after a form POST).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page, and back to this path (a
    /// page opened with GET) afterwards.
    SignInFirst(Option<String>),
    /// A form without the session's CSRF token.
    Csrf,
    /// Anything else, as a problem (status and words).
    Failed(Problem),
}

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        PageError::Failed(problem)
    }
}

impl From<store::StoreError> for PageError {
    fn from(error: store::StoreError) -> Self {
        PageError::Failed(error.into())
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SignInFirst(_) => f.write_str("not signed in"),
            PageError::Csrf => f.write_str("missing or wrong CSRF token"),
            PageError::Failed(problem) => write!(f, "{problem}"),
        }
    }
}

/// A page that says what went wrong.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignInFirst(_) => StatusCode::SEE_OTHER,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Failed(problem) => problem.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, detail) = match self {
            PageError::SignInFirst(next) => {
                return see_other(&return_to::signin_url(next.as_deref()));
            }
            PageError::Csrf => (
                "This form was refused",
                "It did not carry this session's security token, so nothing was changed. \
                 Go back to your dashboard, reload it, and try again.",
            ),
            PageError::Failed(problem) => (problem.title.as_str(), problem.detail.as_str()),
        };
        let page = ErrorPage { title, detail };
        match html(self.status_code(), &page) {
            Ok(response) => response,
            Err(_) => HttpResponse::build(self.status_code())
                .content_type("text/plain; charset=utf-8")
                .body(format!("{title}: {detail}")),
        }
    }
}

/// A signed-in person on a page: the session cookie named a live session.
/// Without one, the page redirects to `/signin` (not the API's JSON 401).
#[derive(Clone, Debug)]
pub struct PageSession {
    /// Who.
    pub person: PersonId,
    /// The session token from the cookie.
    pub session_token: String,
}

impl PageSession {
    /// The CSRF token every form of this session carries.
    pub fn csrf_token(&self) -> String {
        identity::csrf_token(&self.session_token)
    }

    /// The hash the session is stored under.
    pub fn session_hash(&self) -> String {
        identity::hash_secret(&self.session_token)
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(PageError::Failed(Problem::internal()))
}

async fn page_session(req: &HttpRequest) -> Result<PageSession, PageError> {
    let state = app_state(req)?;
    // A page opened (GET) while signed out is where sign-in comes back to;
    // a form POST is not replayed, so it goes to plain sign-in.
    let sign_in_first = || {
        let here = (req.method() == actix_web::http::Method::GET)
            .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
            .flatten()
            .filter(|p| return_to::safe_next(p).is_some());
        PageError::SignInFirst(here)
    };
    let Some((token, Via::Cookie)) = auth::presented_token(req) else {
        return Err(sign_in_first());
    };
    let person = state
        .store
        .session_person(&identity::hash_secret(&token))
        .await?
        .ok_or_else(sign_in_first)?;
    Ok(PageSession {
        person,
        session_token: token,
    })
}

/// The signed-in person, or `None` when signed out (the OAuth
/// authorization endpoint decides itself what a signed-out visit means:
/// sign in, or `login_required` for `prompt=none`).
pub async fn optional_page_session(req: &HttpRequest) -> Result<Option<PageSession>, PageError> {
    match page_session(req).await {
        Ok(who) => Ok(Some(who)),
        Err(PageError::SignInFirst(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

impl FromRequest for PageSession {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { page_session(&req).await })
    }
}

/// The site navigation on a signed-in person's pages (`nav.html`): the
/// pages, how many requests wait in the inbox, and the sign-out form.
pub struct Nav {
    /// The CSRF token of the sign-out form.
    pub csrf: String,
    /// Requests waiting for the person's answer.
    pub pending: u64,
    /// The page shown (`dashboard`, `inbox`, `grants`, `earnings`), marked
    /// `aria-current`.
    pub current: &'static str,
}

impl Nav {
    /// The navigation of `who` on the page `current`.
    pub async fn load(
        state: &AppState,
        who: &PageSession,
        current: &'static str,
    ) -> Result<Nav, PageError> {
        Ok(Nav {
            csrf: who.csrf_token(),
            pending: state.store.pending_request_count(&who.person).await?,
            current,
        })
    }
}

/// A person-facing date and time, to the minute, in UTC.
pub fn time_words(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&format).unwrap_or_default()
}

/// A date and time for a `<time datetime>` attribute (RFC 3339).
pub fn time_iso(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The fields of a submitted form, in order; a name may repeat
/// (checkboxes).
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// A form POSTed by a signed-in person, its CSRF token checked: the
/// `csrf_token` field must equal the session's token, or the request is
/// refused with 403 before any handler runs.
pub struct SignedInForm {
    /// Who sent it.
    pub who: PageSession,
    /// What it holds.
    pub fields: Fields,
}

impl FromRequest for SignedInForm {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let who = page_session(&req).await?;
            let body = body
                .await
                .map_err(|e| PageError::Failed(Problem::malformed(e.to_string())))?;
            if body.len() > MAX_FORM_BYTES {
                return Err(PageError::Failed(Problem::malformed(
                    "the form is too large",
                )));
            }
            let fields = Fields::parse(&body);
            let presented = fields.get(CSRF_FIELD).unwrap_or_default();
            if !identity::csrf_token_matches(&who.session_token, presented) {
                return Err(PageError::Csrf);
            }
            Ok(SignedInForm { who, fields })
        })
    }
}

/// The signed-in person's handle, if the request carries a live session
/// (for the front page's links).
pub async fn signed_in_handle(req: &HttpRequest) -> Option<String> {
    let who = page_session(req).await.ok()?;
    let state = app_state(req).ok()?;
    state
        .store
        .person(&who.person)
        .await
        .ok()
        .map(|p| p.handle.to_string())
}

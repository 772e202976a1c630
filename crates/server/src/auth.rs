//! Who is calling: a person's session, from the session cookie (pages and
//! browser scripts) or from `Authorization: Bearer <session token>`
//! (scripts). A cookie-authenticated call that changes anything must carry
//! the session's CSRF token in `X-CSRF-Token`; a bearer token needs none,
//! because a browser never attaches it on its own.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use store::PersonId;

use crate::problem::Problem;
use crate::startup::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "apiome_session";
/// The header that carries the CSRF token on cookie-authenticated calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the session token arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The session cookie.
    Cookie,
    /// `Authorization: Bearer`.
    Bearer,
}

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who.
    pub person: PersonId,
    /// The session token as presented (to sign out, derive CSRF tokens).
    pub session_token: String,
    /// How it arrived.
    pub via: Via,
}

/// 401: no live session.
pub fn unauthenticated() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Not signed in",
        "sign in first: send the session cookie or Authorization: Bearer <session token>",
    )
}

/// 403: a cookie-authenticated change without the session's CSRF token.
pub fn csrf_failed() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "Missing or wrong CSRF token",
        "a change made with the session cookie must carry the session's CSRF token in the X-CSRF-Token header",
    )
    .with_field(CSRF_HEADER)
}

/// The session token in the request and how it came, if any.
pub fn presented_token(req: &HttpRequest) -> Option<(String, Via)> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())?;
        return Some((token.to_owned(), Via::Bearer));
    }
    req.cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| (t, Via::Cookie))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequest for Authenticated {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(Problem::internal)?;
            let (token, via) = presented_token(&req).ok_or_else(unauthenticated)?;
            let person = state
                .store
                .session_person(&identity::hash_secret(&token))
                .await?
                .ok_or_else(unauthenticated)?;
            if via == Via::Cookie && !is_safe(req.method()) {
                let presented = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !identity::csrf_token_matches(&token, presented) {
                    return Err(csrf_failed());
                }
            }
            Ok(Authenticated {
                person,
                session_token: token,
                via,
            })
        })
    }
}

/// The session cookie: `HttpOnly`, `SameSite=Lax`, `Secure` when the
/// public URL is https, living as long as the session's absolute limit.
pub fn session_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(CookieDuration::seconds(
            store::SESSION_ABSOLUTE.whole_seconds(),
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", secure);
    cookie.make_removal();
    cookie
}

/// A password as typed, checked for its length and characters.
pub(crate) fn parse_password(text: &str) -> Result<identity::Password, Problem> {
    identity::Password::parse(text).map_err(|e| Problem::invalid("password", e.to_string()))
}

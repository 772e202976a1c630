//! OpenID Connect RP-initiated logout: `GET /oauth/logout` with the
//! company's `id_token_hint` (required), optional `client_id`,
//! `post_logout_redirect_uri` (registered, exact match) and `state`. The
//! rules live in `broker::oidc`; this page parses and answers: a redirect
//! to the company, or to the sign-in page, with the session cookie cleared
//! when the session ended. A refused request is an error page, never a
//! redirect.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use authz::Params;
use broker::oidc::{EndSession, Session};

use crate::auth;
use crate::oauth_keys::unix_now;
use crate::pages::{PageError, PageSession, optional_page_session, see_other};
use crate::problem::Problem;
use crate::startup::AppState;

/// RP-initiated logout (OpenID RP-Initiated Logout 1.0).
#[get("/oauth/logout")]
pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = Params::from_form(req.query_string()).map_err(|e| refused(&e))?;
    let get = |name: &str| params.get(name).map_err(|e| refused(&e));
    let ask = EndSession {
        id_token_hint: get("id_token_hint")?,
        client_id: get("client_id")?,
        post_logout_redirect_uri: get("post_logout_redirect_uri")?,
        state: get("state")?,
    };
    if let Some(hint) = ask.id_token_hint {
        state.oauth.refresh_for_id_token(hint).await;
    }
    let who = optional_page_session(&req).await?;
    let hash = who.as_ref().map(PageSession::session_hash);
    let session = who.as_ref().zip(hash.as_deref()).map(|(w, h)| Session {
        person: &w.person,
        session_hash: h,
    });
    let done = broker::oidc::end_session(&state.store, &*state.oauth, session, ask, unix_now())
        .await
        .map_err(|e| match e {
            broker::BrokerError::OAuth(e) => refused(&e),
            other => PageError::Failed(Problem::from(other)),
        })?;
    let mut response = see_other(
        done.redirect
            .as_deref()
            .unwrap_or("/signin?status=signed-out"),
    );
    if done.ended {
        response
            .add_cookie(&auth::cleared_session_cookie(state.is_https()))
            .map_err(|_| Problem::internal())?;
    }
    Ok(response)
}

fn refused(error: &authz::OAuthError) -> PageError {
    PageError::Failed(Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-logout-request",
        "This sign-out link is not valid",
        format!("{}: {}", error.code, error.description),
    ))
}

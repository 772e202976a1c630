//! The consent screen of the OAuth authorization endpoint: the company, the
//! purpose in plain words, the duration, the offer, and each attribute with
//! its bucket and the rule or default that applies. Attributes the policy
//! denies are shown as withheld and cannot be ticked; the person can untick
//! any other; approving records the request and its grant and sends the
//! company a single-use code.
//!
//! The screen is shown the first time a company asks, even when the policy
//! allows everything: the person sees who is asking and why. When the same
//! company asks again for what a live grant already covers (same purpose,
//! no attribute beyond it, ending no later), offers nothing, and the policy
//! still denies nothing asked, the answer is remembered: the request is
//! recorded and granted without the screen and the company gets its code
//! at once. A request with an offer always shows the screen: its money
//! moves only on the person's POST (session and CSRF token), never on a
//! GET that any page can cause. The decisions live in `broker::authorize`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use authz::{AuthorizationRequest, OAuthError, Params, RequestUri};
use broker::BrokerError;
use broker::authorize::{Answer, Answered, Opened, Visitor};
use consent_policy::{AttributeKey, Outcome};

use crate::pages::{
    PageError, PageSession, SignedInForm, html, optional_page_session, return_to, see_other,
};
use crate::problem::Problem;
use crate::startup::AppState;

/// How long a consent screen stays answerable.
const CONSENT_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// One attribute asked for, as the consent screen and the inbox show it:
/// its bucket, the reason for the policy's outcome, and whether it can be
/// ticked (never when the policy denies it).
pub(super) struct Item {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) bucket: String,
    pub(super) reason: String,
    pub(super) grantable: bool,
}

impl Item {
    /// The attribute of one line of a decision.
    pub(super) fn of(d: &consent_policy::AttributeDecision) -> Item {
        Item {
            key: d.key.to_string(),
            label: d.key.label().to_owned(),
            bucket: d.bucket.to_string().replace('_', "-"),
            reason: d.reason.explain(),
            grantable: d.outcome != Outcome::Deny,
        }
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    id: String,
    csrf_token: String,
    company: String,
    purpose: String,
    duration: String,
    offer: String,
    items: Vec<Item>,
    any_grantable: bool,
}

fn now_unix() -> authz::UnixTime {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp();
    authz::UnixTime::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// An error that must not go back to the client (unknown client, bad
/// redirect URI): shown to the person instead.
fn local(error: &OAuthError) -> PageError {
    PageError::Failed(Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-authorization-request",
        "This sign-in link is not valid",
        format!("{}: {}", error.code, error.description),
    ))
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// The authorization endpoint (RFC 6749 §4.1.1, with PKCE S256, RAR,
/// PAR and OpenID Connect): checks the request and shows the person the
/// consent screen, or answers at once from a remembered consent (never for
/// an offer; see `broker::authorize`). Signed out, or signed in too long
/// ago for `prompt=login`/`max_age`, the person signs in first and comes
/// back to `?resume=<id>`; with `prompt=none` the company gets
/// `login_required` instead.
#[get("/oauth/authorize")]
pub async fn authorize(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let who = optional_page_session(&req).await?;
    let hash = who.as_ref().map(PageSession::session_hash);
    let visitor = who.as_ref().zip(hash.as_deref()).map(|(w, h)| Visitor {
        person: &w.person,
        session_hash: h,
    });
    let (request, opened) = if let Some(resume) = resume_id(req.query_string()) {
        let visitor = visitor.ok_or_else(|| PageError::SignInFirst(here(&req)))?;
        broker::authorize::resume(&state.store, visitor, &resume, CONSENT_TTL).await
    } else {
        let request = match requested(&state, req.query_string()).await? {
            Ok(request) => request,
            Err(redirect) => return Ok(redirect),
        };
        broker::authorize::open(&state.store, visitor, request.clone(), CONSENT_TTL)
            .await
            .map(|opened| (request, opened))
    }
    .map_err(broker_error)?;
    render_opened(&state.oauth.issuer, who.as_ref(), &request, opened)
}

/// The page or redirect for an opened request.
fn render_opened(
    issuer: &str,
    who: Option<&PageSession>,
    request: &AuthorizationRequest,
    opened: Opened,
) -> Result<HttpResponse, PageError> {
    match (opened, who) {
        (Opened::Remembered(code), _) => Ok(redirect(&request.success_redirect(&code, issuer))),
        (Opened::Refused(error), _) => Ok(redirect(&request.error_redirect(&error, issuer))),
        (Opened::SignInFirst { resume, login_hint }, _) => {
            let next = format!("/oauth/authorize?resume={resume}");
            let mut url = return_to::signin_url(Some(&next));
            if let Some(hint) = login_hint {
                url.push_str("&handle=");
                url.extend(url::form_urlencoded::byte_serialize(hint.as_bytes()));
            }
            Ok(see_other(&url))
        }
        (
            Opened::Screen {
                id,
                decision,
                company_name,
            },
            Some(who),
        ) => html(
            StatusCode::OK,
            &screen(who, request, id, &decision, company_name),
        ),
        (Opened::Screen { .. }, None) => Err(PageError::Failed(Problem::internal())),
    }
}

/// The `resume` id of a request kept while the person signed in.
fn resume_id(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "resume")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// This page's path, to come back to after signing in.
fn here(req: &HttpRequest) -> Option<String> {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .filter(|p| return_to::safe_next(p).is_some())
}

/// The authorization request in the query: pushed (`request_uri`) or
/// sent in the front channel. A bad one is an error page, or (when the
/// client and redirect URI are good) a redirect back with the error.
async fn requested(
    state: &AppState,
    query: &str,
) -> Result<Result<AuthorizationRequest, HttpResponse>, PageError> {
    let params = Params::from_form(query).map_err(|e| local(&e))?;
    let client_id = authz::request::requested_client_id(&params).map_err(|e| local(&e))?;
    let client = state.store.client(&client_id).await?.ok_or_else(|| {
        local(&OAuthError::new(
            authz::ErrorCode::InvalidClient,
            "unknown client",
        ))
    })?;
    if let Some(uri) = RequestUri::from_params(&params).map_err(|e| local(&e))? {
        let pushed = state
            .store
            .redeem_par(&uri.hash(), &client_id, now_unix())
            .await?;
        return Ok(Ok(pushed.map_err(|e| local(&e))?));
    }
    match AuthorizationRequest::parse(&params, &client.record) {
        Ok(request) => Ok(Ok(request)),
        Err(error) => match error.redirect_url(&state.oauth.issuer) {
            Some(url) => Ok(Err(redirect(&url))),
            None => Err(local(&error.error)),
        },
    }
}

/// The consent screen for an opened request.
fn screen(
    who: &PageSession,
    request: &AuthorizationRequest,
    id: String,
    decision: &consent_policy::Decision,
    company: String,
) -> ConsentPage {
    let items: Vec<Item> = decision.attributes().iter().map(Item::of).collect();
    ConsentPage {
        csrf_token: who.csrf_token(),
        any_grantable: items.iter().any(|i| i.grantable),
        company,
        purpose: request.data_request.purpose().plain_words().to_owned(),
        duration: request.data_request.duration().in_words(),
        offer: request
            .data_request
            .offer()
            .map_or_else(|| "no payment".to_owned(), |m| m.to_string()),
        items,
        id,
    }
}

/// The page for a use case that did not happen.
fn broker_error(error: BrokerError) -> PageError {
    PageError::Failed(Problem::from(error))
}

/// The person's answer on the consent screen: approve the ticked
/// attributes (a grant and a single-use code for the company) or decline.
/// The offer, if any, is reserved and paid here and only here: a POST
/// carrying the person's session and CSRF token.
#[post("/oauth/authorize/{id}")]
pub async fn answer(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let answer = if form.fields.get("decision") == Some("approve") {
        Answer::ApproveOnly(
            form.fields
                .all("attribute")
                .into_iter()
                .filter_map(|k| AttributeKey::parse(k).ok())
                .collect(),
        )
    } else {
        Answer::Decline
    };
    let hash = form.who.session_hash();
    let visitor = Visitor {
        person: &form.who.person,
        session_hash: &hash,
    };
    let (request, answered) = broker::authorize::answer(&state.store, visitor, &id, answer)
        .await
        .map_err(broker_error)?;
    let issuer = &state.oauth.issuer;
    Ok(redirect(&match answered {
        Answered::Granted(code) => request.success_redirect(&code, issuer),
        Answered::Refused(error) => request.error_redirect(&error, issuer),
    }))
}

//! The notifications page: the person's address for notices (verified by
//! the link mailed to it), which kinds they get, and the daily digest;
//! and the page the verification link opens, whose button (a
//! CSRF-checked POST, so a mail scanner following the link changes
//! nothing) verifies it. Each form calls the same `broker::notifications`
//! function as `/v1/me/notifications`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use store::NoticeKind;

use super::account::StatusQuery;
use super::{Nav, PageError, PageSession, SignedInForm, html, see_other};
use crate::problem::Problem;
use crate::routes::notifications::{kinds_off, parse_address, verify_url};
use crate::startup::AppState;

/// One kind of notice on the page.
struct KindRow {
    name: &'static str,
    label: &'static str,
    on: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    nav: Nav,
    csrf: String,
    status: Option<&'static str>,
    address: Option<String>,
    verified: bool,
    kinds: Vec<KindRow>,
    digest: bool,
}

#[derive(Template)]
#[template(path = "notifications_verify.html")]
struct VerifyPage {
    nav: Nav,
    csrf: String,
    token: String,
}

fn status_message(slug: Option<&str>) -> Option<&'static str> {
    Some(match slug? {
        "address-set" => "Saved. We mailed a link to that address: open it to confirm.",
        "bad-address" => "That is not an email address; nothing was changed.",
        "verified" => "Your address is confirmed. Notices will come to it.",
        "bad-token" => {
            "That link is wrong, used or expired; nothing was changed. Save the address again for a new one."
        }
        "saved" => "Saved.",
        "no-address" => "Give an address first.",
        _ => return None,
    })
}

/// The person's notification settings.
#[get("/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let settings = broker::notifications::settings(&state.store, &who.person)
        .await
        .map_err(Problem::from)?;
    let off = settings
        .as_ref()
        .map(|s| s.kinds_off.clone())
        .unwrap_or_default();
    let page = NotificationsPage {
        nav: Nav::load(&state, &who, "notifications").await?,
        csrf: who.csrf_token(),
        status: status_message(query.status.as_deref()),
        address: settings.as_ref().map(|s| s.address.clone()),
        verified: settings.as_ref().is_some_and(|s| s.verified),
        kinds: NoticeKind::ALL
            .into_iter()
            .map(|k| KindRow {
                name: k.as_str(),
                label: k.label(),
                on: !off.contains(&k),
            })
            .collect(),
        digest: settings.as_ref().is_some_and(|s| s.digest),
    };
    html(StatusCode::OK, &page)
}

/// Sets the address and mails it a verification link.
#[post("/notifications/address")]
pub async fn set_address(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let Ok(address) = parse_address(form.fields.get("address").unwrap_or_default()) else {
        return Ok(see_other("/notifications?status=bad-address"));
    };
    broker::notifications::set_address(
        &state.store,
        &form.who.person,
        &address,
        &verify_url(&state),
    )
    .await
    .map_err(Problem::from)?;
    Ok(see_other("/notifications?status=address-set"))
}

/// Turns kinds on or off (a checked box is on) and chooses the digest.
#[post("/notifications/choices")]
pub async fn set_choices(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let checked = form.fields.all("kind");
    let changes = NoticeKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), checked.contains(&k.as_str())))
        .collect();
    let off = kinds_off(None, &changes)?;
    let digest = form.fields.get("digest").is_some();
    let saved = broker::notifications::set_choices(&state.store, &form.who.person, &off, digest)
        .await
        .map_err(Problem::from)?;
    Ok(see_other(match saved {
        Some(_) => "/notifications?status=saved",
        None => "/notifications?status=no-address",
    }))
}

/// The verification link's token.
#[derive(Deserialize)]
pub struct TokenQuery {
    /// The token.
    pub token: Option<String>,
}

/// Where the verification link lands: a button to confirm (GET changes
/// nothing).
#[get("/notifications/verify")]
pub async fn verify_page(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let page = VerifyPage {
        nav: Nav::load(&state, &who, "notifications").await?,
        csrf: who.csrf_token(),
        token: query.token.clone().unwrap_or_default(),
    };
    html(StatusCode::OK, &page)
}

/// Confirms the address with the link's token.
#[post("/notifications/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let token = form.fields.get("token").unwrap_or_default();
    let verified = broker::notifications::verify(&state.store, &form.who.person, token)
        .await
        .map_err(Problem::from)?;
    Ok(see_other(if verified {
        "/notifications?status=verified"
    } else {
        "/notifications?status=bad-token"
    }))
}

//! The grants page: who may read the signed-in person's data now (company,
//! attributes, purpose, granted and ending times, what it earned), each
//! with a CSRF-checked Revoke form, and the grants that ended (revoked or
//! expired). Revoking calls the same store function as
//! `DELETE /v1/me/grants/{id}`: the company's very next read is refused.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use broker::BrokerError;
use store::StoreError;

use super::account::StatusQuery;
use super::{
    Nav, PageError, PageSession, SignedInForm, html, see_other, time_iso as iso, time_words,
};
use crate::problem::Problem;
use crate::startup::AppState;

/// One grant on the page.
struct Row {
    id: String,
    company: String,
    attributes: String,
    purpose: String,
    granted: String,
    granted_iso: String,
    expires: String,
    expires_iso: String,
    ended: String,
    earned: String,
}

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage {
    nav: Nav,
    csrf: String,
    status: Option<&'static str>,
    live: Vec<Row>,
    past: Vec<Row>,
}

fn status_message(slug: Option<&str>) -> Option<&'static str> {
    Some(match slug? {
        "revoked" => "Revoked. The company's next read is refused.",
        "not-live" => "That grant had ended already.",
        _ => return None,
    })
}

/// The signed-in person's grants, live ones first, newest first.
#[get("/grants")]
pub async fn grants(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let now = time::OffsetDateTime::now_utc();
    let (live, past): (Vec<_>, Vec<_>) = broker::grants::list(&state.store, &who.person)
        .await
        .map_err(Problem::from)?
        .into_iter()
        .partition(|g| g.grant.is_live(now));
    let page = GrantsPage {
        nav: Nav::load(&state, &who, "grants").await?,
        csrf: who.csrf_token(),
        status: status_message(query.status.as_deref()),
        live: live.into_iter().map(row).collect(),
        past: past.into_iter().map(row).collect(),
    };
    html(StatusCode::OK, &page)
}

/// One grant as the page shows it.
fn row(named: broker::grants::NamedGrant) -> Row {
    let g = named.grant;
    let ended = match g.revoked_at {
        Some(at) => format!("revoked {}", time_words(at)),
        None => format!("expired {}", time_words(g.expires_at)),
    };
    Row {
        company: named.company_name,
        attributes: g
            .attributes
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(", "),
        purpose: g.purpose.plain_words().to_owned(),
        granted: time_words(g.created_at),
        granted_iso: iso(g.created_at),
        expires: time_words(g.expires_at),
        expires_iso: iso(g.expires_at),
        ended,
        // An approved offer is paid when the grant is made.
        earned: g
            .price
            .as_ref()
            .filter(|p| p.amount_micros() > 0)
            .map_or_else(|| "nothing (no offer)".to_owned(), ToString::to_string),
        id: g.id,
    }
}

/// Revokes one of the person's live grants.
#[post("/grants/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    match broker::grants::revoke(&state.store, &form.who.person, &id).await {
        Ok(_) => Ok(see_other("/grants?status=revoked")),
        Err(BrokerError::Store(StoreError::GrantNotLive(_))) => {
            Ok(see_other("/grants?status=not-live"))
        }
        Err(e) => Err(Problem::from(e).into()),
    }
}

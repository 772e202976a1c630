//! The messages page (`/messages`): what companies sent the signed-in
//! person through the contact relay, delivered or refused — by whom, what,
//! and why they said it was valuable — the same list as
//! `GET /v1/me/messages`. A relayed mail's "block this company" link lands
//! here with `?block=<company id>`: the page asks to confirm, and the
//! button posts to the dashboard's block form (a link alone never blocks).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use crate::pages::{Nav, PageError, PageSession, html, time_iso, time_words};
use crate::problem::Problem;
use crate::startup::AppState;

/// Messages on the page.
const LISTED: u64 = 100;

struct Row {
    company: String,
    company_id: String,
    subject: String,
    text: String,
    link: Option<String>,
    why: String,
    delivered: bool,
    outcome: String,
    at_iso: String,
    at: String,
}

struct Confirm {
    company: String,
    company_id: String,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    nav: Nav,
    messages: Vec<Row>,
    confirm: Option<Confirm>,
}

/// `?block=<company id>` from a mail's link.
#[derive(Deserialize)]
pub struct MessagesQuery {
    block: Option<String>,
}

fn outcome_words(outcome: &str) -> String {
    match outcome {
        "delivered" => "Delivered by email".to_owned(),
        "outside_hours" => "Refused: outside your hours".to_owned(),
        "over_weekly_cap" => "Refused: over your weekly limit".to_owned(),
        "no_contact" => "Refused: you allow no contact".to_owned(),
        "no_channel" => "Refused: no channel you allow".to_owned(),
        "no_verified_address" => "Refused: no confirmed address".to_owned(),
        "unsubscribed" => "Refused: you stopped this company".to_owned(),
        "blocked" => "Refused: you block this company".to_owned(),
        "purpose" => "Refused: your grant does not allow contact".to_owned(),
        "grant_not_live" => "Refused: the grant had ended".to_owned(),
        other => format!("Refused ({other})"),
    }
}

/// The signed-in person's messages, newest first.
#[get("/messages")]
pub async fn messages(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, PageError> {
    let listed = broker::messages::list(&state.store, &who.person, LISTED)
        .await
        .map_err(Problem::from)?;
    let confirm = match query.block.as_deref().map(consent_policy::CompanyId::parse) {
        Some(Ok(id)) => {
            let company = listed
                .iter()
                .find(|l| l.message.company_id == id.as_str())
                .map_or_else(|| id.to_string(), |l| l.company.clone());
            Some(Confirm {
                company,
                company_id: id.to_string(),
            })
        }
        _ => None,
    };
    let messages = listed
        .into_iter()
        .map(|l| {
            let m = l.message;
            Row {
                company: l.company,
                company_id: m.company_id,
                subject: m.subject,
                text: m.text,
                link: m.link,
                why: m.why,
                delivered: m.outcome == "delivered",
                outcome: outcome_words(&m.outcome),
                at_iso: time_iso(m.created_at),
                at: time_words(m.created_at),
            }
        })
        .collect();
    let page = MessagesPage {
        nav: Nav::load(&state, &who, "messages").await?,
        messages,
        confirm,
    };
    html(StatusCode::OK, &page)
}

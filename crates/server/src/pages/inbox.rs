//! The inbox page: the requests waiting for the signed-in person, each
//! with the company, the purpose in plain words, the duration, the offer
//! and every attribute asked for with its bucket and the policy's reason.
//! Approving (with any attribute unticked) and declining are CSRF-checked
//! form POSTs that call the same store functions as `/v1/me/requests` and
//! come back here (303) with a short status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use broker::BrokerError;
use consent_policy::AttributeKey;
use store::StoreError;

use super::account::StatusQuery;
use super::consent::Item;
use super::{
    Nav, PageError, PageSession, SignedInForm, html, see_other, time_iso as iso, time_words,
};
use crate::problem::Problem;
use crate::startup::AppState;

/// One pending request on the page.
struct Row {
    id: String,
    company: String,
    purpose: String,
    duration: String,
    offer: String,
    created: String,
    created_iso: String,
    expires: String,
    expires_iso: String,
    items: Vec<Item>,
    any_grantable: bool,
    /// The company's `binding_message`, escaped by the template.
    binding_message: Option<String>,
    /// The price the person named, while the company decides.
    counter: Option<String>,
    /// The offer's currency, when the person may name a price instead.
    counter_currency: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    nav: Nav,
    csrf: String,
    status: Option<&'static str>,
    rows: Vec<Row>,
}

fn status_message(slug: Option<&str>) -> Option<&'static str> {
    Some(match slug? {
        "approved" => "Shared. The company can now read what you ticked, and nothing else.",
        "declined" => "Declined. Nothing was shared.",
        "nothing-ticked" => {
            "Nothing was ticked, so nothing was shared. Tick at least one attribute, or decline."
        }
        "not-grantable" => {
            "That attribute is withheld by your buckets or rules, so nothing was shared."
        }
        "not-pending" => "That request was answered already or has expired.",
        "countered" => {
            "Your price is sent. The company can accept it until the request expires; nothing is shared before."
        }
        "bad-price" => {
            "That is not a price above the offer, in the offer's currency (for example 0.08). Nothing was sent."
        }
        _ => return None,
    })
}

/// The signed-in person's pending requests, newest first.
#[get("/inbox")]
pub async fn inbox(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let rows = broker::inbox::pending(&state.store, &who.person)
        .await
        .map_err(Problem::from)?
        .into_iter()
        .map(row)
        .collect();
    let page = InboxPage {
        nav: Nav::load(&state, &who, "inbox").await?,
        csrf: who.csrf_token(),
        status: status_message(query.status.as_deref()),
        rows,
    };
    html(StatusCode::OK, &page)
}

/// One pending request as the page shows it.
fn row(named: broker::inbox::NamedRequest) -> Row {
    let r = named.request;
    let items: Vec<Item> = r.decision.attributes().iter().map(Item::of).collect();
    Row {
        company: named.company_name,
        purpose: r.request.purpose().plain_words().to_owned(),
        duration: r.request.duration().in_words(),
        offer: r
            .request
            .offer()
            .map_or_else(|| "no payment".to_owned(), ToString::to_string),
        created: time_words(r.created_at),
        created_iso: iso(r.created_at),
        expires: time_words(r.expires_at),
        expires_iso: iso(r.expires_at),
        any_grantable: items.iter().any(|i| i.grantable),
        items,
        binding_message: r.binding_message,
        counter: r.counter.as_ref().map(|c| c.price.to_string()),
        counter_currency: match (&r.counter, r.channel, r.request.offer()) {
            (None, consent_policy::Channel::Async, Some(offer)) => Some(offer.currency().code()),
            _ => None,
        },
        id: r.id,
    }
}

fn back(status: &str) -> Result<HttpResponse, PageError> {
    Ok(see_other(&format!("/inbox?status={status}")))
}

/// Approves a pending request for the ticked attributes only (none ticked
/// grants nothing; a withheld one is refused).
#[post("/inbox/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let mut chosen = Vec::new();
    for raw in form.fields.all("attribute") {
        match AttributeKey::parse(raw) {
            Ok(key) => chosen.push(key),
            Err(_) => return back("not-grantable"),
        }
    }
    // Always a list, never `None`: an empty form must not mean "all".
    match broker::answer::approve_only(&state.store, &form.who.person, &id, &chosen).await {
        Ok(_) => back("approved"),
        Err(BrokerError::Store(StoreError::NothingToGrant)) => back("nothing-ticked"),
        Err(BrokerError::Store(StoreError::NotGrantable(_))) => back("not-grantable"),
        Err(BrokerError::Store(StoreError::RequestNotPending(_))) => back("not-pending"),
        Err(e) => Err(Problem::from(e).into()),
    }
}

/// Names the person's price for the ticked attributes instead of the offer.
#[post("/inbox/{id}/counter")]
pub async fn counter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let mut chosen = Vec::new();
    for raw in form.fields.all("attribute") {
        match AttributeKey::parse(raw) {
            Ok(key) => chosen.push(key),
            Err(_) => return back("not-grantable"),
        }
    }
    let request = match state.store.request(&id).await {
        Ok(r) if r.person_id == form.who.person => r,
        _ => return back("not-pending"),
    };
    let Some(currency) = request.request.offer().map(|o| o.currency()) else {
        return back("bad-price");
    };
    let typed = form.fields.get("price").unwrap_or("").trim();
    let Ok(price) = consent_policy::Money::parse_units(typed, currency) else {
        return back("bad-price");
    };
    match broker::counter::counter(&state.store, &form.who.person, &id, price, Some(&chosen)).await
    {
        Ok(_) => back("countered"),
        Err(BrokerError::Store(StoreError::NothingToGrant)) => back("nothing-ticked"),
        Err(BrokerError::Store(StoreError::NotGrantable(_))) => back("not-grantable"),
        Err(BrokerError::Store(
            StoreError::CounterNotAbove(_)
            | StoreError::CounterCurrency(_)
            | StoreError::NotCounterable(_),
        )) => back("bad-price"),
        Err(BrokerError::Store(
            StoreError::RequestNotPending(_) | StoreError::RequestNotFound(_),
        )) => back("not-pending"),
        Err(e) => Err(Problem::from(e).into()),
    }
}

/// Declines a pending request.
#[post("/inbox/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    match broker::answer::decline(&state.store, &form.who.person, &id).await {
        Ok(_) => back("declined"),
        Err(BrokerError::Store(StoreError::RequestNotPending(_))) => back("not-pending"),
        Err(e) => Err(Problem::from(e).into()),
    }
}

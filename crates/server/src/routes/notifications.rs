//! The person's notification settings (`/v1/me/notifications`): an email
//! address verified by a link, which kinds of notice they get, and a daily
//! digest; and the one-click unsubscribe every mail links to (RFC 8058),
//! which needs no session: its token is the proof.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, put, web};
use broker::notifications::{EmailAddress, Unsubscribe};
use serde::{Deserialize, Serialize};
use store::{NoticeKind, NotifySettings};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::problem::Problem;
use crate::startup::AppState;

/// What the person is told, and where.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "address": "ada@example.org",
    "verified": true,
    "kinds": {"request_waiting": true, "expiring": true, "first_use": false},
    "digest": false
}))]
pub struct NotificationSettings {
    /// The address mails go to; `null` until one is given.
    #[schema(example = "ada@example.org")]
    pub address: Option<String>,
    /// Whether the address was verified; until it is, it gets nothing but
    /// the verification mail.
    pub verified: bool,
    /// Each kind of notice and whether it is on: `request_waiting`,
    /// `expiring`, `first_use`.
    #[schema(value_type = super::schema::NoticeKinds)]
    pub kinds: BTreeMap<String, bool>,
    /// One mail a day gathering the notices, instead of one mail each.
    pub digest: bool,
}

impl NotificationSettings {
    /// The view of `settings` (everything on, no address, when `None`).
    pub fn of(settings: Option<&NotifySettings>) -> NotificationSettings {
        let off = settings.map(|s| s.kinds_off.as_slice()).unwrap_or_default();
        NotificationSettings {
            address: settings.map(|s| s.address.clone()),
            verified: settings.is_some_and(|s| s.verified),
            kinds: NoticeKind::ALL
                .into_iter()
                .map(|k| (k.as_str().to_owned(), !off.contains(&k)))
                .collect(),
            digest: settings.is_some_and(|s| s.digest),
        }
    }
}

/// An address to be told at.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "ada@example.org"}))]
pub struct PutAddress {
    /// The email address; a verification link is mailed to it.
    #[schema(example = "ada@example.org", format = Email, max_length = 254)]
    pub address: String,
}

/// The token from the verification link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "vK3q8Zp1Xw5Ly7Tn2Mr9Bc4Hd6Jf0Gs-Ea_Ub8Wi3Q"}))]
pub struct VerifyAddress {
    /// The `token` parameter of the link in the verification mail.
    pub token: String,
}

/// Which kinds are on, and the digest.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kinds": {"request_waiting": true, "expiring": true, "first_use": false}, "digest": true}))]
pub struct PutChoices {
    /// Kinds to turn on (`true`) or off (`false`); kinds left out keep
    /// their setting.
    #[schema(value_type = super::schema::NoticeKinds)]
    #[serde(default)]
    pub kinds: BTreeMap<String, bool>,
    /// A daily digest instead of single mails; left out keeps it.
    pub digest: Option<bool>,
}

/// The link the verification mail carries, before its token.
pub fn verify_url(state: &AppState) -> String {
    let mut url = state.public_url.clone();
    url.set_path("/notifications/verify");
    format!("{url}?token=")
}

/// Parses and checks an address.
pub fn parse_address(text: &str) -> Result<EmailAddress, Problem> {
    EmailAddress::parse(text).map_err(|e| Problem::invalid("address", e))
}

/// Applies `changes` to the kinds off now; an unknown kind names itself.
pub fn kinds_off(
    current: Option<&NotifySettings>,
    changes: &BTreeMap<String, bool>,
) -> Result<Vec<NoticeKind>, Problem> {
    let mut off: Vec<NoticeKind> = current.map(|s| s.kinds_off.clone()).unwrap_or_default();
    for (name, on) in changes {
        let kind = NoticeKind::parse(name).ok_or_else(|| {
            Problem::invalid(
                &format!("kinds.{name}"),
                format!("no kind of notice is called {name:?}; the kinds are request_waiting, expiring, first_use"),
            )
        })?;
        off.retain(|k| *k != kind);
        if !on {
            off.push(kind);
        }
    }
    Ok(off)
}

fn no_address() -> Problem {
    Problem::conflict(
        "no-notification-address",
        "No notification address",
        "give an address first (PUT /v1/me/notifications/address)",
    )
    .with_field("address")
}

/// The person's notification settings
///
/// The notification address and whether it is verified, the kinds of notice
/// turned on, and whether a daily digest replaces single mails.
#[utoipa::path(
    operation_id = "notifications_get",
    tag = "people", responses((status = 200, description = "The notification address, its state and the kinds turned on", body = NotificationSettings))
)]
#[get("/v1/me/notifications")]
pub async fn get_settings(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let settings = broker::notifications::settings(&state.store, &who.person).await?;
    Ok(HttpResponse::Ok().json(NotificationSettings::of(settings.as_ref())))
}

/// Set the notification address
///
/// Sets the address (unverified) and mails it a verification link; nothing else
/// is sent to it until it is verified.
#[utoipa::path(
    operation_id = "notification_address_put",
    tag = "people",
    request_body = PutAddress,
    responses(
        (status = 202, description = "Set; the verification mail is queued", body = NotificationSettings),
        (status = 409, description = "Five verification mails were sent today already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/v1/me/notifications/address")]
pub async fn put_address(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PutAddress>,
) -> Result<HttpResponse, Problem> {
    let address = parse_address(&body.address)?;
    let settings = broker::notifications::set_address(
        &state.store,
        &who.person,
        &address,
        &verify_url(&state),
    )
    .await?;
    Ok(HttpResponse::Accepted().json(NotificationSettings::of(Some(&settings))))
}

/// Verify the notification address
///
/// Verifies the address with the token from its link (once, within 24 hours).
#[utoipa::path(
    operation_id = "notification_address_verify",
    tag = "people",
    request_body = VerifyAddress,
    responses(
        (status = 200, description = "The address is verified", body = NotificationSettings),
        (status = 422, description = "Wrong, used or expired token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/notifications/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<VerifyAddress>,
) -> Result<HttpResponse, Problem> {
    if !broker::notifications::verify(&state.store, &who.person, &body.token).await? {
        return Err(Problem::invalid(
            "token",
            "this verification link is wrong, used or expired; set the address again for a new one",
        ));
    }
    let settings = broker::notifications::settings(&state.store, &who.person).await?;
    Ok(HttpResponse::Ok().json(NotificationSettings::of(settings.as_ref())))
}

/// Choose the kinds of notice
///
/// Turns kinds of notice on or off and chooses the daily digest.
#[utoipa::path(
    operation_id = "notifications_put",
    tag = "people",
    request_body = PutChoices,
    responses(
        (status = 200, description = "The settings as stored", body = NotificationSettings),
        (status = 409, description = "No address yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown kind", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/v1/me/notifications")]
pub async fn put_choices(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<PutChoices>,
) -> Result<HttpResponse, Problem> {
    let current = broker::notifications::settings(&state.store, &who.person).await?;
    let off = kinds_off(current.as_ref(), &body.kinds)?;
    let current = current.ok_or_else(no_address)?;
    let digest = body.digest.unwrap_or(current.digest);
    let settings = broker::notifications::set_choices(&state.store, &who.person, &off, digest)
        .await?
        .ok_or_else(no_address)?;
    Ok(HttpResponse::Ok().json(NotificationSettings::of(Some(&settings))))
}

/// The one-click unsubscribe link's parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// Whose.
    pub person: String,
    /// The kind's name, or `all`.
    #[param(value_type = super::schema::NoticeKindOrAll)]
    pub kind: String,
    /// The link's token.
    pub token: String,
}

/// One-click unsubscribe (RFC 8058)
///
/// A POST of `List-Unsubscribe=One-Click` to the URL in a mail's
/// `List-Unsubscribe` turns that kind off (or every kind, for `all`). No
/// session: the token is for this person and kind.
#[utoipa::path(
    operation_id = "notifications_unsubscribe",
    tag = "people",
    params(UnsubscribeQuery),
    request_body(content = super::schema::OneClickBody, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Turned off"),
        (status = 403, description = "Wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind or missing one-click body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/notifications/unsubscribe")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    one_click(&body)?;
    let target = Unsubscribe::parse(&query.kind).ok_or_else(|| {
        Problem::invalid(
            "kind",
            format!("no kind of notice is called {:?}", query.kind),
        )
    })?;
    let person = store::PersonId::new(query.person.clone());
    let done = broker::notifications::unsubscribe(
        &state.store,
        &state.unsubscribe_key,
        &person,
        target,
        &query.token,
    )
    .await?;
    if !done {
        return Err(Problem::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "bad-unsubscribe-token",
            "This unsubscribe link is not valid",
            "the link's token does not match; use the link from the mail as it is",
        )
        .with_field("token"));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("Unsubscribed."))
}

/// RFC 8058: the one-click POST's body is `List-Unsubscribe=One-Click`.
pub(crate) fn one_click(body: &[u8]) -> Result<(), Problem> {
    if url::form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click") {
        return Ok(());
    }
    Err(Problem::invalid(
        "List-Unsubscribe",
        "the body must be List-Unsubscribe=One-Click (RFC 8058)",
    ))
}

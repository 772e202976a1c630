//! The contact relay: `POST /v1/messages` (a company sends a person a
//! message, delivered only on the person's terms), `GET /v1/me/messages`
//! (the person lists them) and the relayed mail's one-click unsubscribe,
//! `POST /v1/messages/unsubscribe`. Every decision is `broker::messages`.
//!
//! What a company gets back never names the person's address: the
//! message's id, `delivered`, the channel and the time; or a problem.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::oauth_server::BearerRejection;
use crate::problem::Problem;
use crate::routes::requests::calling_company;
use crate::startup::AppState;

/// A message to a person.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "grant_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
    "subject": "Your winter tyres are due",
    "text": "Your tyres were fitted two winters ago; we keep a slot for you this week.",
    "link": "https://acme.example/book",
    "why_valuable": "You asked us to remind you before the first frost."
}))]
pub struct NewMessage {
    /// The grant it is sent under (`marketing` or `service_provision`, live).
    pub grant_id: String,
    /// One line, 1 to 200 characters.
    #[schema(max_length = 200)]
    pub subject: String,
    /// 1 to 5000 characters.
    #[schema(max_length = 5000)]
    pub text: String,
    /// An `https://` link, at most 2048 bytes.
    #[schema(max_length = 2048, format = "uri")]
    pub link: Option<String>,
    /// Why this is valuable to the person (required, 1 to 1000 characters);
    /// shown to them with the message.
    #[schema(max_length = 1000)]
    pub why_valuable: Option<String>,
}

/// A delivered message, as the company sees it: never the address.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b",
    "grant_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
    "status": "delivered",
    "channel": "email",
    "created_at": "2026-12-07T10:02:11Z",
    "ledger_index": 57
}))]
pub struct MessageSent {
    /// Its id.
    pub id: String,
    /// The grant.
    pub grant_id: String,
    /// Always `delivered`: a refused message is a problem.
    pub status: &'static str,
    /// The channel it went on.
    pub channel: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    /// Its `message_delivered` ledger entry.
    pub ledger_index: u64,
}

/// Send a person a message
///
/// Delivers a message to the person of one of the calling company's grants,
/// only on their terms: the grant must be live and for `marketing` or
/// `service_provision`; it goes by email to the person's verified address
/// (which the company never sees), inside the hours they allow in their
/// time zone, under their weekly cap. Each delivered mail has a one-click
/// unsubscribe that ends this company's contact, and a "block this company"
/// link. Delivered or refused, the message is recorded (shown to the person)
/// with a ledger entry that holds ids, the channel and a count or the
/// refusal's reason — never the words.
#[utoipa::path(
    operation_id = "messages_send",
    tag = "companies",
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449) for this method and URL with `ath` = the access token's SHA-256; required with `Authorization: DPoP`, each proof usable once")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Delivered (queued in the outbox in the same transaction)", body = MessageSent),
        (status = 401, description = "No or an invalid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`contact-refused`: the person allows no such contact (recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant of this company (nothing recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`contact-not-now`, with `next_allowed_at` and `Retry-After`: outside the person's hours or over their weekly cap; or `grant-over`: the grant is revoked or expired (recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`subject`, `text`, `link` or `why_valuable` is not valid (nothing recorded)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("dpop" = []))
)]
#[post("/v1/messages")]
pub async fn send(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<NewMessage>,
) -> Result<HttpResponse, BearerRejection> {
    let company = calling_company(&state, &req).await?;
    let message = broker::messages::Message::parse(
        &body.subject,
        &body.text,
        body.link.as_deref(),
        body.why_valuable.as_deref(),
    )
    .map_err(Problem::from)?;
    match broker::messages::send(&state.store, &company, &body.grant_id, &message).await {
        Ok(sent) => Ok(HttpResponse::Created().json(MessageSent {
            id: sent.message.id,
            grant_id: sent.message.grant_id,
            status: "delivered",
            channel: sent.message.channel.unwrap_or_default(),
            created_at: sent.message.created_at,
            ledger_index: sent.ledger_index,
        })),
        Err(broker::BrokerError::MessageRefused {
            message_id,
            refusal,
        }) => {
            let problem = Problem::from(broker::BrokerError::MessageRefused {
                message_id,
                refusal,
            });
            let mut answer = problem.error_response();
            if let Some(next) = refusal.next_allowed_at() {
                let wait = (next - time::OffsetDateTime::now_utc())
                    .whole_seconds()
                    .max(1);
                if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
                    answer.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Ok(answer)
        }
        Err(e) => {
            let mut problem = Problem::from(e);
            if problem.status == 404 {
                // The grant is named in the body, not the path.
                problem.field = Some("grant_id".to_owned());
            }
            Err(problem.into())
        }
    }
}

/// How many messages to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 200; 50 when not given.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// A message a company sent the person, delivered or refused.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "5e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b",
    "company_id": "c_3kTq9wZ1xY7bN2mQ8vR4sL",
    "company": "Acme",
    "grant_id": "9a3e1f0c-7b2d-4e8a-a1c4-5d6e7f8a9b0c",
    "subject": "Your winter tyres are due",
    "text": "Your tyres were fitted two winters ago; we keep a slot for you this week.",
    "link": "https://acme.example/book",
    "why_valuable": "You asked us to remind you before the first frost.",
    "outcome": "delivered",
    "channel": "email",
    "next_allowed_at": null,
    "created_at": "2026-12-07T10:02:11Z"
}))]
pub struct MessageView {
    /// Its id.
    pub id: String,
    /// The sender's id.
    pub company_id: String,
    /// The sender's name.
    pub company: String,
    /// The grant it was sent under.
    pub grant_id: String,
    /// Subject.
    pub subject: String,
    /// Text.
    pub text: String,
    /// Link.
    pub link: Option<String>,
    /// Why the company says it is valuable to you.
    pub why_valuable: String,
    /// `delivered`, or why it was refused (`outside_hours`, `over_weekly_cap`, `no_contact`, …).
    pub outcome: String,
    /// The channel, when delivered.
    pub channel: Option<String>,
    /// For a refusal that ends: when it could have gone.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_allowed_at: Option<time::OffsetDateTime>,
    /// When it was sent.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

impl From<broker::messages::Listed> for MessageView {
    fn from(listed: broker::messages::Listed) -> Self {
        let m = listed.message;
        MessageView {
            id: m.id,
            company_id: m.company_id,
            company: listed.company,
            grant_id: m.grant_id,
            subject: m.subject,
            text: m.text,
            link: m.link,
            why_valuable: m.why,
            outcome: m.outcome,
            channel: m.channel,
            next_allowed_at: m.next_allowed_at,
            created_at: m.created_at,
        }
    }
}

/// List the messages companies sent me
///
/// Every message a company sent through apiome, delivered or refused,
/// newest first: who, what, and why they said it was valuable to you.
#[utoipa::path(
    operation_id = "me_messages_list",
    tag = "people",
    params(ListQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<MessageView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/messages")]
pub async fn list(
    state: web::Data<AppState>,
    who: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=store::MAX_MESSAGES_LISTED).contains(&limit) {
        return Err(Problem::invalid("limit", "a page has 1 to 200 messages"));
    }
    let listed = broker::messages::list(&state.store, &who.person, limit).await?;
    let views: Vec<MessageView> = listed.into_iter().map(MessageView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// The relayed mail's one-click unsubscribe link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StopQuery {
    /// Whose.
    pub person: String,
    /// Which company's contact ends.
    pub company: String,
    /// The link's token.
    pub token: String,
}

/// One-click: stop a company contacting me (RFC 8058)
///
/// A POST of `List-Unsubscribe=One-Click` to the URL in a relayed mail's
/// `List-Unsubscribe` ends that company's permission to contact the
/// person (a `contact_stopped` ledger entry); its later messages are
/// refused with `contact-refused`. No session: the token is for this person
/// and company.
#[utoipa::path(
    operation_id = "messages_unsubscribe",
    tag = "people",
    params(StopQuery),
    request_body(content = super::schema::OneClickBody, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The company may no longer contact the person"),
        (status = 403, description = "Wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a company id, or no one-click body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/messages/unsubscribe")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<StopQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    super::notifications::one_click(&body)?;
    let company = consent_policy::CompanyId::parse(&query.company)
        .map_err(|e| Problem::invalid("company", e.to_string()))?;
    let person = store::PersonId::new(query.person.clone());
    let done = broker::messages::stop(
        &state.store,
        &state.unsubscribe_key,
        &person,
        &company,
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
        .body("This company may no longer contact you through apiome."))
}

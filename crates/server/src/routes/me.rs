//! The person's own API: who they are, their attributes and buckets, their
//! sharing preferences, rules, blocked companies, passkeys and recovery
//! codes. Every handler acts on the signed-in person only.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use consent_policy::{
    AttributeKey, Bucket, CompanyId, ContactPreferences, GrantDuration, Rule, SharingDefault,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::problem::Problem;
use crate::routes::page::{self, Page, PageQuery};
use crate::routes::session::PasskeyView;
use crate::startup::AppState;

/// The signed-in person.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "handle": "ada",
    "has_password": true,
    "passkeys": 1,
    "recovery_codes_left": 10,
    "created_at": "2026-11-02T08:14:03Z"
}))]
pub struct Me {
    /// Their handle.
    pub handle: String,
    /// Whether they have a password.
    pub has_password: bool,
    /// How many passkeys they have.
    pub passkeys: usize,
    /// Unused recovery codes.
    pub recovery_codes_left: u64,
    /// Sign-up time.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// Who is signed in
///
/// The signed-in person: handle, whether a password is set, how many passkeys
/// and recovery codes are left, and when the account was made. Answers 401
/// without a session.
#[utoipa::path(
    operation_id = "me_get",
    tag = "people", responses((status = 200, description = "Who is signed in", body = Me), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"))
)]
#[get("/v1/me")]
pub async fn me(state: web::Data<AppState>, who: Authenticated) -> Result<HttpResponse, Problem> {
    let person = state.store.person(&who.person).await?;
    Ok(HttpResponse::Ok().json(Me {
        handle: person.handle.to_string(),
        has_password: state.store.password_hash(&person.id).await?.is_some(),
        passkeys: state.store.passkeys(&person.id).await?.len(),
        recovery_codes_left: state.store.recovery_codes_left(&person.id).await?,
        created_at: person.created_at,
    }))
}

/// One attribute.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "key": "location_city",
    "value": "Lyon",
    "bucket": "semi_private",
    "updated_at": "2026-12-07T17:17:54Z"
}))]
pub struct AttributeView {
    /// Its key.
    #[schema(value_type = super::schema::AttributeKeyName)]
    pub key: String,
    /// Its value.
    #[schema(value_type = super::schema::AttributeValue)]
    pub value: serde_json::Value,
    /// Its bucket: `private`, `semi_private` or `public`.
    #[schema(value_type = super::schema::BucketName)]
    pub bucket: Bucket,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

impl From<store::StoredAttribute> for AttributeView {
    fn from(a: store::StoredAttribute) -> Self {
        AttributeView {
            key: a.key.to_string(),
            value: a.value,
            bucket: a.bucket,
            updated_at: a.updated_at,
        }
    }
}

/// A value and its bucket.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": "Lyon", "bucket": "semi_private"}))]
pub struct PutAttribute {
    /// The value; its shape depends on the key (see `/v1/catalogue`).
    #[schema(value_type = super::schema::AttributeValue)]
    pub value: serde_json::Value,
    /// `private`, `semi_private` or `public`; the key's default bucket when
    /// left out on a new attribute, the current bucket on an existing one.
    #[schema(value_type = Option<super::schema::BucketName>)]
    pub bucket: Option<Bucket>,
}

fn parse_key(text: &str) -> Result<AttributeKey, Problem> {
    AttributeKey::parse(text).map_err(|e| Problem::invalid("key", e.to_string()))
}

/// The person's attributes
///
/// Every attribute of the signed-in person, by key, with its value and bucket
/// (`private`, `semi_private`, `public`).
#[utoipa::path(
    operation_id = "attributes_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "Every attribute with its bucket and value, by key", body = Page<AttributeView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/attributes")]
pub async fn list_attributes(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let attributes: Vec<AttributeView> = state
        .store
        .attributes(&who.person)
        .await?
        .into_iter()
        .map(AttributeView::from)
        .collect();
    let page = paging.page(attributes, |a| a.key.clone());
    Ok(page::respond(&request, &state.public_url, &page))
}

/// Set an attribute
///
/// Sets an attribute's value and bucket. Moving an attribute to `private` takes
/// effect on every live grant at the next read. The value is stored sealed; it
/// is never written to the ledger or the logs.
#[utoipa::path(
    operation_id = "attributes_put",
    tag = "people",
    params(("key" = super::schema::AttributeKeyName, Path, description = "A catalogue key or an x- custom key")),
    request_body = PutAttribute,
    responses(
        (status = 200, description = "The attribute as stored", body = AttributeView),
        (status = 422, description = "Unknown key, value of the wrong shape or too large", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/v1/me/attributes/{key}")]
pub async fn put_attribute(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
    body: web::Json<PutAttribute>,
) -> Result<HttpResponse, Problem> {
    let key = parse_key(&key)?;
    let body = body.into_inner();
    let stored = match body.bucket {
        Some(bucket) => {
            broker::attributes::set_in(&state.store, &who.person, &key, &body.value, bucket).await
        }
        None => broker::attributes::set(&state.store, &who.person, &key, &body.value).await,
    }?;
    Ok(HttpResponse::Ok().json(AttributeView::from(stored)))
}

/// Delete an attribute
///
/// Deletes an attribute: companies' next reads no longer get it, whatever they
/// were granted.
#[utoipa::path(
    operation_id = "attributes_delete",
    tag = "people",
    params(("key" = super::schema::AttributeKeyName, Path, description = "The attribute's key")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No attribute of that key", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/v1/me/attributes/{key}")]
pub async fn delete_attribute(
    state: web::Data<AppState>,
    who: Authenticated,
    key: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = parse_key(&key)?;
    broker::attributes::delete(&state.store, &who.person, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Contact preferences: which channels, which hours, how often.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00", "time_zone": "Europe/Paris", "max_per_week": 2}))]
pub struct Contact {
    /// Channels companies may use: `email`, `sms`, `phone`, `post`, `app`.
    #[schema(value_type = Vec<super::schema::ChannelName>, example = json!(["email"]))]
    pub channels: Vec<String>,
    /// From when in the day (`HH:MM`, the person's local time).
    #[schema(value_type = Option<super::schema::TimeOfDayText>)]
    pub hours_from: Option<String>,
    /// Until when in the day (`HH:MM`, exclusive; before `hours_from` it
    /// wraps midnight). Both ends or neither.
    #[schema(value_type = Option<super::schema::TimeOfDayText>)]
    pub hours_to: Option<String>,
    /// The IANA time zone the hours are in (`Europe/Paris`); `UTC` when not given.
    #[schema(example = "Europe/Paris", max_length = 64)]
    #[serde(default)]
    pub time_zone: Option<String>,
    /// At most this many contacts a week (0 = never).
    #[schema(example = 2, maximum = 100)]
    pub max_per_week: Option<u32>,
}

/// Sharing preferences.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "default": "ask_me",
    "max_duration": "P1Y",
    "contact": {"channels": ["email"], "hours_from": "09:00", "hours_to": "18:00", "time_zone": "Europe/Paris", "max_per_week": 2}
}))]
pub struct Preferences {
    /// What happens where no rule speaks.
    #[schema(value_type = super::schema::SharingDefaultName)]
    pub default: SharingDefault,
    /// The longest grant accepted at all (ISO 8601 duration).
    #[schema(value_type = Option<super::schema::IsoDuration>)]
    pub max_duration: Option<GrantDuration>,
    /// How companies may contact the person.
    pub contact: Option<Contact>,
}

impl Contact {
    /// The checked preferences, or the field at fault.
    fn parse(&self) -> Result<ContactPreferences, Problem> {
        ContactPreferences::parse(
            &self.channels,
            self.hours_from.as_deref(),
            self.hours_to.as_deref(),
            self.time_zone.as_deref(),
            self.max_per_week,
        )
        .map_err(|e| Problem::invalid(&format!("contact.{}", e.field), e.detail))
    }
}

impl From<ContactPreferences> for Contact {
    fn from(prefs: ContactPreferences) -> Self {
        Contact {
            channels: prefs
                .channels
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            hours_from: prefs.hours_from.map(|t| t.to_string()),
            hours_to: prefs.hours_to.map(|t| t.to_string()),
            time_zone: Some(prefs.time_zone.name().to_owned()),
            max_per_week: prefs.max_per_week,
        }
    }
}

pub(crate) fn preferences_of(person: &store::Person) -> Preferences {
    Preferences {
        default: person.sharing_default,
        max_duration: Some(person.max_duration.clone()),
        contact: serde_json::from_value::<ContactPreferences>(person.contact.clone())
            .ok()
            .map(Contact::from),
    }
}

/// The person's sharing preferences
///
/// What happens where no rule speaks (the sharing default), the longest grant
/// accepted at all, and how companies may contact the person (channels, hours,
/// weekly cap).
#[utoipa::path(
    operation_id = "preferences_get",
    tag = "people", responses((status = 200, description = "The default policy and contact preferences", body = Preferences))
)]
#[get("/v1/me/preferences")]
pub async fn get_preferences(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let person = state.store.person(&who.person).await?;
    Ok(HttpResponse::Ok().json(preferences_of(&person)))
}

/// Replace the person's sharing preferences
///
/// Replaces the sharing default, the longest grant accepted and the contact
/// preferences.
#[utoipa::path(
    operation_id = "preferences_put",
    tag = "people",
    request_body = Preferences,
    responses((status = 200, description = "The preferences as stored", body = Preferences), (status = 422, description = "A value out of range; `field` names it", body = Problem, content_type = "application/problem+json"))
)]
#[put("/v1/me/preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<Preferences>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let change = broker::preferences::PreferencesChange {
        default: body.default,
        max_duration: body.max_duration,
        contact: body.contact.as_ref().map(Contact::parse).transpose()?,
    };
    let person = broker::preferences::set(&state.store, &who.person, change).await?;
    Ok(HttpResponse::Ok().json(preferences_of(&person)))
}

/// One of the person's rules.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "9a4f2c1e-6b3d-4e8a-b7c5-2d1f0e9a8b76",
    "position": 0,
    "rule": {
        "company": {"only": "c_3kTq9wZ1xY7bN2mQ8vR4sL"},
        "purposes": ["marketing"],
        "attributes": {"keys": ["interests"]},
        "effect": "allow",
        "min_offer": {"amount_micros": 50000, "currency": "EUR"},
        "max_duration": "P30D"
    },
    "description": "Let Acme have your interests for marketing if they pay at least 0.05 EUR, for at most 30 days."
}))]
pub struct RuleView {
    /// Its id.
    pub id: String,
    /// Its place; the first rule that matches decides.
    pub position: u32,
    /// The rule.
    #[schema(value_type = super::schema::RuleBody)]
    pub rule: Rule,
    /// The rule in plain words.
    pub description: String,
}

impl From<store::StoredRule> for RuleView {
    fn from(r: store::StoredRule) -> Self {
        RuleView {
            description: r.rule.describe(),
            id: r.id,
            position: r.position,
            rule: r.rule,
        }
    }
}

/// The person's rules
///
/// The person's standing rules, first to last. The first rule that matches a
/// request decides each attribute; the default policy covers the rest.
#[utoipa::path(
    operation_id = "rules_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "The rules in evaluation order", body = Page<RuleView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/rules")]
pub async fn list_rules(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let rules: Vec<RuleView> = state
        .store
        .rules(&who.person)
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect();
    let page = paging.page(rules, |r| page::in_position(u64::from(r.position), &r.id));
    Ok(page::respond(&request, &state.public_url, &page))
}

/// Add a rule
///
/// Adds a rule at the end of the list: for some companies, attributes and
/// purposes, allow, ask or deny. A denying rule takes effect on live grants at
/// the next read.
#[utoipa::path(
    operation_id = "rules_create",
    tag = "people",
    request_body = super::schema::RuleBody,
    responses((status = 201, description = "The rule as stored", body = RuleView), (status = 422, description = "A rule that cannot hold; `field` names the part", body = Problem, content_type = "application/problem+json"))
)]
#[post("/v1/me/rules")]
pub async fn add_rule(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Problem> {
    let rule: Rule = serde_json::from_value(body.into_inner())
        .map_err(|e| Problem::invalid("rule", e.to_string()))?;
    let stored = broker::rules::add(&state.store, &who.person, &rule).await?;
    Ok(HttpResponse::Created().json(RuleView::from(stored)))
}

/// A new order of the person's rules.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order": ["9a4f2c1e-6b3d-4e8a-b7c5-2d1f0e9a8b76", "2e7d5b3a-1c9f-4a8e-b6d4-0f3e2d1c0b9a"]}))]
pub struct RuleOrder {
    /// Every rule id, once, in the new order.
    pub order: Vec<String>,
}

/// Reorder the rules
///
/// Puts the rules in the given order; the body must name every rule exactly
/// once.
#[utoipa::path(
    operation_id = "rules_reorder",
    tag = "people",
    request_body = RuleOrder,
    responses((status = 200, description = "The rules in their new order", body = Vec<RuleView>), (status = 422, description = "The order does not name every rule exactly once", body = Problem, content_type = "application/problem+json"))
)]
#[put("/v1/me/rules/order")]
pub async fn reorder_rules(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<RuleOrder>,
) -> Result<HttpResponse, Problem> {
    let rules: Vec<RuleView> = broker::rules::reorder(&state.store, &who.person, &body.order)
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(rules))
}

/// Delete a rule
///
/// Deletes a rule; what it decided falls to the rules after it and the default.
#[utoipa::path(
    operation_id = "rules_delete",
    tag = "people", params(("id" = String, Path)), responses((status = 204, description = "Deleted"), (status = 404, description = "No rule of that id for this person", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/v1/me/rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    broker::rules::delete(&state.store, &who.person, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A blocked company.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"company_id": "c_Zx81LmQe4RtY7uIo2PaS9d", "name": "Spamco"}))]
pub struct BlockedView {
    /// The company's id.
    pub company_id: String,
    /// Its name.
    pub name: String,
}

fn parse_company(text: &str) -> Result<CompanyId, Problem> {
    CompanyId::parse(text).map_err(|e| Problem::invalid("company_id", e.to_string()))
}

/// The companies the person blocks
///
/// Every company the signed-in person blocks.
#[utoipa::path(
    operation_id = "blocked_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "The blocked companies, by id", body = Page<BlockedView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/blocked")]
pub async fn list_blocked(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let mut blocked = Vec::new();
    for id in state.store.blocked_companies(&who.person).await? {
        let name = state
            .store
            .company(&id)
            .await
            .map(|c| c.name)
            .unwrap_or_default();
        blocked.push(BlockedView {
            company_id: id.to_string(),
            name,
        });
    }
    let page = paging.page(blocked, |b| b.company_id.clone());
    Ok(page::respond(&request, &state.public_url, &page))
}

/// Block a company
///
/// Blocks a company: it gets nothing from this person, whatever the rules. Its
/// live grants end now (each with a `grant.revoked` webhook), and so do their
/// refresh tokens.
#[utoipa::path(
    operation_id = "blocked_put",
    tag = "people", params(("company_id" = super::schema::CompanyIdText, Path, description = "The company's id")), responses((status = 204, description = "Blocked; live grants to the company give nothing from now on"), (status = 404, description = "No company of that id", body = Problem, content_type = "application/problem+json"))
)]
#[put("/v1/me/blocked/{company_id}")]
pub async fn block(
    state: web::Data<AppState>,
    who: Authenticated,
    company_id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let company = parse_company(&company_id)?;
    broker::block::block(&state.store, &who.person, &company).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lift a block
///
/// Lifts a block. Grants ended by the block stay ended; the company must ask
/// again.
#[utoipa::path(
    operation_id = "blocked_delete",
    tag = "people", params(("company_id" = super::schema::CompanyIdText, Path, description = "The company's id")), responses((status = 204, description = "Unblocked"), (status = 404, description = "The company was not blocked", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/v1/me/blocked/{company_id}")]
pub async fn unblock(
    state: web::Data<AppState>,
    who: Authenticated,
    company_id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let company = parse_company(&company_id)?;
    if !broker::block::unblock(&state.store, &who.person, &company).await? {
        return Err(
            Problem::not_found(format!("{company} is not blocked")).with_field("company_id")
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The person's passkeys
///
/// The signed-in person's passkeys, oldest first, with their names and when
/// each was last used.
#[utoipa::path(
    operation_id = "passkeys_list",
    tag = "people", params(PageQuery), responses(
        (status = 200, description = "The passkeys, oldest first", body = Page<PasskeyView>),
        (status = 422, description = "`limit` or `cursor` is not valid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me/passkeys")]
pub async fn list_passkeys(
    state: web::Data<AppState>,
    who: Authenticated,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let paging = query.check()?;
    let passkeys: Vec<PasskeyView> = state
        .store
        .passkeys(&who.person)
        .await?
        .into_iter()
        .map(PasskeyView::from)
        .collect();
    let page = paging.page(passkeys, |p| page::oldest_first(p.created_at, &p.id));
    Ok(page::respond(&request, &state.public_url, &page))
}

/// A new name for a passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Work laptop"}))]
pub struct RenamePasskey {
    /// 1 to 64 characters, no control characters; spaces around are dropped.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

/// Rename a passkey
///
/// Gives a passkey a name the person recognises (1 to 64 characters).
#[utoipa::path(
    operation_id = "passkeys_rename",
    tag = "people", params(("id" = String, Path)), request_body = RenamePasskey, responses((status = 204, description = "Renamed"), (status = 404, description = "No passkey of that id for this person", body = Problem, content_type = "application/problem+json"))
)]
#[patch("/v1/me/passkeys/{id}")]
pub async fn rename_passkey(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
    body: web::Json<RenamePasskey>,
) -> Result<HttpResponse, Problem> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Problem::invalid(
            "name",
            "a passkey name is 1 to 64 characters",
        ));
    }
    state.store.rename_passkey(&who.person, &id, name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove a passkey
///
/// Removes a passkey, never the last way in; the session must have signed in
/// within the last 5 minutes.
#[utoipa::path(
    operation_id = "passkeys_delete",
    tag = "people", params(("id" = String, Path)), responses((status = 204, description = "Removed"), (status = 403, description = "Sign in again first (the session is over 5 minutes old)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "It is the last way in", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/v1/me/passkeys/{id}")]
pub async fn remove_passkey(
    state: web::Data<AppState>,
    who: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    broker::ways_in::remove_passkey(&state.store, crate::routes::session::signed_in(&who), &id)
        .await
        .map_err(Problem::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "recovery_codes": [
        "8SNG-YCPK-WCAW-PXNK",
        "W9VG-SDQG-MRRX-XS3X",
        "MAHQ-EC5F-FV7N-Q26T",
        "G30J-86NT-FCPH-H78N",
        "1P05-6S2C-86CH-EJ1S",
        "ZF29-QNJ0-WSPD-51BS",
        "67D6-6EWC-31BM-23M4",
        "FCHZ-S584-FB07-ZY3N",
        "JSJ1-PWZ3-6V3V-9HQ7",
        "PCT7-NRQV-G6J9-SPGX"
    ]
}))]
pub struct RecoveryCodes {
    /// Ten one-time codes, shown only now; the old ones stop working.
    pub recovery_codes: Vec<String>,
}

/// Replace the recovery codes
///
/// Replaces the person's recovery codes with ten new ones, shown once; the
/// session must have signed in within the last 5 minutes.
#[utoipa::path(
    operation_id = "recovery_codes_create",
    tag = "people", responses((status = 201, description = "Ten new recovery codes, shown once; earlier codes no longer work", body = RecoveryCodes), (status = 403, description = "Sign in again first (the session is over 5 minutes old)", body = Problem, content_type = "application/problem+json"))
)]
#[post("/v1/me/recovery-codes")]
pub async fn new_recovery_codes(
    state: web::Data<AppState>,
    who: Authenticated,
) -> Result<HttpResponse, Problem> {
    let recovery_codes =
        broker::ways_in::new_recovery_codes(&state.store, crate::routes::session::signed_in(&who))
            .await
            .map_err(Problem::from)?;
    Ok(HttpResponse::Created().json(RecoveryCodes { recovery_codes }))
}

/// What the person confirms to erase their account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"confirm": "ada", "waive_earnings": false}))]
pub struct EraseAccount {
    /// Their handle, typed again.
    pub confirm: String,
    /// Leave behind what they earned and did not withdraw (otherwise an
    /// erasure with earnings left is refused).
    #[serde(default)]
    pub waive_earnings: bool,
}

impl EraseAccount {
    /// The body, each refusal naming its field (a missing or mistyped
    /// confirmation is `confirm`, not a bare "malformed").
    fn parse(body: &serde_json::Value) -> Result<EraseAccount, Problem> {
        let Some(fields) = body.as_object() else {
            return Err(Problem::invalid(
                "confirm",
                "send {\"confirm\": \"<your handle>\"}",
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["confirm", "waive_earnings"].contains(&k.as_str()))
        {
            return Err(Problem::invalid(
                unknown,
                format!("{unknown} is not a field of an erasure"),
            ));
        }
        let confirm = match fields.get("confirm") {
            Some(serde_json::Value::String(handle)) => handle.clone(),
            _ => {
                return Err(Problem::invalid(
                    "confirm",
                    "type your handle as confirm (a string) to erase this account",
                ));
            }
        };
        let waive_earnings = match fields.get("waive_earnings") {
            None => false,
            Some(serde_json::Value::Bool(waive)) => *waive,
            Some(_) => {
                return Err(Problem::invalid(
                    "waive_earnings",
                    "waive_earnings is true or false",
                ));
            }
        };
        Ok(EraseAccount {
            confirm,
            waive_earnings,
        })
    }
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "erased": true,
    "pseudonym": "p_9f2c4e1d7a3b",
    "grants_revoked": 2,
    "requests_declined": 1,
    "waived": [],
    "attributes_destroyed": 5,
    "sessions_ended": 1,
    "passkeys_removed": 1
}))]
pub struct Erased {
    /// Always true.
    pub erased: bool,
    /// The pseudonym the ledger knew the person by: it stays in the ledger's
    /// entries, which name no value.
    pub pseudonym: String,
    /// Grants revoked (each company told by `grant.revoked`).
    pub grants_revoked: u64,
    /// Pending requests declined (each asking company told by `request.declined`).
    pub requests_declined: u64,
    /// Earnings left behind, per currency.
    pub waived: Vec<crate::problem::Amount>,
    /// Attribute values destroyed with the person's data key.
    pub attributes_destroyed: u64,
    /// Sessions ended, this one included.
    pub sessions_ended: u64,
    /// Passkeys removed.
    pub passkeys_removed: u64,
}

/// Erase my account
///
/// Erases the signed-in person (GDPR Art. 17). The session must have signed
/// in within the last 5 minutes and `confirm` must be the person's handle.
/// Every live grant is revoked, every pending request declined; earnings
/// that were not withdrawn are left behind only with `waive_earnings`
/// (otherwise `409 earnings-remain`), and never while a payout is waiting
/// (`409 payout-pending`). The person's data key is deleted, which destroys
/// every attribute value and payout destination, with their sessions,
/// passkeys, password, recovery codes, rules, blocks and notification
/// address. The ledger keeps its entries (the pseudonym, names and amounts,
/// never a value) and ends with `person_erased`. The session cookie is
/// cleared.
#[utoipa::path(
    operation_id = "me_delete",
    tag = "people", request_body = EraseAccount, responses((status = 200, description = "Erased", body = Erased), (status = 422, description = "The handle typed is not this account's", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not signed in (or the account was erased already)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Sign in again first (the session is over 5 minutes old)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Earnings remain that were not waived, or a payout is waiting", body = Problem, content_type = "application/problem+json"))
)]
#[delete("/v1/me")]
pub async fn erase_account(
    state: web::Data<AppState>,
    who: Authenticated,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Problem> {
    let body = EraseAccount::parse(&body)?;
    let erasure = broker::erase::erase(
        &state.store,
        crate::routes::session::signed_in(&who),
        broker::erase::Confirmation {
            handle: &body.confirm,
            waive_earnings: body.waive_earnings,
        },
    )
    .await
    .map_err(Problem::from)?;
    tracing::info!(
        pseudonym = %erasure.pseudonym,
        grants_revoked = erasure.grants_revoked,
        requests_declined = erasure.requests_declined,
        "a person erased their account"
    );
    Ok(HttpResponse::Ok()
        .cookie(crate::auth::cleared_session_cookie(state.is_https()))
        .json(Erased {
            erased: true,
            pseudonym: erasure.pseudonym,
            grants_revoked: erasure.grants_revoked,
            requests_declined: erasure.requests_declined,
            waived: erasure.waived.iter().map(Into::into).collect(),
            attributes_destroyed: erasure.attributes,
            sessions_ended: erasure.sessions,
            passkeys_removed: erasure.passkeys,
        }))
}

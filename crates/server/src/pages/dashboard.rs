//! The dashboard: the person's attributes in their three buckets, the
//! sharing default, rules in plain words, blocked companies, contact
//! preferences and passkeys. Each change is a CSRF-checked form POST that
//! redirects back (303) with a short status, or re-renders the page with the
//! error next to the field.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use broker::overview::Overview;
use broker::rules::Direction;
use consent_policy::{
    AttributeKey, AttributeMatch, Bucket, CompanyId, CompanyMatch, ContactChannel,
    ContactPreferences, Currency, Effect, GrantDuration, MICROS_PER_UNIT, Money, Purpose,
    PurposeMatch, Rule, SharingDefault, ValueShape,
};
use serde_json::Value;
use store::{StoredAttribute, StoredPasskeyRow, StoredRule};

use super::account::{FieldError, StatusQuery};
use super::{Fields, Nav, PageError, PageSession, SignedInForm, html, see_other, time_words};
use crate::problem::Problem;
use crate::startup::AppState;

/// Registers the dashboard and its forms.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(dashboard)
        .service(save_attribute)
        .service(move_attribute)
        .service(delete_attribute)
        .service(save_default)
        .service(save_contact)
        .service(add_rule)
        .service(delete_rule)
        .service(move_rule)
        .service(block)
        .service(unblock)
        .service(rename_passkey)
        .service(remove_passkey);
}

/// One attribute as the dashboard shows it.
struct AttributeRow {
    key: String,
    label: String,
    shown: String,
    editable: String,
    hint: &'static str,
    moves: Vec<(&'static str, &'static str)>,
}

/// One bucket of the Venn diagram.
struct Region {
    bucket: &'static str,
    title: &'static str,
    blurb: &'static str,
    attributes: Vec<AttributeRow>,
}

/// A choice in a list of options.
struct Choice {
    value: String,
    label: String,
    detail: String,
    checked: bool,
}

struct RuleRow {
    id: String,
    description: String,
    effect: &'static str,
    first: bool,
    last: bool,
}

struct BlockedRow {
    id: String,
    name: String,
}

struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

/// The dashboard page.
#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    handle: String,
    csrf: String,
    status: Option<&'static str>,
    recovered: bool,
    error: Option<FieldError>,
    error_form: &'static str,
    error_key: String,
    regions: Vec<Region>,
    typed_key: String,
    typed_value: String,
    catalogue: Vec<Choice>,
    defaults: Vec<Choice>,
    rules: Vec<RuleRow>,
    rule_keys: Vec<Choice>,
    purposes: Vec<Choice>,
    currencies: Vec<String>,
    blocked: Vec<BlockedRow>,
    channels: Vec<Choice>,
    hours_from: String,
    hours_to: String,
    time_zone: String,
    max_per_week: String,
    passkeys: Vec<PasskeyRow>,
    has_password: bool,
    recovery_codes_left: u64,
}

impl DashboardPage {
    /// The error for `field` of `form`, if the last submission failed there.
    fn err(&self, form: &str, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| self.error_form == form && e.field == field)
            .map(|e| e.message.as_str())
    }

    /// The error for the form of attribute `key`.
    fn err_key(&self, key: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|_| self.error_form == "attribute" && self.error_key == key)
            .map(|e| e.message.as_str())
    }
}

fn bucket_title(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::Private => "Most private",
        Bucket::SemiPrivate => "Somewhat private",
        Bucket::Public => "Public",
    }
}

fn status_message(slug: Option<&str>) -> Option<&'static str> {
    Some(match slug? {
        "signed-up" => "Welcome to apiome. Add what you want to share, and decide who gets it.",
        "attribute-saved" => "Attribute saved.",
        "attribute-moved" => "Attribute moved.",
        "attribute-deleted" => "Attribute deleted.",
        "default-saved" => "Default saved.",
        "contact-saved" => "Contact preferences saved.",
        "rule-added" => "Rule saved.",
        "rule-deleted" => "Rule deleted.",
        "rule-moved" => "Rule moved.",
        "company-blocked" => "Company blocked.",
        "company-unblocked" => "Company unblocked.",
        "passkey-added" => "Passkey added.",
        "passkey-renamed" => "Passkey renamed.",
        "passkey-removed" => "Passkey removed.",
        "signed-out-others" => "Every other session is signed out.",
        "recovered" => "Signed in with a recovery code. Add a new passkey now.",
        _ => return None,
    })
}

/// A value as text in an edit field: strings as they are, lists joined by
/// commas, anything else as JSON.
fn editable(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn shape_hint(shape: ValueShape) -> &'static str {
    match shape {
        ValueShape::Email => "an email address",
        ValueShape::Phone => "a phone number, e.g. +44 20 7946 0000",
        ValueShape::Date => "a date, YYYY-MM-DD",
        ValueShape::Text => "a short text",
        ValueShape::TextList => "a list, separated by commas",
        ValueShape::PostalAddress => {
            r#"JSON: {"lines": ["1 High St"], "city": "Leeds", "country": "GB"}"#
        }
        ValueShape::Integer => "a whole number",
        ValueShape::Json => "any JSON value",
    }
}

/// Reads a typed value into the JSON shape its key expects.
fn parse_value(shape: ValueShape, text: &str) -> Result<Value, String> {
    match shape {
        ValueShape::Email | ValueShape::Phone | ValueShape::Date | ValueShape::Text => {
            Ok(Value::String(text.to_owned()))
        }
        ValueShape::TextList => Ok(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        ValueShape::Integer => text
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| "a whole number from 0 to 1000000".to_owned()),
        ValueShape::PostalAddress | ValueShape::Json => {
            serde_json::from_str(text).map_err(|e| format!("this is not JSON: {e}"))
        }
    }
}

fn parse_bucket(text: &str) -> Option<Bucket> {
    Bucket::ALL.into_iter().find(|b| b.as_str() == text)
}

/// What a failed form gives back to the page.
#[derive(Default)]
struct Failure {
    form: &'static str,
    key: String,
    error: Option<FieldError>,
    typed_key: String,
    typed_value: String,
}

impl Failure {
    fn new(form: &'static str, error: FieldError) -> Failure {
        Failure {
            form,
            error: Some(error),
            ..Failure::default()
        }
    }
}

async fn render(
    state: &AppState,
    who: &PageSession,
    status: Option<&'static str>,
    recovered: bool,
    failure: Failure,
    http_status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let overview = broker::overview::load(&state.store, &who.person)
        .await
        .map_err(Problem::from)?;
    let nav = Nav::load(state, who, "dashboard").await?;
    let mut page = page(nav, who.csrf_token(), overview, failure);
    page.status = status;
    page.recovered = recovered;
    html(http_status, &page)
}

/// The page for the person's account, with the last form's failure.
fn page(nav: Nav, csrf: String, overview: Overview, failure: Failure) -> DashboardPage {
    let contact = broker::preferences::contact_of(&overview.person);
    let catalogue = catalogue();
    DashboardPage {
        nav,
        handle: overview.person.handle.to_string(),
        csrf,
        status: None,
        recovered: false,
        error: failure.error,
        error_form: failure.form,
        error_key: failure.key,
        regions: regions(&overview.attributes),
        typed_key: failure.typed_key,
        typed_value: failure.typed_value,
        rule_keys: rule_keys(&catalogue, &overview.attributes),
        catalogue,
        defaults: defaults(overview.person.sharing_default),
        rules: rules(overview.rules),
        purposes: purposes(),
        currencies: Currency::ALL.iter().map(|c| c.code().to_owned()).collect(),
        blocked: blocked(overview.blocked),
        channels: channels(&contact),
        hours_from: contact
            .hours_from
            .map(|t| t.to_string())
            .unwrap_or_default(),
        hours_to: contact.hours_to.map(|t| t.to_string()).unwrap_or_default(),
        time_zone: contact.time_zone.name().to_owned(),
        max_per_week: contact
            .max_per_week
            .map(|n| n.to_string())
            .unwrap_or_default(),
        passkeys: passkeys(overview.passkeys),
        has_password: overview.has_password,
        recovery_codes_left: overview.recovery_codes_left,
    }
}

/// The three buckets, public first, each with its attributes.
fn regions(attributes: &[StoredAttribute]) -> Vec<Region> {
    let mut regions = Bucket::ALL.map(|bucket| Region {
        bucket: bucket.as_str(),
        title: bucket_title(bucket),
        blurb: match bucket {
            Bucket::Private => "Never leaves apiome, whatever a rule says.",
            Bucket::SemiPrivate => "Leaves only when you agree, or a rule of yours does.",
            Bucket::Public => "May leave without asking, unless your default is share nothing.",
        },
        attributes: Vec::new(),
    });
    for attribute in attributes {
        let index = Bucket::ALL
            .iter()
            .position(|b| *b == attribute.bucket)
            .unwrap_or(0);
        regions[index].attributes.push(attribute_row(attribute));
    }
    let [private, semi, public] = regions;
    vec![public, semi, private]
}

fn attribute_row(attribute: &StoredAttribute) -> AttributeRow {
    AttributeRow {
        key: attribute.key.to_string(),
        label: attribute.key.label().to_owned(),
        shown: editable(&attribute.value),
        editable: editable(&attribute.value),
        hint: shape_hint(attribute.key.shape()),
        moves: Bucket::ALL
            .into_iter()
            .filter(|b| *b != attribute.bucket)
            .map(|b| (b.as_str(), bucket_title(b)))
            .collect(),
    }
}

/// Every catalogue key, to add an attribute.
fn catalogue() -> Vec<Choice> {
    AttributeKey::catalogue()
        .map(|key| Choice {
            value: key.to_string(),
            label: key.label().to_owned(),
            detail: format!(
                "{}; usually {}",
                shape_hint(key.shape()),
                bucket_title(key.default_bucket()).to_lowercase()
            ),
            checked: false,
        })
        .collect()
}

/// The keys a rule may name: the catalogue's and the person's own.
fn rule_keys(catalogue: &[Choice], attributes: &[StoredAttribute]) -> Vec<Choice> {
    let plain = |value: String, label: String| Choice {
        value,
        label,
        detail: String::new(),
        checked: false,
    };
    catalogue
        .iter()
        .map(|c| plain(c.value.clone(), c.label.clone()))
        .chain(
            attributes
                .iter()
                .filter(|a| a.key.is_custom())
                .map(|a| plain(a.key.to_string(), a.key.label().to_owned())),
        )
        .collect()
}

fn defaults(current: SharingDefault) -> Vec<Choice> {
    SharingDefault::ALL
        .into_iter()
        .map(|d| Choice {
            value: d.as_str().to_owned(),
            label: match d {
                SharingDefault::ShareEverything => "Share everything".to_owned(),
                SharingDefault::AskMe => "Ask me".to_owned(),
                SharingDefault::ShareNothing => "Share nothing".to_owned(),
            },
            detail: match d {
                SharingDefault::ShareEverything => {
                    "public and somewhat private data leave without asking"
                }
                SharingDefault::AskMe => "public data leaves; I decide about somewhat private data",
                SharingDefault::ShareNothing => "nothing leaves unless a rule or I say so",
            }
            .to_owned(),
            checked: d == current,
        })
        .collect()
}

fn rules(rules: Vec<StoredRule>) -> Vec<RuleRow> {
    let count = rules.len();
    rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| RuleRow {
            description: r.rule.describe(),
            effect: match r.rule.effect {
                Effect::Allow => "allow",
                Effect::Ask => "ask",
                Effect::Deny => "deny",
            },
            id: r.id,
            first: i == 0,
            last: i + 1 == count,
        })
        .collect()
}

fn purposes() -> Vec<Choice> {
    Purpose::ALL
        .into_iter()
        .map(|p| Choice {
            value: p.as_str().to_owned(),
            label: p.label().to_owned(),
            detail: p.plain_words().to_owned(),
            checked: false,
        })
        .collect()
}

fn blocked(blocked: Vec<(CompanyId, Option<String>)>) -> Vec<BlockedRow> {
    blocked
        .into_iter()
        .map(|(id, name)| BlockedRow {
            id: id.to_string(),
            name: name.unwrap_or_default(),
        })
        .collect()
}

fn channels(contact: &ContactPreferences) -> Vec<Choice> {
    ContactChannel::ALL
        .into_iter()
        .map(|c| Choice {
            value: c.as_str().to_owned(),
            label: match c {
                ContactChannel::Sms => "Text message (SMS)",
                ContactChannel::App => "In-app message",
                ContactChannel::Post => "Post",
                ContactChannel::Phone => "Phone call",
                ContactChannel::Email => "Email",
            }
            .to_owned(),
            detail: String::new(),
            checked: contact.channels.contains(&c),
        })
        .collect()
}

fn passkeys(passkeys: Vec<StoredPasskeyRow>) -> Vec<PasskeyRow> {
    passkeys
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.credential_id,
            name: p.name,
            created: time_words(p.created_at),
            last_used: p
                .last_used_at
                .map(time_words)
                .unwrap_or_else(|| "never".to_owned()),
        })
        .collect()
}

/// The dashboard (signed in only; otherwise a redirect to `/signin`).
#[get("/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    who: PageSession,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse, PageError> {
    let slug = query.status.as_deref();
    render(
        &state,
        &who,
        status_message(slug),
        slug == Some("recovered"),
        Failure::default(),
        StatusCode::OK,
    )
    .await
}

/// Back to the dashboard with a status.
fn done(status: &str, anchor: &str) -> Result<HttpResponse, PageError> {
    Ok(see_other(&format!("/dashboard?status={status}#{anchor}")))
}

/// The page again, with the error next to its field.
async fn failed(
    state: &AppState,
    who: &PageSession,
    failure: Failure,
) -> Result<HttpResponse, PageError> {
    render(
        state,
        who,
        None,
        false,
        failure,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A refusal of another page module's form on the dashboard, shown next
/// to `field` of `form` (see [`problem_on`]).
pub(super) async fn refused(
    state: &AppState,
    who: &PageSession,
    form: &'static str,
    fallback: &str,
    problem: Problem,
) -> Result<HttpResponse, PageError> {
    problem_on(state, who, form, fallback, problem).await
}

/// A store or validation problem that belongs next to a field of `form`;
/// anything else (the database is down) is an error page.
async fn problem_on(
    state: &AppState,
    who: &PageSession,
    form: &'static str,
    fallback: &str,
    problem: Problem,
) -> Result<HttpResponse, PageError> {
    if problem.status >= 500 {
        return Err(problem.into());
    }
    failed(
        state,
        who,
        Failure::new(form, FieldError::from_problem(&problem, fallback)),
    )
    .await
}

/// Adds an attribute or changes its value (and bucket).
#[post("/dashboard/attributes")]
pub async fn save_attribute(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let typed = TypedAttribute::of(&fields);
    let (key, value, bucket) = match typed.parse() {
        Ok(parsed) => parsed,
        Err((field, message)) => return failed(&state, &who, typed.failure(field, message)).await,
    };
    let saved = match bucket {
        Some(bucket) => {
            broker::attributes::set_in(&state.store, &who.person, &key, &value, bucket).await
        }
        None => broker::attributes::set(&state.store, &who.person, &key, &value).await,
    };
    match saved {
        Ok(_) => done("attribute-saved", "buckets"),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status >= 500 {
                return Err(problem.into());
            }
            let field = problem.field.clone().unwrap_or_else(|| "value".to_owned());
            failed(&state, &who, typed.failure(&field, problem.detail)).await
        }
    }
}

/// An attribute as typed into the add form or an edit form.
struct TypedAttribute {
    key: String,
    value: String,
    bucket: Option<String>,
    editing: bool,
}

impl TypedAttribute {
    fn of(fields: &Fields) -> TypedAttribute {
        TypedAttribute {
            key: fields.get("key").unwrap_or_default().to_owned(),
            value: fields.get("value").unwrap_or_default().to_owned(),
            bucket: fields.get("bucket").map(str::to_owned),
            editing: fields.get("editing").is_some(),
        }
    }

    /// The key, the value in its key's shape, and the bucket if one was
    /// picked; or the field at fault and why.
    fn parse(&self) -> Result<(AttributeKey, Value, Option<Bucket>), (&'static str, String)> {
        let key = AttributeKey::parse(&self.key).map_err(|e| ("key", e.to_string()))?;
        if self.value.is_empty() {
            return Err((
                "value",
                format!("type a value: {}", shape_hint(key.shape())),
            ));
        }
        let value = parse_value(key.shape(), &self.value).map_err(|message| ("value", message))?;
        let bucket = match self.bucket.as_deref().map(parse_bucket) {
            Some(Some(bucket)) => Some(bucket),
            Some(None) => return Err(("bucket", "pick a bucket".to_owned())),
            None => None,
        };
        Ok((key, value, bucket))
    }

    /// The form again, with the error at `field`; the add form keeps what
    /// was typed.
    fn failure(&self, field: &str, message: String) -> Failure {
        let form = if self.editing {
            "attribute"
        } else {
            "add-attribute"
        };
        let mut failure = Failure::new(form, FieldError::new(field, message));
        failure.key = self.key.clone();
        if !self.editing {
            failure.typed_key = self.key.clone();
            failure.typed_value = self.value.clone();
        }
        failure
    }
}

/// Moves an attribute to another bucket, its value unchanged.
#[post("/dashboard/attributes/move")]
pub async fn move_attribute(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let key = AttributeKey::parse(fields.get("key").unwrap_or_default())
        .map_err(|e| Problem::invalid("key", e.to_string()))?;
    let bucket = fields
        .get("bucket")
        .and_then(parse_bucket)
        .ok_or_else(|| Problem::invalid("bucket", "pick private, semi_private or public"))?;
    broker::attributes::move_to(&state.store, &who.person, &key, bucket)
        .await
        .map_err(Problem::from)?;
    done("attribute-moved", "buckets")
}

/// Deletes an attribute.
#[post("/dashboard/attributes/delete")]
pub async fn delete_attribute(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let key = AttributeKey::parse(fields.get("key").unwrap_or_default())
        .map_err(|e| Problem::invalid("key", e.to_string()))?;
    broker::attributes::delete(&state.store, &who.person, &key)
        .await
        .map_err(Problem::from)?;
    done("attribute-deleted", "buckets")
}

/// Picks the sharing default.
#[post("/dashboard/default")]
pub async fn save_default(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let Some(default) = SharingDefault::ALL
        .into_iter()
        .find(|d| Some(d.as_str()) == fields.get("default"))
    else {
        let error = FieldError::new("default", "pick one of the three");
        return failed(&state, &who, Failure::new("default", error)).await;
    };
    broker::preferences::set_default(&state.store, &who.person, default)
        .await
        .map_err(Problem::from)?;
    done("default-saved", "default")
}

/// Sets the contact preferences.
#[post("/dashboard/contact")]
pub async fn save_contact(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let max_per_week = match fields.get("max_per_week").map(str::parse::<u32>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            let error = FieldError::new("max_per_week", "a whole number from 0 to 100");
            return failed(&state, &who, Failure::new("contact", error)).await;
        }
    };
    let channels = fields.all("channel");
    let contact = match ContactPreferences::parse(
        &channels,
        fields.get("hours_from"),
        fields.get("hours_to"),
        fields.get("time_zone"),
        max_per_week,
    ) {
        Ok(contact) => contact,
        Err(e) => {
            let error = FieldError::new(e.field, e.detail);
            return failed(&state, &who, Failure::new("contact", error)).await;
        }
    };
    broker::preferences::set_contact(&state.store, &who.person, contact)
        .await
        .map_err(Problem::from)?;
    done("contact-saved", "contact")
}

/// Reads an amount such as `0.05` into micro-units.
fn parse_amount(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    if fraction.len() > 6 || whole.len() > 12 {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = format!("{fraction:0<6}").parse().ok()?;
    whole.checked_mul(MICROS_PER_UNIT)?.checked_add(fraction)
}

/// The rule the plain-words form describes, or the field at fault.
fn rule_from(fields: &Fields) -> Result<Rule, FieldError> {
    let company = match fields.get("who") {
        Some("company") => {
            let id = fields
                .get("company_id")
                .ok_or_else(|| FieldError::new("company_id", "type the company's id"))?;
            CompanyMatch::Only(
                CompanyId::parse(id).map_err(|e| FieldError::new("company_id", e.to_string()))?,
            )
        }
        _ => CompanyMatch::Any,
    };
    let attributes = match fields.get("what") {
        Some("bucket") => AttributeMatch::Bucket(
            fields
                .get("bucket")
                .and_then(parse_bucket)
                .ok_or_else(|| FieldError::new("bucket", "pick a bucket"))?,
        ),
        Some("keys") => {
            let mut keys = Vec::new();
            for key in fields.all("key") {
                keys.push(
                    AttributeKey::parse(key).map_err(|e| FieldError::new("keys", e.to_string()))?,
                );
            }
            if keys.is_empty() {
                return Err(FieldError::new("keys", "tick at least one attribute"));
            }
            AttributeMatch::keys(keys)
        }
        _ => AttributeMatch::Any,
    };
    let mut purposes = Vec::new();
    for purpose in fields.all("purpose") {
        purposes
            .push(Purpose::parse(purpose).map_err(|e| FieldError::new("purposes", e.to_string()))?);
    }
    let purposes = if purposes.is_empty() {
        PurposeMatch::Any
    } else {
        PurposeMatch::one_of(purposes)
    };
    let effect = match fields.get("effect") {
        Some("allow") => Effect::Allow,
        Some("ask") => Effect::Ask,
        Some("deny") => Effect::Deny,
        _ => return Err(FieldError::new("effect", "pick allow, ask me or refuse")),
    };
    let mut rule = Rule::new(company, purposes, attributes, effect);
    if let Some(amount) = fields.get("min_amount") {
        let micros = parse_amount(amount).ok_or_else(|| {
            FieldError::new(
                "min_amount",
                "an amount such as 0.05, with at most 6 decimals",
            )
        })?;
        let currency = Currency::parse(fields.get("currency").unwrap_or_default())
            .map_err(|e| FieldError::new("currency", e.to_string()))?;
        rule = rule.with_min_offer(Money::new(micros, currency));
    }
    if let Some(count) = fields.get("max_for") {
        let unit = match fields.get("max_unit") {
            Some("days") => "D",
            Some("weeks") => "W",
            Some("months") => "M",
            Some("years") => "Y",
            _ => {
                return Err(FieldError::new(
                    "max_unit",
                    "pick days, weeks, months or years",
                ));
            }
        };
        if !count.chars().all(|c| c.is_ascii_digit()) || count.len() > 6 {
            return Err(FieldError::new("max_for", "a whole number"));
        }
        let duration = GrantDuration::parse(&format!("P{count}{unit}"))
            .map_err(|e| FieldError::new("max_for", e.to_string()))?;
        rule = rule.with_max_duration(duration);
    }
    Ok(rule)
}

/// Adds a rule, written in plain words, at the end of the list.
#[post("/dashboard/rules")]
pub async fn add_rule(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let rule = match rule_from(&fields) {
        Ok(rule) => rule,
        Err(error) => return failed(&state, &who, Failure::new("rule", error)).await,
    };
    match broker::rules::add(&state.store, &who.person, &rule).await {
        Ok(_) => done("rule-added", "rules"),
        Err(e) => problem_on(&state, &who, "rule", "effect", e.into()).await,
    }
}

/// Deletes a rule.
#[post("/dashboard/rules/delete")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let id = fields.get("id").unwrap_or_default();
    broker::rules::delete(&state.store, &who.person, id)
        .await
        .map_err(Problem::from)?;
    done("rule-deleted", "rules")
}

/// Moves a rule one place up or down.
#[post("/dashboard/rules/move")]
pub async fn move_rule(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let direction = match fields.get("direction") {
        Some("up") => Direction::Up,
        Some("down") => Direction::Down,
        _ => return Err(Problem::invalid("direction", "up or down").into()),
    };
    let id = fields.get("id").unwrap_or_default();
    broker::rules::move_one(&state.store, &who.person, id, direction)
        .await
        .map_err(Problem::from)?;
    done("rule-moved", "rules")
}

/// Blocks a company by its id.
#[post("/dashboard/blocked")]
pub async fn block(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let company = match CompanyId::parse(fields.get("company_id").unwrap_or_default()) {
        Ok(company) => company,
        Err(e) => {
            let error = FieldError::new("company_id", e.to_string());
            return failed(&state, &who, Failure::new("block", error)).await;
        }
    };
    match broker::block::block(&state.store, &who.person, &company).await {
        Ok(_) => done("company-blocked", "blocked"),
        Err(e) => problem_on(&state, &who, "block", "company_id", e.into()).await,
    }
}

/// Lifts a block.
#[post("/dashboard/blocked/remove")]
pub async fn unblock(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let company = CompanyId::parse(fields.get("company_id").unwrap_or_default())
        .map_err(|e| Problem::invalid("company_id", e.to_string()))?;
    broker::block::unblock(&state.store, &who.person, &company)
        .await
        .map_err(Problem::from)?;
    done("company-unblocked", "blocked")
}

/// Renames a passkey.
#[post("/dashboard/passkeys/rename")]
pub async fn rename_passkey(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let id = fields.get("id").unwrap_or_default();
    let name = fields.get("name").unwrap_or_default();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        let mut failure = Failure::new(
            "passkey",
            FieldError::new("name", "a name of 1 to 64 characters"),
        );
        failure.key = id.to_owned();
        return failed(&state, &who, failure).await;
    }
    state.store.rename_passkey(&who.person, id, name).await?;
    done("passkey-renamed", "passkeys")
}

/// Removes a passkey, never the last way in.
#[post("/dashboard/passkeys/remove")]
pub async fn remove_passkey(
    state: web::Data<AppState>,
    form: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm { who, fields } = form;
    let signed_in = broker::ways_in::SignedIn {
        person: &who.person,
        session_token: &who.session_token,
    };
    let id = fields.get("id").unwrap_or_default();
    match broker::ways_in::remove_passkey(&state.store, signed_in, id).await {
        Ok(()) => done("passkey-removed", "passkeys"),
        Err(e) => {
            let problem = Problem::from(e);
            problem_on(&state, &who, "passkeys", "passkeys", problem).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_micro_units() {
        assert_eq!(parse_amount("0.05"), Some(50_000));
        assert_eq!(parse_amount("1"), Some(1_000_000));
        assert_eq!(parse_amount(".5"), Some(500_000));
        assert_eq!(parse_amount("0.000001"), Some(1));
        assert_eq!(parse_amount("0.0000001"), None);
        assert_eq!(parse_amount("-1"), None);
        assert_eq!(parse_amount("1e3"), None);
        assert_eq!(parse_amount("."), None);
    }

    #[test]
    fn typed_values_take_their_key_shape() {
        assert_eq!(
            parse_value(ValueShape::TextList, "music, hiking ,"),
            Ok(serde_json::json!(["music", "hiking"]))
        );
        assert_eq!(
            parse_value(ValueShape::Integer, "3"),
            Ok(serde_json::json!(3))
        );
        assert!(parse_value(ValueShape::Integer, "three").is_err());
        assert_eq!(
            editable(&serde_json::json!(["music", "hiking"])),
            "music, hiking"
        );
    }
}
